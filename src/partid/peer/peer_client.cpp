#include "partid/peer/peer_client.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <deque>

namespace partid::peer {

using Clock = std::chrono::steady_clock;

struct PeerClient::Pending {
  Callback done;
  std::unique_ptr<asio::steady_timer> timer;
  bool sent = false;   // handed to the connection
  bool judged = true;  // its outcome counts in the peer's circuit breaker
};

struct PeerClient::Link {
  explicit Link(BreakerOptions b) : breaker(b) {}
  CircuitBreaker breaker;
  std::shared_ptr<Channel> channel;  // null while not connected
  bool connecting = false;
  std::optional<DialerHandshake> handshake;  // of the current connection
  bool greeted = false;                      // the handshake is done: requests may go
  std::string verified_with;                 // the secret the peer proved (empty: none asked)
  Clock::time_point down_until{};
  std::chrono::milliseconds backoff{0};
  std::map<uint64_t, Pending> pending;  // sent or queued, by id
  std::deque<pb::Envelope> queued;      // waiting for the connection
};

PeerClient::PeerClient(asio::any_io_executor loop, ClientOptions options)
    : loop_(std::move(loop)), options_(options) {}

PeerClient::~PeerClient() { stop(); }

void PeerClient::stop() {
  *alive_ = false;
  auto links = std::move(links_);
  for (auto& [address, l] : links) {
    if (l->channel) l->channel->close("client stopping");
    for (auto& [id, p] : l->pending) {
      p.timer->cancel();
      PeerReply reply{std::nullopt, "stopping", false};
      reply.maybe_delivered = p.sent;
      asio::post(loop_, [done = std::move(p.done), reply = std::move(reply)]() mutable {
        done(std::move(reply));
      });
    }
  }
}

PeerClient::Link& PeerClient::link(const std::string& address) {
  auto& l = links_[address];
  if (!l) l = std::make_unique<Link>(options_.breaker);
  return *l;
}

uint64_t PeerClient::circuits_opened() const {
  uint64_t n = 0;
  for (const auto& [address, l] : links_) n += l->breaker.times_opened();
  return n;
}

// A call the breaker let through but that cannot go out counts as a failure
// (a half-open probe must end one way or the other).
void PeerClient::refuse(Link& l, Callback done, std::string why, bool judged) {
  if (judged) l.breaker.on_failure(Clock::now());
  asio::post(loop_, [done = std::move(done), why = std::move(why)] {
    done({std::nullopt, why, false});
  });
}

void PeerClient::call(const std::string& address, pb::Envelope request,
                      std::chrono::milliseconds timeout, Callback done) {
  start_call(address, std::move(request), timeout, std::move(done), true);
}

void PeerClient::call_unjudged(const std::string& address, pb::Envelope request,
                               std::chrono::milliseconds timeout, Callback done) {
  start_call(address, std::move(request), timeout, std::move(done), false);
}

void PeerClient::start_call(const std::string& address, pb::Envelope request,
                            std::chrono::milliseconds timeout, Callback done, bool judged) {
  Link& l = link(address);
  if (!*alive_) {
    asio::post(loop_, [done = std::move(done)] { done({std::nullopt, "stopping", false}); });
    return;
  }
  if (judged && !l.breaker.allow(Clock::now())) {
    PeerReply reply{std::nullopt, "peer " + address + " keeps failing: its circuit is open", false,
                    true, l.breaker.cooldown()};
    asio::post(loop_, [done = std::move(done), reply = std::move(reply)]() mutable {
      done(std::move(reply));
    });
    return;
  }
  if (!l.channel && Clock::now() < l.down_until) {
    return refuse(l, std::move(done), "peer " + address + " is down", judged);
  }
  if (l.pending.size() >= options_.max_in_flight) {
    return refuse(l, std::move(done), "peer " + address + " overloaded", judged);
  }
  const uint64_t id = next_id_++;
  request.set_id(id);
  auto timer = std::make_unique<asio::steady_timer>(loop_, timeout);
  timer->async_wait([this, alive = alive_, address, id](boost::system::error_code ec) {
    if (ec || !*alive) return;
    auto it = links_.find(address);
    if (it != links_.end()) complete(*it->second, id, {std::nullopt, "timed out", true});
  });
  l.pending.emplace(id, Pending{std::move(done), std::move(timer), false, judged});
  l.queued.push_back(std::move(request));
  if (l.greeted) {
    send_queued(l);
  } else if (!l.channel && !l.connecting) {
    connect(address);
  }
}

bool PeerClient::known_down(const std::string& address) const {
  auto it = links_.find(address);
  return it != links_.end() && !it->second->channel && Clock::now() < it->second->down_until;
}

bool PeerClient::post(const std::string& address, pb::Envelope message) {
  if (!*alive_) return false;
  Link& l = link(address);
  if (!l.channel && Clock::now() < l.down_until) return false;
  message.set_id(0);  // nothing waits for a reply
  if (l.greeted) return l.channel->send(message);
  if (l.queued.size() >= options_.max_in_flight) return false;
  l.queued.push_back(std::move(message));
  if (!l.channel && !l.connecting) connect(address);
  return true;
}

bool PeerClient::bind_source(asio::ip::tcp::socket& socket, const asio::ip::tcp::endpoint& peer,
                             boost::system::error_code& ec) {
  socket.open(peer.protocol(), ec);
  if (ec) return false;
  // The port is chosen at connect, for the whole address pair, instead of
  // reserved at the bind from the ports no connection of this address uses
  // (Linux 4.2+; Asio has no option for it). Best effort: without it the
  // bind still works, with a port of its own.
  const int on = 1;
  ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on);
  socket.bind({options_.source, 0}, ec);
  return !ec;
}

