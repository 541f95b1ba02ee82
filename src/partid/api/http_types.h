// api: a request and a response as the API logic sees them, independent of the
// HTTP library, so a request forwarded over the peer transport is served by
// exactly the same code as one read from a socket.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "partid/api/web_error.h"

namespace partid::api {

struct ApiRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query
  std::string body;
  std::string authorization;  // the Authorization header (admin routes)
};

struct ApiResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  int retry_after_s = 0;

  static ApiResponse json(int status, std::string body);
  static ApiResponse error(const WebError& e);
};

// Where a request has been: forwarding never revisits a node and stops at a
// hop limit, so a request cannot loop while nodes disagree about leadership.
struct Hop {
  uint32_t hops = 0;
  std::vector<std::string> tried;
  // A forwarded request: when its asker stops waiting (api/forward_deadline.h);
  // 0 when the client asked this node directly.
  uint64_t deadline_unix_ms = 0;
};

}  // namespace partid::api
