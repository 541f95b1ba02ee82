#include "support/tcp_proxy.h"

#include <utility>

#include <array>
#include <boost/asio.hpp>
#include <functional>
#include <future>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace parti::testing {

namespace asio = boost::asio;
using asio::ip::tcp;

struct TcpProxy::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  tcp::endpoint target;
  bool open = true;
  bool stalled = false;                // every connection
  size_t bytes_per_second = 0;         // 0: no throttle
  std::set<std::string> stalled_from;  // the connections of these client addresses
  // What waits for the stall to end, with the client address it belongs to.
  std::vector<std::pair<std::string, std::function<void()>>> held;
  std::set<std::shared_ptr<tcp::socket>> sockets;
  std::thread runner;

  bool is_stalled(const std::string& source) const {
    return stalled || stalled_from.count(source) > 0;
  }
  // Runs `f` now, or once the stall of `source` ends.
  void relay_or_hold(const std::string& source, std::function<void()> f) {
    if (is_stalled(source)) {
      held.emplace_back(source, std::move(f));
    } else {
      f();
    }
  }
  void release_held() {
    auto waiting = std::move(held);
    held.clear();
    for (auto& [source, f] : waiting) relay_or_hold(source, std::move(f));
  }

  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket client) {
      // A client gone before its connection was accepted (a node killed
      // mid-connect) fails this accept, not the next one.
      if (ec == asio::error::operation_aborted) return;
      if (!ec && open) {
        auto socket = std::make_shared<tcp::socket>(std::move(client));
        boost::system::error_code remote_ec;
        const auto remote = socket->remote_endpoint(remote_ec);
        const std::string source = remote_ec ? "" : remote.address().to_string();
        sockets.insert(socket);
        relay_or_hold(source, [this, socket, source] { bridge(socket, source); });
      }
      accept();
    });
  }

  void bridge(std::shared_ptr<tcp::socket> client, const std::string& source) {
    auto server = std::make_shared<tcp::socket>(io);
    sockets.insert(server);
    server->async_connect(target, [this, client, server, source](boost::system::error_code ec) {
      if (ec) return drop(client, server);
      // Relayed as it comes: Nagle's algorithm would hold a small reply back
      // for the other side's delayed ACK (40 ms), which the endpoints avoid.
      boost::system::error_code ignored;
      client->set_option(tcp::no_delay(true), ignored);
      server->set_option(tcp::no_delay(true), ignored);
      pump(client, server, source);
      pump(server, client, source);
    });
  }

  void pump(std::shared_ptr<tcp::socket> from, std::shared_ptr<tcp::socket> to,
            const std::string& source) {
    auto buf = std::make_shared<std::array<char, 16384>>();
    from->async_read_some(asio::buffer(*buf), [this, from, to, buf, source](
                                                  boost::system::error_code ec, size_t n) {
      if (ec) return relay_or_hold(source, [this, from, to] { drop(from, to); });
      relay_or_hold(source, [this, from, to, buf, n, source] {
        asio::async_write(*to, asio::buffer(*buf, n),
                          [this, from, to, buf, n, source](boost::system::error_code wec, size_t) {
                            if (wec) return drop(from, to);
                            pace(n, [this, from, to, source] { pump(from, to, source); });
                          });
      });
    });
  }

  // Runs `next` now, or, throttled, once `n` bytes' time at the rate has passed.
  void pace(size_t n, std::function<void()> next) {
    if (bytes_per_second == 0) return next();
    auto timer = std::make_shared<asio::steady_timer>(
        io, std::chrono::microseconds(n * 1000000 / bytes_per_second));
    timer->async_wait([timer, next = std::move(next)](boost::system::error_code) { next(); });
  }

  void drop(std::shared_ptr<tcp::socket> a, std::shared_ptr<tcp::socket> b) {
    boost::system::error_code ignored;
    a->close(ignored);
    b->close(ignored);
    sockets.erase(a);
    sockets.erase(b);
  }

  template <class F>
  void on_io(F f) {
    std::promise<void> done;
    asio::post(io, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }
};

TcpProxy::TcpProxy(int target_port) : impl_(std::make_unique<Impl>()) {
  impl_->target =
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(target_port));
  impl_->accept();
  impl_->runner = std::thread([this] { impl_->io.run(); });
}

TcpProxy::~TcpProxy() {
  impl_->io.stop();
  impl_->runner.join();
}

int TcpProxy::port() const { return impl_->acceptor.local_endpoint().port(); }

void TcpProxy::cut() {
  impl_->on_io([this] {
    impl_->open = false;
    boost::system::error_code ignored;
    for (auto& s : impl_->sockets) s->close(ignored);
    impl_->sockets.clear();
  });
}

void TcpProxy::heal() {
  impl_->on_io([this] { impl_->open = true; });
}

void TcpProxy::stall() {
  impl_->on_io([this] { impl_->stalled = true; });
}

void TcpProxy::unstall() {
  impl_->on_io([this] {
    impl_->stalled = false;
    impl_->release_held();
  });
}

void TcpProxy::stall_from(const std::string& address) {
  impl_->on_io([this, address] { impl_->stalled_from.insert(address); });
}

void TcpProxy::unstall_from(const std::string& address) {
  impl_->on_io([this, address] {
    impl_->stalled_from.erase(address);
    impl_->release_held();
  });
}

void TcpProxy::throttle(size_t bytes_per_second) {
  impl_->on_io([this, bytes_per_second] { impl_->bytes_per_second = bytes_per_second; });
}

}  // namespace parti::testing
