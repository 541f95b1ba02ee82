#include "partid/api/http_server.h"
#include "parti/core/spawn.h"
#include "partid/api/route.h"

#include <spdlog/spdlog.h>

#include <array>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace partid::api {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

http::response<http::string_body> to_http(ApiResponse&& r, unsigned version, bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "partid");
  res.set(http::field::content_type, r.content_type);
  if (r.retry_after_s > 0) res.set(http::field::retry_after, std::to_string(r.retry_after_s));
  res.keep_alive(keep_alive);
  res.body() = std::move(r.body);
  res.prepare_payload();
  return res;
}

// A request that could not be parsed: answered, then the connection closes
// (after a framing error the rest of the stream cannot be trusted).
ApiResponse parse_failure(const boost::system::error_code& ec) {
  if (ec == http::error::body_limit) {
    return ApiResponse::error(WebError::too_large("request body too large"));
  }
  if (ec == http::error::header_limit) {
    return ApiResponse::error(WebError{431, "headers_too_large", "request headers too large"});
  }
  return ApiResponse::error(
      WebError::bad_request("bad_http", "malformed HTTP request: " + ec.message()));
}

// A request cut off to make room for another connection (it had been
// arriving for longer than the node waits while at its connection cap).
ApiResponse too_slow() {
  return ApiResponse::error(WebError{408, "request_timeout",
                                     "the request arrived too slowly while this node was at its "
                                     "client-connection cap; send it again"});
}

// After refusing a request mid-stream (a body over the limit), the client may
// still be sending it; closing at once would reset the connection and the
// client would never read our answer. So: stop sending, then read and discard
// for a bounded time and amount (nginx calls this a lingering close).
asio::awaitable<void> linger(beast::tcp_stream& stream) {
  boost::system::error_code ec;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  stream.expires_after(std::chrono::seconds(2));
  std::array<char, 64 * 1024> sink;
  size_t drained = 0;
  while (!ec && drained < (64u << 20)) {
    drained += co_await stream.async_read_some(asio::buffer(sink),
                                               asio::redirect_error(asio::use_awaitable, ec));
  }
}

// A large answer goes out a slice per send: one send of a 50-MB listing to a
// client reading as fast copied all of it in one system call (~70 ms) while
// the loop's other clients waited. Between slices they get their turn.
asio::awaitable<void> write_sliced(beast::tcp_stream& stream,
                                   http::response<http::string_body>& res,
                                   boost::system::error_code& ec) {
  constexpr size_t kSlice = size_t{256} << 10;
  http::response_serializer<http::string_body> serializer{res};
  serializer.limit(kSlice);
  co_await http::async_write(stream, serializer, asio::redirect_error(asio::use_awaitable, ec));
}

enum class ReadOutcome { request, closed, malformed, cut };

// Two waits, each registered in `waiting` while it lasts: for the request to
// begin (idle_timeout), then for all of it to arrive (request_timeout).
asio::awaitable<ReadOutcome> read_request(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                          http::request_parser<http::string_body>& parser,
                                          const HttpOptions& options, WaitingClients& waiting,
                                          boost::system::error_code& ec) {
  if (buffer.size() == 0) {  // else a pipelined request has begun already
    WaitingClients::Wait idle(waiting, WaitingClients::Phase::idle, stream.socket());
    stream.expires_after(options.idle_timeout);
    const size_t n = co_await stream.async_read_some(buffer.prepare(64 * 1024),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    buffer.commit(n);
    if (ec || idle.cut()) co_return ReadOutcome::closed;
  }
  WaitingClients::Wait reading(waiting, WaitingClients::Phase::reading, stream.socket());
  stream.expires_after(options.request_timeout);
  co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  if (reading.cut()) co_return ReadOutcome::cut;
  if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
      ec == asio::error::connection_reset || ec == asio::error::eof) {
    co_return ReadOutcome::closed;
  }
  co_return ec ? ReadOutcome::malformed : ReadOutcome::request;
}

// GET /health and /metrics are still answered over the cap, once per
// connection: a node at its cap is what its operator most needs to see.
bool monitoring(std::string_view method, std::string_view target) {
  auto route = match_route(method, target);
  auto* r = std::get_if<Route>(&route);
  return r && (r->kind == Route::Kind::Health || r->kind == Route::Kind::Metrics);
}

}  // namespace

HttpServer::HttpServer(asio::any_io_executor loop, ApiService& api, HttpOptions options,
                       Metrics* metrics)
    : listener_(std::move(loop), "http"),
      api_(api),
      options_(options),
      state_(std::make_shared<Connections>(options.cut_waits_after)) {
  state_->metrics = metrics;
}

void HttpServer::listen(const std::string& host, uint16_t port) {
  listener_.listen(host, port, [this](asio::ip::tcp::socket socket) { admit(std::move(socket)); });
}

uint16_t HttpServer::port() const { return listener_.port(); }

void HttpServer::stop() {
  state_->alive = false;
  state_->metrics = nullptr;
  listener_.close();
}

HttpServer::Slot HttpServer::take_slot(std::shared_ptr<Connections> state,
                                       uint32_t Connections::*count) {
  auto publish = [](const Connections& c) {
    if (c.metrics) c.metrics->set_gauge("partid_http_connections", c.open);
  };
  ++((*state).*count);
  publish(*state);
  return Slot(nullptr, [state, count, publish](void*) {
    --((*state).*count);
    publish(*state);
  });
}