void PeerClient::connect(const std::string& address) {
  Link& l = link(address);
  l.connecting = true;
  const size_t colon = address.rfind(':');
  auto socket = std::make_shared<asio::ip::tcp::socket>(loop_);
  auto timer = std::make_shared<asio::steady_timer>(loop_, options_.connect_timeout);
  boost::system::error_code ec;
  asio::ip::tcp::endpoint ep;
  uint16_t port = 0;
  bool parsed = false;
  if (colon != std::string::npos) {
    auto host = asio::ip::make_address(address.substr(0, colon), ec);
    const char* first = address.data() + colon + 1;
    const char* last = address.data() + address.size();
    auto [end, perr] = std::from_chars(first, last, port);
    parsed = !ec && perr == std::errc() && end == last;
    if (parsed) ep = {host, port};
  }
  if (!parsed) {
    asio::post(loop_, [this, alive = alive_, address] {
      if (*alive) fail_link(address, "bad peer address '" + address + "'");
    });
    return;
  }
  if (!options_.source.is_unspecified() && !bind_source(*socket, ep, ec)) {
    asio::post(loop_, [this, alive = alive_, address, why = ec.message()] {
      if (*alive)
        fail_link(address, "cannot connect from " + options_.source.to_string() + ": " + why);
    });
    return;
  }
  timer->async_wait([socket](boost::system::error_code e) {
    if (!e) socket->close();  // the connect below then fails
  });
  socket->async_connect(
      ep, [this, alive = alive_, address, socket, timer](boost::system::error_code e) {
        timer->cancel();
        if (!*alive) return;
        if (e) return fail_link(address, "connect failed: " + e.message());
        on_connected(address, std::move(*socket));
      });
}

