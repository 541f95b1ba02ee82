// Tests that hold a client connection open: HTTP/1.1 requests one after the
// other on one kept-alive connection, each answer awaited with a deadline
// (a node that never answers fails the test instead of hanging it).
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <string>

#include "support/raw_socket.h"

namespace parti::testing {

struct HttpAnswer {
  int status = 0;  // 0: no answer (the connection failed or closed)
  std::string body;
  std::string retry_after;
  bool keep_alive = false;
};

class KeptAliveConnection {
 public:
  KeptAliveConnection(boost::asio::io_context& io, const std::string& address)
      : io_(io), stream_(connect_to(io, address)) {}

  HttpAnswer request(const std::string& method, const std::string& target,
                     const std::string& body = {},
                     std::chrono::seconds timeout = std::chrono::seconds(10)) {
    namespace http = boost::beast::http;
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, "test");
    req.set(http::field::content_type, "application/json");
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    stream_.expires_after(timeout);
    bool sent = false;
    http::async_write(stream_, req, [&](boost::system::error_code ec, size_t) { sent = !ec; });
    io_.restart();
    io_.run();
    return sent ? answer(timeout) : HttpAnswer{};
  }

  // Sends bytes as they are (say, a request cut short), awaiting nothing.
  void send(const std::string& bytes) {
    boost::asio::write(stream_.socket(), boost::asio::buffer(bytes));
  }

  // The next answer on this connection, awaited with a deadline.
  HttpAnswer answer(std::chrono::seconds timeout = std::chrono::seconds(10)) {
    namespace http = boost::beast::http;
    http::response<http::string_body> res;
    HttpAnswer out;
    stream_.expires_after(timeout);
    http::async_read(stream_, buffer_, res, [&](boost::system::error_code ec, size_t) {
      if (ec) return;
      out.status = res.result_int();
      out.body = res.body();
      out.retry_after = std::string(res[http::field::retry_after]);
      out.keep_alive = res.keep_alive();
    });
    io_.restart();
    io_.run();
    return out;
  }

  // True once the node closed the connection (read to its end), within `timeout`.
  bool closed_by_node(std::chrono::seconds timeout = std::chrono::seconds(10)) {
    bool closed = false;
    stream_.expires_after(timeout);
    std::function<void()> read_more = [&] {
      stream_.async_read_some(buffer_.prepare(4096), [&](boost::system::error_code ec, size_t n) {
        buffer_.commit(n);
        if (ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset) {
          closed = true;
        } else if (!ec) {
          read_more();
        }
      });
    };
    read_more();
    io_.restart();
    io_.run();
    return closed;
  }

 private:
  boost::asio::io_context& io_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
};

}  // namespace parti::testing
