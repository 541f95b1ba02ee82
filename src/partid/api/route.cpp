#include "partid/api/route.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

namespace partid::api {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t at = s.find(sep, start);
    out.push_back(
        s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

std::variant<std::map<std::string, std::string>, WebError> parse_query(std::string_view q) {
  std::map<std::string, std::string> out;
  if (q.empty()) return out;
  for (auto pair : split(q, '&')) {
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    auto value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
    if (!key || !value) return WebError::bad_request("bad_query", "malformed query string");
    out[*key] = *value;
  }
  return out;
}

struct PathRule {
  std::vector<std::string_view> segments;  // "*" matches one key segment
  std::vector<std::pair<std::string_view, Route::Kind>> methods;
};

const std::vector<PathRule>& rules() {
  using K = Route::Kind;
  static const std::vector<PathRule> r = {
      {{}, {{"GET", K::Dashboard}}},
      {{"items"}, {{"POST", K::PutItem}, {"GET", K::Counts}}},
      {{"items", "batch"}, {{"POST", K::PutBatch}}},
      {{"items", "*"}, {{"GET", K::GetItems}, {"DELETE", K::DeleteItems}}},
      {{"items", "*", "*"}, {{"GET", K::GetItem}, {"DELETE", K::DeleteItem}}},
      {{"cluster", "topology"}, {{"GET", K::Topology}}},
      {{"cluster", "status"}, {{"GET", K::Status}}},
      {{"cluster", "resize"}, {{"GET", K::Resize}}},
      {{"cluster", "drain", "*"}, {{"POST", K::Drain}}},
      {{"cluster", "split"}, {{"POST", K::Split}}},
      {{"cluster", "merge"}, {{"POST", K::Merge}}},
      {{"split", "*", "import"}, {{"POST", K::SplitImport}}},
      {{"health"}, {{"GET", K::Health}}},
      {{"metrics"}, {{"GET", K::Metrics}}},
      {{"admin", "partitions", "*", "*"}, {{"POST", K::Admin}, {"GET", K::AdminRead}}},
      {{"txn"}, {{"POST", K::Txn}}},
      {{"txn", "*"}, {{"GET", K::TxnStatus}}},
      {{"txn", "*", "*"}, {{"POST", K::TxnStep}}},
  };
  return r;
}

}  // namespace

std::optional<uint64_t> parse_u64(const std::string& text) {
  if (text.empty() || text[0] < '0' || text[0] > '9') return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (*end != '\0' || errno == ERANGE) return std::nullopt;
  return v;
}

bool query_u64(const Route& route, const char* name, uint64_t* out) {
  auto it = route.query.find(name);
  if (it == route.query.end()) return true;
  const auto v = parse_u64(it->second);
  if (v) *out = *v;
  return v.has_value();
}

bool query_flag(const Route& route, const char* name, bool* out) {
  auto it = route.query.find(name);
  if (it == route.query.end()) return true;
  if (it->second != "true" && it->second != "1" && it->second != "false" && it->second != "0") {
    return false;
  }
  *out = it->second == "true" || it->second == "1";
  return true;
}

std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(plus_is_space && in[i] == '+' ? ' ' : in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return std::nullopt;
    const int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string percent_encode(std::string_view in) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

bool is_valid_utf8(std::string_view s) {
  // nlohmann's strict serializer is the UTF-8 validator we already depend on.
  try {
    (void)nlohmann::json(std::string(s)).dump();
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

std::variant<Route, WebError> match_route(std::string_view method, std::string_view target) {
  const size_t qmark = target.find('?');
  std::string_view path = target.substr(0, qmark);
  if (path.empty() || path[0] != '/')
    return WebError::bad_request("bad_target", "target must start with /");
  path.remove_prefix(1);
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  const auto raw = path.empty() ? std::vector<std::string_view>{} : split(path, '/');
  bool path_known = false;
  for (const PathRule& rule : rules()) {
    if (rule.segments.size() != raw.size()) continue;
    bool matched = true;
    for (size_t i = 0; i < raw.size() && matched; ++i) {
      matched = rule.segments[i] == "*" || rule.segments[i] == raw[i];
    }
    if (!matched) continue;
    path_known = true;
    auto m = std::find_if(rule.methods.begin(), rule.methods.end(),
                          [&](const auto& p) { return p.first == method; });
    if (m == rule.methods.end()) continue;  // "/items/batch" is also "/items/{pk}"
    Route route;
    route.kind = m->second;
    size_t key_index = 0;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (rule.segments[i] != "*") continue;
      auto decoded = percent_decode(raw[i]);
      if (!decoded)
        return WebError::bad_request("bad_path", "malformed percent-encoding in the path");
      if (!is_valid_utf8(*decoded))
        return WebError::bad_request("invalid_utf8", "keys must be valid UTF-8");
      (key_index++ == 0 ? route.partition_key : route.range_key) = std::move(*decoded);
    }
    auto query = parse_query(qmark == std::string_view::npos ? "" : target.substr(qmark + 1));
    if (auto* e = std::get_if<WebError>(&query)) return *e;
    route.query = std::move(std::get<0>(query));
    return route;
  }
  if (path_known) {
    return WebError::method_not_allowed(std::string(method) + " is not allowed on /" +
                                        std::string(path));
  }
  return WebError::not_found("no route for /" + std::string(path));
}

const char* route_name(Route::Kind k) {
  using K = Route::Kind;
  switch (k) {
    case K::PutItem:
      return "put_item";
    case K::PutBatch:
      return "put_batch";
    case K::GetItems:
      return "get_items";
    case K::GetItem:
      return "get_item";
    case K::DeleteItems:
      return "delete_items";
    case K::DeleteItem:
      return "delete_item";
    case K::Counts:
      return "counts";
    case K::Topology:
      return "topology";
    case K::Status:
      return "status";
    case K::Resize:
      return "resize";
    case K::Admin:
      return "admin";
    case K::AdminRead:
      return "admin_read";
    case K::Drain:
      return "drain";
    case K::Health:
      return "health";
    case K::Metrics:
      return "metrics";
    case K::Dashboard:
      return "dashboard";
    case K::Txn:
      return "txn";
    case K::TxnStatus:
      return "txn_status";
    case K::TxnStep:
      return "txn_step";
    case K::Split:
      return "split";
    case K::Merge:
      return "merge";
    case K::SplitImport:
      return "split_import";
  }
  return "unknown";
}

}  // namespace partid::api
