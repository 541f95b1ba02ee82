#include "partid/peer/peer_server.h"

#include <spdlog/spdlog.h>

namespace partid::peer {

PeerServer::PeerServer(asio::any_io_executor loop, ChannelLimits limits, Greeting greeting,
                       Handler handler)
    : listener_(std::move(loop), "peer"),
      limits_(limits),
      greeting_(std::move(greeting)),
      handler_(std::move(handler)) {}

void PeerServer::listen(const std::string& host, uint16_t port) {
  listener_.listen(host, port, [this](asio::ip::tcp::socket socket) { serve(std::move(socket)); });
}

uint16_t PeerServer::port() const { return listener_.port(); }

void PeerServer::stop() {
  listener_.close();
  auto channels = std::move(channels_);
  for (const auto& c : channels) c->close("server stopping");
}

void PeerServer::serve(asio::ip::tcp::socket socket) {
  boost::system::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  auto channel = std::make_shared<Channel>(
      std::move(socket), limits_,
      ec ? std::string("?") : remote.address().to_string() + ":" + std::to_string(remote.port()));
  channels_.insert(channel);
  std::weak_ptr<Channel> weak = channel;
  Channel::Handlers handlers;
  handlers.on_message = [this, weak, greeted = false](pb::Envelope request) mutable {
    if (!greeted) {
      if (auto c = weak.lock()) greeted = greet(*c, request);
      return;
    }
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

bool PeerServer::greet(Channel& channel, const pb::Envelope& first) {
  if (!first.has_hello()) {
    spdlog::warn("peer connection from {}: the first frame is not a Hello; closing it",
                 channel.label());
    channel.close("no hello");
    return false;
  }
  if (auto why = incompatibility(greeting_, first.hello())) {
    spdlog::warn("peer connection from {} refused: {}", channel.label(), *why);
    channel.send(hello(greeting_, *why));
    channel.close_after_flush("refused");
    return false;
  }
  return channel.send(hello(greeting_));
}

}  // namespace partid::peer
