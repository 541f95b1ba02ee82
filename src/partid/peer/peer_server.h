// peer: accepts connections from other nodes and answers their requests.
// A connection's first frame must be a Hello this node can talk to
// (peer/handshake.h): it is answered with ours, otherwise with the reason, and
// the connection closes before anything else on it is read. After that, each
// request envelope goes to the node's handler with a reply function; the
// reply carries the request's id, so replies may leave in any order. A peer
// that sends garbage loses its connection; the server keeps accepting.
// Threading: runs on the loop.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "partid/net/listener.h"
#include "partid/peer/channel.h"
#include "partid/peer/handshake.h"

namespace partid::peer {

class PeerServer {
 public:
  using Reply = std::function<void(pb::Envelope)>;
  using Handler = std::function<void(pb::Envelope request, Reply reply)>;

  PeerServer(asio::any_io_executor loop, ChannelLimits limits, Greeting greeting, Handler handler);
  // Binds host:port (port 0: any free one); throws on failure.
  void listen(const std::string& host, uint16_t port);
  uint16_t port() const;
  void stop();
  uint64_t rejected_connections() const { return rejected_; }

 private:
  void serve(asio::ip::tcp::socket socket);
  // Answers a connection's first frame; false when the connection closes.
  bool greet(Channel& channel, const pb::Envelope& first);

  net::Listener listener_;
  ChannelLimits limits_;
  Greeting greeting_;
  Handler handler_;
  std::set<std::shared_ptr<Channel>> channels_;
  uint64_t rejected_ = 0;
};

}  // namespace partid::peer
