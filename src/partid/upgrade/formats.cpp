#include "partid/upgrade/formats.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace partid::upgrade {

uint32_t published_format(uint32_t build, uint32_t preserve) {
  return preserve == 0 ? build : std::min(build, preserve);
}

uint32_t writable_format(const FormatView& view) {
  return std::min({view.active, view.lowest_known, published_format(view.build, view.preserve)});
}

std::optional<std::string> start_refusal(uint32_t build, uint32_t preserve, uint32_t active) {
  if (active > build) {
    return fmt::format(
        "the cluster's active data format is {}, and this build reads and writes formats up to "
        "{}: its data may already be in a format this build would misread; run a newer build",
        active, build);
  }
  if (preserve != 0 && active > preserve) {
    return fmt::format(
        "--preserve-format {}: the cluster's active data format is {} already, so a rollback "
        "to a build of format {} is no longer possible; start without it",
        preserve, active, preserve);
  }
  return std::nullopt;
}

std::optional<uint32_t> raise_target(const FormatView& view) {
  const uint32_t target = std::min(view.lowest_live, published_format(view.build, view.preserve));
  return target > view.active ? std::optional<uint32_t>(target) : std::nullopt;
}

std::string encode_hold(const Hold& hold) {
  return fmt::format("{} {}", hold.format, hold.renewed_ms);
}

namespace {
// A whole string as one unsigned decimal number, or nothing.
template <class T>
std::optional<T> parse_whole(std::string_view text) {
  T out{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return out;
}
}  // namespace

std::optional<Hold> decode_hold(std::string_view value) {
  const auto space = value.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const auto format = parse_whole<uint32_t>(value.substr(0, space));
  const auto renewed = parse_whole<int64_t>(value.substr(space + 1));
  if (!format || !renewed) return std::nullopt;
  return Hold{*format, *renewed};
}

std::optional<uint32_t> decode_format(std::string_view value) {
  return parse_whole<uint32_t>(value);
}

uint32_t held_at(const std::vector<Hold>& holds, int64_t now_ms) {
  uint32_t out = UINT32_MAX;
  for (const auto& h : holds) {
    if (now_ms - h.renewed_ms <= kHoldLifetimeMs) out = std::min(out, h.format);
  }
  return out;
}

}  // namespace partid::upgrade
