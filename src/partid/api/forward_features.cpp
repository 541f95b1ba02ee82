#include "partid/api/forward_features.h"

namespace partid::api {

uint32_t relied_on(const Route& route) {
  if (route.kind == Route::Kind::GetItems && route.query.contains("after")) {
    return kUnderstandsCursor;
  }
  return 0;
}

uint32_t relied_on(const std::string& method, const std::string& target) {
  // Only a query can carry what an older build ignores: most forwards (every
  // write, every single-item read) skip parsing the target a second time.
  if (target.find('?') == std::string::npos) return 0;
  auto matched = match_route(method, target);
  const Route* route = std::get_if<Route>(&matched);
  return route ? relied_on(*route) : 0;
}

std::optional<WebError> outdated_reply(uint32_t relied, uint32_t understands,
                                       const std::string& node) {
  const uint32_t missing = relied & ~understands;
  if (missing == 0) return std::nullopt;
  std::string what = "part of this request";
  if (missing & kUnderstandsCursor) {
    what = "?after= (it would answer the first page again, not the page after the cursor)";
  }
  return WebError::unavailable(
      "peer_outdated",
      node + " runs an older partid that ignores " + what + "; retry once it is upgraded", 5);
}

}  // namespace partid::api
