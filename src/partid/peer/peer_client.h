// peer: requests to other nodes. One multiplexed connection per peer address,
// opened on first use and reopened after a failure (with backoff: while a
// peer is known down, requests fail at once instead of piling up). A new
// connection carries nothing until the peer has answered our Hello with a
// compatible one and, with a cluster secret, proved it holds it
// (peer/handshake.h): a peer of another cluster or protocol, or without the
// secret, never sees a request, and the requests fail with the reason. Every
// request has a deadline; a reply is matched to its request by id. The number
// of requests in flight per peer is bounded (backpressure), and a circuit
// breaker per peer (CircuitBreaker) fails requests at once while a connected
// peer keeps not answering.
// Guarantees: each callback runs exactly once, on the loop.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "partid/peer/channel.h"
#include "partid/peer/circuit_breaker.h"
#include "partid/peer/handshake.h"

namespace partid::peer {

struct PeerReply {
  std::optional<pb::Envelope> envelope;  // nullopt: failed
  std::string error;                     // why it failed
  bool timed_out = false;
  bool circuit_open = false;                 // refused at once: the peer's circuit is open
  std::chrono::milliseconds retry_after{0};  // with circuit_open: the cooldown
  // Failed after the request was handed to the connection: the peer may have
  // received and acted on it. False: it never left this node.
  bool maybe_delivered = false;
};

struct ClientOptions {
  ChannelLimits limits;
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{2000};
  size_t max_in_flight = 4096;
  BreakerOptions breaker;
  Greeting greeting;
  // The local address connections are made from; unspecified: the kernel's.
  asio::ip::address source;
};

class PeerClient {
 public:
  using Callback = std::function<void(PeerReply)>;
  PeerClient(asio::any_io_executor loop, ClientOptions options = {});
  ~PeerClient();
  // Sends `request` to host:port and calls `done` with the reply or failure.
  void call(const std::string& address, pb::Envelope request, std::chrono::milliseconds timeout,
            Callback done);
  // The same, for a request that measures rather than asks (a clock probe's
  // ping): its outcome is never counted by the peer's circuit breaker, which
  // judges the peer by the requests it serves, and an open circuit does not
  // stop it.
  void call_unjudged(const std::string& address, pb::Envelope request,
                     std::chrono::milliseconds timeout, Callback done);
  // Sends a one-way message (no reply). False, and the message is dropped,
  // when the peer is known down or its queue is full: senders of one-way
  // messages (replication) resend what matters.
  bool post(const std::string& address, pb::Envelope message);
  // The last connection to `address` failed and the backoff before the next
  // try has not passed: what is sent there now fails at once.
  bool known_down(const std::string& address) const;
  void stop();
  // How many times a peer's circuit has opened, over all peers.
  uint64_t circuits_opened() const;
  // New cluster secrets (Greeting::secrets) for the handshakes from now on;
  // connections to peers that proved a secret no longer among them close.
  void set_secrets(std::vector<std::string> secrets);

 private:
  struct Link;
  struct Pending;
  Link& link(const std::string& address);
  void connect(const std::string& address);
  bool bind_source(asio::ip::tcp::socket& socket, const asio::ip::tcp::endpoint& peer,
                   boost::system::error_code& ec);
  void on_connected(const std::string& address, asio::ip::tcp::socket socket);
  void on_hello(Link& l, const std::string& address, const pb::Envelope& answer);
  void fail_link(const std::string& address, const std::string& why);
  void send_queued(Link& l);
  void start_call(const std::string& address, pb::Envelope request,
                  std::chrono::milliseconds timeout, Callback done, bool judged);
  void complete(Link& l, uint64_t id, PeerReply reply);
  void refuse(Link& l, Callback done, std::string why, bool judged);

  asio::any_io_executor loop_;
  ClientOptions options_;
  std::map<std::string, std::unique_ptr<Link>> links_;
  uint64_t next_id_ = 1;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace partid::peer
