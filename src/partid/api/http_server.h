// api: the HTTP/1.1 front door on Boost.Beast. One coroutine per connection,
// keep-alive, a body limit (413 before the body is read), a header limit and
// an idle timeout. Bytes that are not HTTP get a 400 and the connection is
// closed; the node is never affected. Each request is served by ApiService.
// Threading: runs on the loop.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "partid/api/api_service.h"
#include "partid/net/listener.h"

namespace partid::api {

struct HttpOptions {
  size_t max_body_bytes = 1 << 20;
  uint32_t max_header_bytes = 16 * 1024;
  std::chrono::seconds idle_timeout{60};
};

class HttpServer {
 public:
  HttpServer(asio::any_io_executor loop, ApiService& api, HttpOptions options);
  void listen(const std::string& host, uint16_t port);  // throws on failure
  uint16_t port() const;
  void stop();

 private:
  asio::awaitable<void> session(asio::ip::tcp::socket socket);

  net::Listener listener_;
  ApiService& api_;
  HttpOptions options_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace partid::api
