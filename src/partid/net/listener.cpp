#include "partid/net/listener.h"
#include "parti/core/spawn.h"

#include <spdlog/spdlog.h>

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

asio::awaitable<void> Listener::accept_loop() {
  while (acceptor_.is_open()) {
    boost::system::error_code ec;
    auto socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      spdlog::warn("{} accept failed: {}", what_, ec.message());
      continue;
    }
    socket.set_option(asio::ip::tcp::no_delay(true), ec);
    on_socket_(std::move(socket));
  }
}

}  // namespace partid::net
