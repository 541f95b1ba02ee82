// net: a listening TCP socket shared by the HTTP API and the peer transport:
// bind (port 0 picks a free port), then hand every accepted connection, with
// Nagle off, to a callback until the listener is closed. Loop thread only.
#pragma once

#include <functional>
#include <string>

#include "parti/core/async.h"

namespace partid::net {

namespace asio = boost::asio;

class Listener {
 public:
  using OnSocket = std::function<void(asio::ip::tcp::socket)>;
  Listener(asio::any_io_executor loop, std::string what);
  // Binds host:port and starts accepting; throws on failure.
  void listen(const std::string& host, uint16_t port, OnSocket on_socket);
  uint16_t port() const;
  void close();

 private:
  asio::awaitable<void> accept_loop();
  asio::ip::tcp::acceptor acceptor_;
  std::string what_;
  OnSocket on_socket_;
};

}  // namespace partid::net
