// api: what a forwarded request relies on that a node of an older build
// would silently ignore, so that a rolling upgrade never passes on a wrong
// answer. An older node reads a ForwardRequest's target like any other and
// drops what it does not know: asked for the page after a cursor (`?after=`,
// added after the peer protocol's first version), it would answer the first
// page again, and the client would take those items for the next ones. Each
// reply says what its node understands (ForwardReply.understands); the node
// that forwarded refuses a reply that lacks something the request relied on.
// Pure: unit tested.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "partid/api/route.h"
#include "partid/api/web_error.h"

namespace partid::api {

// Bits of ForwardReply.understands.
inline constexpr uint32_t kUnderstandsCursor = 1u << 0;  // GET /items/{pk}?after=
// Everything this build understands: what every reply it sends carries.
inline constexpr uint32_t kUnderstoodHere = kUnderstandsCursor;

// What of kUnderstoodHere answering `route` correctly depends on.
uint32_t relied_on(const Route& route);
// The same for a request still in its wire form; 0 for a target that does
// not match a route (the node asked answers that error itself).
uint32_t relied_on(const std::string& method, const std::string& target);

// The client's error when `node` answered a request relying on `relied`
// without understanding all of it; nullopt when the reply can be passed on.
std::optional<WebError> outdated_reply(uint32_t relied, uint32_t understands,
                                       const std::string& node);

}  // namespace partid::api
