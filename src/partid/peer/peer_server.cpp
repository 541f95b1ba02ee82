#include "partid/peer/peer_server.h"

#include <spdlog/spdlog.h>

namespace partid::peer {

PeerServer::PeerServer(asio::any_io_executor loop, ChannelLimits limits, Handler handler)
    : acceptor_(loop), limits_(limits), handler_(std::move(handler)) {}

void PeerServer::listen(const std::string& host, uint16_t port) {
  asio::ip::tcp::endpoint ep(asio::ip::make_address(host), port);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen();
  asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached);
}

uint16_t PeerServer::port() const { return acceptor_.local_endpoint().port(); }

void PeerServer::stop() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  auto channels = std::move(channels_);
  for (const auto& c : channels) c->close("server stopping");
}

asio::awaitable<void> PeerServer::accept_loop() {
  while (acceptor_.is_open()) {
    boost::system::error_code ec;
    auto socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      spdlog::warn("peer accept failed: {}", ec.message());
      continue;
    }
    serve(std::move(socket));
  }
}

void PeerServer::serve(asio::ip::tcp::socket socket) {
  boost::system::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  auto channel = std::make_shared<Channel>(
      std::move(socket), limits_,
      ec ? std::string("?") : remote.address().to_string() + ":" + std::to_string(remote.port()));
  channels_.insert(channel);
  std::weak_ptr<Channel> weak = channel;
  Channel::Handlers handlers;
  handlers.on_message = [this, weak](pb::Envelope request) {
    const uint64_t id = request.id();
    handler_(std::move(request), [weak, id](pb::Envelope reply) {
      reply.set_id(id);
      if (auto c = weak.lock()) c->send(reply);
    });
  };
  handlers.on_closed = [this, weak](const std::string& why) {
    if (why != "closed by peer" && why != "server stopping") ++rejected_;
    if (auto c = weak.lock()) channels_.erase(c);
  };
  channel->start(std::move(handlers));
}

}  // namespace partid::peer
