// api: the requests other nodes forwarded to this one. Each runs through the
// ApiService with the hop count, tried set and deadline it came with. An
// answer larger than a peer frame is kept (RelayedAnswers): its first part
// goes with the reply and the asker pulls the rest (ForwardMore), one part
// at a time; one whose asker went away is freed once idle. An answer that
// cannot be kept (an asker of an older build, or the budget spent) fails that
// request alone and says why: a reply frame over the asker's limit would
// close the connection and fail every request in flight on it.
// Threading: loop only.
#pragma once

#include <string>

#include "parti/core/async.h"
#include "partid/api/api_service.h"
#include "partid/api/cluster_view.h"
#include "partid/api/relayed_answers.h"
#include "partid/peer/peer_server.h"

namespace partid::api {

class ForwardedRequests {
 public:
  struct Options {
    RelayedAnswers::Options relayed;
    size_t max_peer_frame_bytes = 0;  // for the message of an answer too large
  };
  // `api` and `cluster` outlive it.
  ForwardedRequests(asio::any_io_executor loop, ApiService& api, const ClusterView& cluster,
                    Options options)
      : loop_(std::move(loop)),
        api_(api),
        cluster_(cluster),
        options_(options),
        relayed_(options.relayed) {}

  // Runs `forward` and replies once it is answered (on a coroutine of its own).
  void serve(pb::ForwardRequest forward, peer::PeerServer::Reply reply);
  // The next part of a kept answer, or `gone` when it is no longer kept.
  void serve_more(const pb::ForwardMore& more, peer::PeerServer::Reply reply);

 private:
  asio::awaitable<void> run(pb::ForwardRequest forward, peer::PeerServer::Reply reply);
  void forget_later();

  asio::any_io_executor loop_;
  ApiService& api_;
  const ClusterView& cluster_;
  Options options_;
  RelayedAnswers relayed_;
};

}  // namespace partid::api
