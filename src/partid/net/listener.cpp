#include "partid/net/listener.h"
#include "parti/core/spawn.h"
#include "partid/net/event_run.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <chrono>

namespace partid::net {

Listener::Listener(asio::any_io_executor loop, std::string what)
    : acceptor_(std::move(loop)), what_(std::move(what)) {}

void Listener::listen(const std::string& host, uint16_t port, OnSocket on_socket) {
  on_socket_ = std::move(on_socket);
  asio::ip::tcp::endpoint ep(asio::ip::make_address(host), port);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  asio::co_spawn(acceptor_.get_executor(), accept_loop(), parti::log_failure("an accept loop"));
}

uint16_t Listener::port() const { return acceptor_.local_endpoint().port(); }

void Listener::close() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

// An accept that fails (out of descriptors: EMFILE, ENFILE, ENOBUFS) leaves
// its connection in the backlog, so retrying at once fails again at once: a
// busy loop that floods the log. Back off instead, from 10 ms doubling to 1 s,
// log the first failure of a run and how many followed once it ends.
asio::awaitable<void> Listener::accept_loop() {
  asio::steady_timer backoff(acceptor_.get_executor());
  std::chrono::milliseconds delay{0};
  EventRun failures;
  while (acceptor_.is_open()) {
    boost::system::error_code ec;
    auto socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
      if (failures.add()) {
        spdlog::warn("{} accept failed: {}; retrying with back-off", what_, ec.message());
      }
      delay = std::min<std::chrono::milliseconds>(
          std::max<std::chrono::milliseconds>(2 * delay, std::chrono::milliseconds(10)),
          std::chrono::seconds(1));
      backoff.expires_after(delay);
      co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    if (const uint64_t failed = failures.end()) {
      spdlog::info("{} accepting again after {} failed accepts", what_, failed);
      delay = std::chrono::milliseconds(0);
    }
    socket.set_option(asio::ip::tcp::no_delay(true), ec);
    on_socket_(std::move(socket));
  }
}

}  // namespace partid::net
