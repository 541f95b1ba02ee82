#include "partid/api/http_types.h"

namespace partid::api {

ApiResponse ApiResponse::json(int status, std::string body) {
  ApiResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

ApiResponse ApiResponse::error(const WebError& e) {
  ApiResponse r = json(e.status, to_json(e));
  r.retry_after_s = e.retry_after_s;
  return r;
}

}  // namespace partid::api
