// api: the HTTP/1.1 front door on Boost.Beast. One coroutine per connection,
// keep-alive, a body limit (413 before the body is read), a header limit and
// an idle timeout. Bytes that are not HTTP get a 400 and the connection is
// closed; the node is never affected. Each request is served by ApiService.
// A cap on connections served at once keeps descriptors for the rest of the
// node (node/descriptor_budget.h): one more connection is answered 503
// too_many_connections and closed, unless a connection that is only waiting
// on its client (idle, or sending its request slowly) has waited long enough
// to be closed to make room for it (api/waiting_clients.h). Threading: runs
// on the loop.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "partid/api/api_service.h"
#include "partid/api/metrics.h"
#include "partid/api/waiting_clients.h"
#include "partid/net/event_run.h"
#include "partid/net/listener.h"

namespace partid::api {

struct HttpOptions {
  size_t max_body_bytes = 1 << 20;
  uint32_t max_header_bytes = 16 * 1024;
  std::chrono::seconds idle_timeout{60};     // for a request to begin
  std::chrono::seconds request_timeout{30};  // for a begun request to arrive whole
  // Connections served at once (0: no cap). Past it a connection gets its
  // 503 once its request's header is read; while max_refusing such answers
  // are under way, further connections are closed unanswered (a storm of
  // them must not take the descriptors the cap keeps).
  uint32_t max_connections = 0;
  uint32_t max_refusing = 16;
  std::chrono::seconds refusal_timeout{2};
  // At the cap, a connection idle or still sending its request this long is
  // closed to admit a new one (idle first, then the slowest request).
  WaitingClients::Thresholds cut_waits_after;
};

class HttpServer {
 public:
  // `metrics` (may be null) gets partid_http_connections (open now) and
  // partid_http_connections_refused_total.
  HttpServer(asio::any_io_executor loop, ApiService& api, HttpOptions options,
             Metrics* metrics = nullptr);
  void listen(const std::string& host, uint16_t port);  // throws on failure
  uint16_t port() const;
  void stop();

 private:
  // Shared with the sessions, which may outlive the server by a loop turn.
  struct Connections {
    explicit Connections(WaitingClients::Thresholds t) : waiting(t) {}
    bool alive = true;
    Metrics* metrics = nullptr;  // null once stopped
    uint32_t open = 0;
    uint32_t refusing = 0;
    net::EventRun over_cap;   // connections over the cap since the last one admitted
    net::EventRun made_room;  // waits cut to make room since the last admitted under the cap
    WaitingClients waiting;
  };
  // One counted connection, given back when the coroutine holding it ends.
  using Slot = std::shared_ptr<void>;
  static Slot take_slot(std::shared_ptr<Connections> state, uint32_t Connections::*count);

  void admit(asio::ip::tcp::socket socket);
  void log_under_cap_again();
  void log_making_room(WaitingClients::Phase cut);
  void refuse(asio::ip::tcp::socket socket);
  asio::awaitable<void> session(asio::ip::tcp::socket socket, Slot slot);
  asio::awaitable<void> answer_refusal(asio::ip::tcp::socket socket, Slot slot);

  net::Listener listener_;
  ApiService& api_;
  HttpOptions options_;
  std::shared_ptr<Connections> state_;
};

}  // namespace partid::api
