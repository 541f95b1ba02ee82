// peer: accepts connections from other nodes and answers their requests.
// Each request envelope goes to the node's handler with a reply function; the
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

namespace partid::peer {

class PeerServer {
 public:
  using Reply = std::function<void(pb::Envelope)>;
  using Handler = std::function<void(pb::Envelope request, Reply reply)>;

  PeerServer(asio::any_io_executor loop, ChannelLimits limits, Handler handler);
  // Binds host:port (port 0: any free one); throws on failure.
  void listen(const std::string& host, uint16_t port);
  uint16_t port() const;
  void stop();
  uint64_t rejected_connections() const { return rejected_; }

 private:
  void serve(asio::ip::tcp::socket socket);

  net::Listener listener_;
  ChannelLimits limits_;
  Handler handler_;
  std::set<std::shared_ptr<Channel>> channels_;
  uint64_t rejected_ = 0;
};

}  // namespace partid::peer
