#include "parti/coord/nats_access.h"

#include "parti/coord/connection.h"

#include <string_view>

namespace parti::coord {
namespace {

// One URL's authority ("user:pass@host:4222" in nats://user:pass@host:4222/),
// as [begin, end) in `url`.
std::pair<size_t, size_t> authority(std::string_view url) {
  const size_t scheme = url.find("://");
  size_t begin = scheme == std::string_view::npos ? 0 : scheme + 3;
  while (begin < url.size() && url[begin] == ' ') ++begin;  // "a, b"
  const size_t path = url.find('/', begin);
  return {begin, path == std::string_view::npos ? url.size() : path};
}

// Where the user-info part of one URL lies ("user:pass"), as [begin, end) in
// `url`; begin == end when it has none.
std::pair<size_t, size_t> user_info(std::string_view url) {
  const auto [begin, end] = authority(url);
  const size_t at = url.substr(begin, end - begin).rfind('@');
  return {begin, at == std::string_view::npos ? begin : begin + at};
}

template <typename Each>
void for_each_url(const std::string& urls, Each each) {
  size_t start = 0;
  while (start <= urls.size()) {
    const size_t comma = urls.find(',', start);
    const size_t end = comma == std::string::npos ? urls.size() : comma;
    each(start, std::string_view(urls).substr(start, end - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
}

}  // namespace

std::string access_problem(const NatsAccess& a) {
  if (!a.token.empty() && !a.user.empty()) return "give a NATS token or a user, not both";
  if (!a.password.empty() && a.user.empty()) return "a NATS password needs a user";
  return {};
}

void apply_access(const NatsAccess& a, natsOptions* o) {
  if (const std::string why = access_problem(a); !why.empty()) throw CoordError(why);
  if (!a.user.empty()) {
    check_nats(natsOptions_SetUserInfo(o, a.user.c_str(), a.password.c_str()), "SetUserInfo");
  }
  if (!a.token.empty()) check_nats(natsOptions_SetToken(o, a.token.c_str()), "SetToken");
}

std::vector<std::string> split_urls(const std::string& urls) {
  std::vector<std::string> out;
  size_t from = 0;
  while (from <= urls.size()) {
    size_t comma = urls.find(',', from);
    if (comma == std::string::npos) comma = urls.size();
    const std::string url = urls.substr(from, comma - from);
    const auto first = url.find_first_not_of(" \t");
    const auto last = url.find_last_not_of(" \t");
    if (first != std::string::npos) out.push_back(url.substr(first, last - first + 1));
    from = comma + 1;
  }
  if (out.empty()) out.push_back(urls);  // nats.c says what is wrong with it
  return out;
}

std::string redact_urls(const std::string& urls) {
  std::string out;
  size_t copied = 0;
  for_each_url(urls, [&](size_t offset, std::string_view url) {
    const auto [begin, end] = user_info(url);
    if (begin == end) return;
    const std::string_view info = url.substr(begin, end - begin);
    const size_t colon = info.find(':');
    // A user name alone is not a secret and says whose access it is.
    const std::string shown =
        colon == std::string_view::npos ? "***" : std::string(info.substr(0, colon)) + ":***";
    out.append(urls, copied, offset + begin - copied);
    out += shown;
    copied = offset + end;
  });
  out.append(urls, copied, std::string::npos);
  return out;
}

bool urls_carry_credentials(const std::string& urls) {
  bool found = false;
  for_each_url(urls, [&](size_t, std::string_view url) {
    const auto [begin, end] = user_info(url);
    found = found || begin != end;
  });
  return found;
}

}  // namespace parti::coord
