#include "partid/api/web_error.h"

#include <nlohmann/json.hpp>

namespace partid::api {

WebError WebError::bad_request(std::string code, std::string message) {
  return {400, std::move(code), std::move(message)};
}
WebError WebError::not_found(std::string message) { return {404, "not_found", std::move(message)}; }
WebError WebError::method_not_allowed(std::string message) {
  return {405, "method_not_allowed", std::move(message)};
}
WebError WebError::too_large(std::string message) { return {413, "too_large", std::move(message)}; }
WebError WebError::unavailable(std::string code, std::string message, int retry_after_s) {
  return {503, std::move(code), std::move(message), retry_after_s};
}

WebError WebError::no_topology_yet() { return unavailable("no_assignment", "no topology yet"); }
WebError WebError::unauthorized(std::string message) {
  return {401, "unauthorized", std::move(message), 0};
}
WebError WebError::forbidden(std::string message) {
  return {403, "admin_disabled", std::move(message), 0};
}
WebError WebError::partition_locked(uint32_t partition) {
  return unavailable("partition_locked",
                     "partition " + std::to_string(partition) + " is changing leader; retry");
}
WebError WebError::timeout(std::string code, std::string message) {
  return {504, std::move(code), std::move(message)};
}
WebError WebError::internal(std::string message) { return {500, "internal", std::move(message)}; }
WebError WebError::conflict(std::string code, std::string message) {
  return {409, std::move(code), std::move(message)};
}

std::string to_json(const WebError& e) {
  // `replace` keeps a message with stray bytes printable instead of throwing.
  return nlohmann::json{{"error", {{"code", e.code}, {"message", e.message}}}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace partid::api