void HttpServer::admit(asio::ip::tcp::socket socket) {
  Connections& c = *state_;
  if (options_.max_connections == 0 || c.open < options_.max_connections) {
    log_under_cap_again();
  } else if (auto cut = c.waiting.cut_one(WaitingClients::Clock::now())) {
    // The cut connection's descriptor is free (idle) or about to be (its
    // 408 is on its way), so the new one takes its place.
    log_making_room(*cut);
  } else {
    return refuse(std::move(socket));
  }
  auto slot = take_slot(state_, &Connections::open);
  asio::co_spawn(socket.get_executor(), session(std::move(socket), std::move(slot)),
                 parti::log_failure("an HTTP session"));
}

void HttpServer::log_under_cap_again() {
  Connections& c = *state_;
  const uint64_t over = c.over_cap.end(), cut = c.made_room.end();
  if (over > 0 || cut > 0) {
    spdlog::info(
        "http: under the client-connection cap again, after {} connections refused and {} "
        "waiting ones closed to make room",
        over, cut);
  }
}

void HttpServer::log_making_room(WaitingClients::Phase cut) {
  Connections& c = *state_;
  const bool idle = cut == WaitingClients::Phase::idle;
  if (c.metrics) {
    c.metrics->count(idle ? "partid_http_idle_connections_closed_total"
                          : "partid_http_slow_requests_closed_total");
  }
  if (c.made_room.add()) {
    spdlog::info(
        "http: {} client connections open, the most allowed (--max-client-connections); "
        "closing the longest idle (or slowest to send its request) to make room for new ones",
        c.open);
  }
}

void HttpServer::refuse(asio::ip::tcp::socket socket) {
  Connections& c = *state_;
  if (c.over_cap.add()) {
    spdlog::warn(
        "http: {} client connections open, the most allowed (--max-client-connections); "
        "refusing more with 503 until one closes (GET /health and /metrics are still answered)",
        c.open);
  }
  if (c.refusing >= options_.max_refusing) {  // the socket closes unanswered
    if (c.metrics) c.metrics->count("partid_http_connections_refused_total");
    return;
  }
  auto slot = take_slot(state_, &Connections::refusing);
  asio::co_spawn(socket.get_executor(), answer_refusal(std::move(socket), std::move(slot)),
                 parti::log_failure("an HTTP refusal"));
}

// The answer waits for the request's header: a client that has not finished
// sending would otherwise see the connection reset instead of the 503.
asio::awaitable<void> HttpServer::answer_refusal(asio::ip::tcp::socket socket,
                                                 [[maybe_unused]] Slot slot) {
  auto state = state_;
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  http::request_parser<http::string_body> parser;
  parser.header_limit(options_.max_header_bytes);
  boost::system::error_code ec;
  stream.expires_after(options_.refusal_timeout);
  co_await http::async_read_header(stream, buffer, parser,
                                   asio::redirect_error(asio::use_awaitable, ec));
  if (!state->alive || ec == beast::error::timeout || ec == http::error::end_of_stream ||
      ec == asio::error::eof || ec == asio::error::connection_reset) {
    co_return;
  }
  std::string method(parser.get().method_string()), target(parser.get().target());
  ApiResponse response;
  if (!ec && monitoring(method, target)) {
    // Named, not temporaries: GCC 12 destroys a temporary in a co_await
    // expression twice (a double free, seen here).
    ApiRequest request{method, target, {}, {}};
    Hop hop;
    response = co_await api_.handle(std::move(request), std::move(hop));
    if (!state->alive) co_return;
  } else {
    if (state->metrics) state->metrics->count("partid_http_connections_refused_total");
    response = ApiResponse::error(WebError::unavailable(
        "too_many_connections",
        "this node serves as many client connections as it may; retry, or reuse a connection"));
  }
  auto res = to_http(std::move(response), 11, false);
  co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
  if (!ec) co_await linger(stream);
}

asio::awaitable<void> HttpServer::session(asio::ip::tcp::socket socket,
                                          [[maybe_unused]] Slot slot) {
  auto state = state_;
  const bool& alive = state->alive;
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  boost::system::error_code ec;
  while (alive) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(options_.max_body_bytes);
    parser.header_limit(options_.max_header_bytes);
    const ReadOutcome read =
        co_await read_request(stream, buffer, parser, options_, state->waiting, ec);
    if (read == ReadOutcome::closed) break;
    if (read != ReadOutcome::request) {
      auto res = to_http(read == ReadOutcome::cut ? too_slow() : parse_failure(ec), 11, false);
      stream.expires_after(std::chrono::seconds(read == ReadOutcome::cut ? 1 : 5));
      co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
      // A cut connection's descriptor is wanted now: no lingering close.
      if (read != ReadOutcome::cut) co_await linger(stream);
      break;
    }
    auto& req = parser.get();
    ApiRequest request{std::string(req.method_string()), std::string(req.target()),
                       std::move(req.body()), std::string(req[http::field::authorization])};
    const bool keep_alive = req.keep_alive();
    const unsigned version = req.version();
    Hop hop;
    ApiResponse response = co_await api_.handle(std::move(request), std::move(hop));
    if (!alive) break;
    auto res = to_http(std::move(response), version, keep_alive);
    stream.expires_after(options_.idle_timeout);
    co_await write_sliced(stream, res, ec);
    if (ec || !keep_alive) break;
  }
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
}

}  // namespace partid::api
