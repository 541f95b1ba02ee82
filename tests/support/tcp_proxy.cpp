#include "support/tcp_proxy.h"

#include <utility>

#include <boost/asio.hpp>
#include <functional>
#include <future>
#include <set>
#include <thread>

namespace parti::testing {

namespace asio = boost::asio;
using asio::ip::tcp;

struct TcpProxy::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  tcp::endpoint target;
  bool open = true;
  bool stalled = false;
  std::vector<std::function<void()>> held;  // relays waiting for unstall()
  std::set<std::shared_ptr<tcp::socket>> sockets;
  std::thread runner;

  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket client) {
      if (ec) return;
      if (open) bridge(std::make_shared<tcp::socket>(std::move(client)));
      accept();
    });
  }

  void bridge(std::shared_ptr<tcp::socket> client) {
    auto server = std::make_shared<tcp::socket>(io);
    sockets.insert(client);
    sockets.insert(server);
    server->async_connect(target, [this, client, server](boost::system::error_code ec) {
      if (ec) return drop(client, server);
      pump(client, server);
      pump(server, client);
    });
  }

  void pump(std::shared_ptr<tcp::socket> from, std::shared_ptr<tcp::socket> to) {
    auto buf = std::make_shared<std::array<char, 16384>>();
    from->async_read_some(
        asio::buffer(*buf), [this, from, to, buf](boost::system::error_code ec, size_t n) {
          if (ec) return drop(from, to);
          auto relay = [this, from, to, buf, n] {
            asio::async_write(*to, asio::buffer(*buf, n),
                              [this, from, to, buf](boost::system::error_code wec, size_t) {
                                if (wec) return drop(from, to);
                                pump(from, to);
                              });
          };
          if (stalled) {
            held.push_back(std::move(relay));
          } else {
            relay();
          }
        });
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
    auto held = std::move(impl_->held);
    impl_->held.clear();
    for (auto& relay : held) relay();
  });
}

}  // namespace parti::testing
