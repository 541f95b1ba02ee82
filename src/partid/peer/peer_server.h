// peer: accepts connections from other nodes and answers their requests.
// A connection must complete the handshake (peer/handshake.h: a Hello this
// node can talk to and, with a cluster secret, the dialer's proof) before
// anything else on it is acted on; a refusal is answered with the reason
// where the protocol allows and the connection closes. Until then its frames
// are limited to kHandshakeFrameBytes and it has `handshake_timeout` to
// finish: a stranger holds neither buffers nor a socket for long, and at
// most `max_opening` connections may be opening at once: past that, the one
// opening longest is closed to admit the new one if it has been opening for
// `reclaim_after` (a peer's handshake takes milliseconds), else the new one
// is closed at accept. A flood of strangers cannot take the node's
// descriptors, nor keep a peer out for longer than `reclaim_after` unless it
// opens max_opening connections faster than that; the open connections of
// its peers are untouched by it. Then each
// request envelope goes to the node's handler with a reply function; the
// reply carries the request's id, so replies may leave in any order. A peer
// that sends garbage loses its connection; the server keeps accepting.
// Threading: runs on the loop.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "partid/net/event_run.h"
#include "partid/net/listener.h"
#include "partid/peer/channel.h"
#include "partid/peer/handshake.h"

namespace partid::peer {

// How a PeerServer lets connections in before their handshake is done.
struct PeerAdmission {
  std::chrono::milliseconds handshake_timeout{10000};
  size_t max_opening = 64;
  std::chrono::milliseconds reclaim_after{1000};
};

class PeerServer {
 public:
  using Reply = std::function<void(pb::Envelope)>;
  using Handler = std::function<void(pb::Envelope request, Reply reply)>;

  PeerServer(asio::any_io_executor loop, ChannelLimits limits, Greeting greeting, Handler handler,
             PeerAdmission admission = {});
  // Binds host:port (port 0: any free one); throws on failure.
  void listen(const std::string& host, uint16_t port);
  uint16_t port() const;
  void stop();
  // Connections closed other than by their peer: refused handshakes,
  // garbage, timeouts.
  uint64_t rejected_connections() const { return rejected_; }
  // New cluster secrets (Greeting::secrets) for the handshakes from now on;
  // connections whose dialer proved a secret no longer among them close.
  void set_secrets(std::vector<std::string> secrets);

 private:
  void serve(asio::ip::tcp::socket socket);
  // False (and the socket closed) when max_opening connections are opening
  // and none of them for reclaim_after.
  bool admit(asio::ip::tcp::socket& socket);
  size_t opening_now() const;
  // Closes the connection opening longest if it has been for reclaim_after.
  bool reclaim_one();
  struct Opening;
  // Takes one handshake frame; opens the channel to requests once done.
  void handshake(Channel& channel, Opening& opening, const pb::Envelope& frame);

  asio::any_io_executor loop_;
  net::Listener listener_;
  ChannelLimits limits_;
  Greeting greeting_;
  Handler handler_;
  PeerAdmission admission_;
  net::EventRun closed_at_accept_;  // since the last connection admitted under the cap
  net::EventRun reclaimed_;         // likewise
  std::map<std::shared_ptr<Channel>, std::shared_ptr<Opening>> channels_;
  uint64_t rejected_ = 0;
};

}  // namespace partid::peer