void PeerClient::on_connected(const std::string& address, asio::ip::tcp::socket socket) {
  Link& l = link(address);
  boost::system::error_code ec;
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  l.connecting = false;
  l.backoff = std::chrono::milliseconds(0);
  l.channel =
      std::make_shared<Channel>(std::move(socket), options_.limits.before_handshake(), address);
  Channel::Handlers h;
  h.on_message = [this, address](pb::Envelope reply) {
    auto it = links_.find(address);
    if (it == links_.end()) return;
    if (!it->second->greeted) return on_hello(*it->second, address, reply);
    const uint64_t id = reply.id();  // before the move below
    complete(*it->second, id, {std::move(reply), {}, false});
  };
  h.on_closed = [this, alive = alive_, address](const std::string& why) {
    if (*alive) fail_link(address, "connection lost: " + why);
  };
  l.channel->start(std::move(h));
  l.handshake.emplace(options_.greeting);
  l.channel->send(l.handshake->hello());
  // A listener that never answers (not a partid node) must not hold the
  // requests until each one's own deadline.
  auto timer = std::make_shared<asio::steady_timer>(loop_, options_.connect_timeout);
  timer->async_wait([this, alive = alive_, address, timer,
                     weak = std::weak_ptr<Channel>(l.channel)](boost::system::error_code ec) {
    auto channel = weak.lock();
    if (ec || !*alive || !channel) return;
    auto it = links_.find(address);
    if (it != links_.end() && it->second->channel == channel && !it->second->greeted) {
      channel->close("no Hello from the peer within the connect timeout");
    }
  });
}

void PeerClient::on_hello(Link& l, const std::string& address, const pb::Envelope& answer) {
  auto verdict = l.handshake->on_answer(answer);
  if (verdict.refused) {
    spdlog::warn("peer {}: {}", address, *verdict.refused);
    l.channel->close("handshake failed: " + *verdict.refused);  // on_closed fails the link
    return;
  }
  // The secrets may have changed while it was opening.
  if (secret_retired(verdict.verified_with, options_.greeting.secrets)) {
    l.channel->close("the secret the peer proved was retired");
    return;
  }
  if (verdict.proof) l.channel->send(*verdict.proof);
  l.channel->set_max_frame_bytes(options_.limits.max_frame_bytes);
  l.greeted = true;
  l.verified_with = std::move(verdict.verified_with);
  send_queued(l);
}

void PeerClient::set_secrets(std::vector<std::string> secrets) {
  options_.greeting.secrets = std::move(secrets);
  std::vector<std::shared_ptr<Channel>> retired;
  for (const auto& [address, l] : links_) {
    if (l->channel && l->greeted && secret_retired(l->verified_with, options_.greeting.secrets)) {
      retired.push_back(l->channel);
    }
  }
  // Closing fails the link (its requests in flight included): the next
  // request dials again and proves the secrets now held.
  for (const auto& c : retired) c->close("the secret the peer proved was retired");
}

void PeerClient::send_queued(Link& l) {
  while (!l.queued.empty()) {
    pb::Envelope& e = l.queued.front();
    const uint64_t id = e.id();
    if (!l.channel->send(e)) {
      l.queued.pop_front();
      complete(l, id, {std::nullopt, "peer connection closed or its send queue is full", false});
      continue;
    }
    l.queued.pop_front();
    if (auto it = l.pending.find(id); it != l.pending.end()) it->second.sent = true;
  }
}

void PeerClient::fail_link(const std::string& address, const std::string& why) {
  Link& l = link(address);
  l.connecting = false;
  l.greeted = false;
  l.channel.reset();
  l.queued.clear();
  if (std::any_of(l.pending.begin(), l.pending.end(),
                  [](const auto& kv) { return kv.second.judged; })) {
    l.breaker.on_failure(Clock::now());
  }
  l.backoff = std::min(options_.max_backoff, std::max(options_.min_backoff, l.backoff * 2));
  l.down_until = Clock::now() + l.backoff;
  spdlog::debug("peer {}: {}", address, why);
  auto pending = std::move(l.pending);
  l.pending.clear();
  for (auto& [id, p] : pending) {
    p.timer->cancel();
    PeerReply reply{std::nullopt, why, false};
    reply.maybe_delivered = p.sent;
    p.done(std::move(reply));
  }
}

void PeerClient::complete(Link& l, uint64_t id, PeerReply reply) {
  auto it = l.pending.find(id);
  if (it == l.pending.end()) return;  // late reply after a timeout
  Pending p = std::move(it->second);
  l.pending.erase(it);
  p.timer->cancel();
  if (p.judged && reply.envelope) {
    l.breaker.on_success();
  } else if (p.judged && reply.timed_out) {
    l.breaker.on_failure(Clock::now());
  }
  p.done(std::move(reply));
}

}  // namespace partid::peer
