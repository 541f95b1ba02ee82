#include "partid/peer/peer_server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>

namespace partid::peer {

PeerServer::PeerServer(asio::any_io_executor loop, ChannelLimits limits, Greeting greeting,
                       Handler handler, PeerAdmission admission)
    : loop_(loop),
      listener_(std::move(loop), "peer"),
      limits_(limits),
      greeting_(std::move(greeting)),
      handler_(std::move(handler)),
      admission_(admission) {}

void PeerServer::listen(const std::string& host, uint16_t port) {
  listener_.listen(host, port, [this](asio::ip::tcp::socket socket) { serve(std::move(socket)); });
}

uint16_t PeerServer::port() const { return listener_.port(); }

void PeerServer::stop() {
  listener_.close();
  auto channels = std::move(channels_);
  for (const auto& [c, opening] : channels) c->close("server stopping");
}

// A connection's handshake and its deadline: cancelled once it is open or
// closed, so no timer outlives its connection (or holds a stopping loop).
struct PeerServer::Opening {
  Opening(asio::any_io_executor loop, Greeting greeting)
      : shake(std::move(greeting)), deadline(loop) {}
  AcceptorHandshake shake;
  asio::steady_timer deadline;
  std::chrono::steady_clock::time_point since = std::chrono::steady_clock::now();
};

void PeerServer::set_secrets(std::vector<std::string> secrets) {
  greeting_.secrets = std::move(secrets);
  std::vector<std::shared_ptr<Channel>> retired;
  for (const auto& [c, opening] : channels_) {
    if (opening->shake.open() &&
        secret_retired(opening->shake.verified_with(), greeting_.secrets)) {
      retired.push_back(c);
    }
  }
  for (const auto& c : retired) c->close("its cluster secret was retired");
}

size_t PeerServer::opening_now() const {
  size_t n = 0;
  for (const auto& [c, opening] : channels_) n += opening->shake.open() ? 0 : 1;
  return n;
}

bool PeerServer::admit(asio::ip::tcp::socket& socket) {
  if (opening_now() < admission_.max_opening) {
    const uint64_t closed = closed_at_accept_.end(), reclaimed = reclaimed_.end();
    if (closed > 0 || reclaimed > 0) {
      spdlog::info(
          "peer port: under the cap on opening connections again, after closing {} at accept "
          "and {} opening too long",
          closed, reclaimed);
    }
    return true;
  }
  if (reclaim_one()) return true;
  if (closed_at_accept_.add()) {
    spdlog::warn("peer port: {} connections have not finished their handshake; closing new ones",
                 admission_.max_opening);
  }
  ++rejected_;
  boost::system::error_code ignored;
  socket.close(ignored);
  return false;
}

bool PeerServer::reclaim_one() {
  std::shared_ptr<Channel> oldest;
  auto since = std::chrono::steady_clock::time_point::max();
  for (const auto& [c, opening] : channels_) {
    if (!opening->shake.open() && opening->since < since) {
      oldest = c;
      since = opening->since;
    }
  }
  if (!oldest || since + admission_.reclaim_after > std::chrono::steady_clock::now()) {
    return false;
  }
  if (reclaimed_.add()) {
    spdlog::warn(
        "peer port: {} connections have not finished their handshake; closing the one opening "
        "longest for each new one",
        admission_.max_opening);
  }
  oldest->close("closed to make room: no handshake yet");  // counted as rejected
  return true;
}

void PeerServer::serve(asio::ip::tcp::socket socket) {
  if (!admit(socket)) return;
  boost::system::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  auto channel = std::make_shared<Channel>(
      std::move(socket), limits_.before_handshake(),
      ec ? std::string("?") : remote.address().to_string() + ":" + std::to_string(remote.port()));
  auto opening = std::make_shared<Opening>(loop_, greeting_);
  channels_.emplace(channel, opening);
  std::weak_ptr<Channel> weak = channel;
  Channel::Handlers handlers;
  handlers.on_message = [this, weak, opening](pb::Envelope request) {
    auto c = weak.lock();
    if (!c) return;
    if (!opening->shake.open()) return handshake(*c, *opening, request);
    const uint64_t id = request.id();
    handler_(std::move(request), [weak, id](pb::Envelope reply) {
      reply.set_id(id);
      if (auto c = weak.lock()) c->send(reply);
    });
  };
  handlers.on_closed = [this, weak, opening](const std::string& why) {
    opening->deadline.cancel();
    if (why != "closed by peer" && why != "server stopping") ++rejected_;
    if (auto c = weak.lock()) channels_.erase(c);
  };
  channel->start(std::move(handlers));
  opening->deadline.expires_after(admission_.handshake_timeout);
  opening->deadline.async_wait([weak, seconds = admission_.handshake_timeout.count() /
                                                1000.0](boost::system::error_code ec) {
    auto c = weak.lock();
    if (ec || !c) return;
    spdlog::warn("peer connection from {}: no handshake within {} s; closing it", c->label(),
                 seconds);
    c->close("no handshake in time");
  });
}

void PeerServer::handshake(Channel& channel, Opening& opening, const pb::Envelope& frame) {
  auto step = opening.shake.on_frame(frame);
  if (step.reply) channel.send(*step.reply);
  if (step.refused) {
    spdlog::warn("peer connection from {} refused: {}", channel.label(), *step.refused);
    if (step.reply) {
      channel.close_after_flush("refused");
    } else {
      channel.close("refused");
    }
    return;
  }
  if (opening.shake.open()) {
    opening.deadline.cancel();
    // The secrets may have changed while it was opening.
    if (secret_retired(opening.shake.verified_with(), greeting_.secrets)) {
      return channel.close("its cluster secret was retired");
    }
    channel.set_max_frame_bytes(limits_.max_frame_bytes);
  }
}

}  // namespace partid::peer
