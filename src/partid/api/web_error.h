// api: the one error shape every failure is answered with,
// {"error": {"code": "...", "message": "..."}}, and the HTTP status that goes
// with each kind of failure (DESIGN section 5).
#pragma once

#include <string>

namespace partid::api {

struct WebError {
  int status = 500;
  std::string code;
  std::string message;
  int retry_after_s = 0;  // > 0 adds a Retry-After header

  static WebError bad_request(std::string code, std::string message);
  static WebError not_found(std::string message);
  static WebError method_not_allowed(std::string message);
  static WebError too_large(std::string message);
  // 503 with Retry-After: the request may succeed if repeated.
  static WebError unavailable(std::string code, std::string message, int retry_after_s = 1);
  static WebError partition_locked(uint32_t partition);
  // 503 no_assignment: this node has no topology yet (it just started), so it
  // knows no partition. Asked again in a moment, it will.
  static WebError no_topology_yet();
  static WebError timeout(std::string code, std::string message);
  static WebError internal(std::string message);
  static WebError unauthorized(std::string message);  // 401
  static WebError forbidden(std::string message);     // 403
  // 409: refused because of a concurrent change; repeating it may succeed.
  static WebError conflict(std::string code, std::string message);
};

std::string to_json(const WebError& e);

}  // namespace partid::api
