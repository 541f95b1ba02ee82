// A stopped nats-server's port taken by a listener that answers each
// connection with a NATS INFO line and closes it before the handshake is
// done, as a server too busy to finish one does ("Expected 'PONG', got ''").
#pragma once

#include <atomic>
#include <boost/asio.hpp>
#include <string>
#include <thread>

namespace parti::testing {

// Counts the handshakes it cut; close() frees the port (for the real server).
class HandshakeCutter {
 public:
  explicit HandshakeCutter(int port)
      : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)}) {
    accept_next();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~HandshakeCutter() { close(); }
  int cut() const { return cut_; }
  void close() {  // frees the port
    if (!thread_.joinable()) return;
    boost::asio::post(io_, [this] { acceptor_.close(); });
    thread_.join();
  }

 private:
  void accept_next() {
    acceptor_.async_accept([this](boost::system::error_code ec, boost::asio::ip::tcp::socket s) {
      if (ec) return;  // closed
      const std::string info =
          "INFO {\"server_id\":\"cutter\",\"version\":\"2.9.0\",\"proto\":1,"
          "\"max_payload\":1048576}\r\n";
      // Counted before the close: the client may give up, and the test read
      // the count, as soon as it sees the connection end.
      ++cut_;
      boost::system::error_code ignored;
      boost::asio::write(s, boost::asio::buffer(info), ignored);
      s.close();
      accept_next();
    });
  }

  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::atomic<int> cut_{0};
  std::thread thread_;
};

}  // namespace parti::testing
