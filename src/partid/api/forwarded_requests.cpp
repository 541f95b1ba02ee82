#include "partid/api/forwarded_requests.h"

#include <fmt/format.h>

#include "parti/core/spawn.h"
#include "partid/api/forward_features.h"

namespace partid::api {

void ForwardedRequests::serve(pb::ForwardRequest forward, peer::PeerServer::Reply reply) {
  asio::co_spawn(loop_, run(std::move(forward), std::move(reply)),
                 parti::log_failure("a forwarded request"));
}

asio::awaitable<void> ForwardedRequests::run(pb::ForwardRequest forward,
                                             peer::PeerServer::Reply reply) {
  ApiRequest request{forward.method(), forward.target(), forward.body(), forward.authorization()};
  Hop hop;
  hop.hops = forward.hops();
  hop.tried.assign(forward.tried().begin(), forward.tried().end());
  hop.deadline_unix_ms = forward.deadline_unix_ms();
  ApiResponse response = co_await api_.handle(std::move(request), std::move(hop));
  pb::Envelope out;
  auto* r = out.mutable_forward_reply();
  r->set_status(static_cast<uint32_t>(response.status));
  r->set_retry_after_s(static_cast<uint32_t>(response.retry_after_s));
  r->set_understands(kUnderstoodHere);
  if (response.body.size() <= relayed_.options().part_bytes) {
    r->set_body(std::move(response.body));
    reply(std::move(out));
    co_return;
  }
  // A reply frame over the asker's limit would close the connection, failing
  // every forwarded request in flight on it: the answer is kept and pulled in
  // parts, or, if it cannot be, this request alone fails and says why.
  const size_t total = response.body.size();
  const uint64_t id = forward.accepts_parts()
                          ? relayed_.keep(std::move(response.body), RelayedAnswers::Clock::now())
                          : 0;
  if (id == 0) {
    const auto refused = ApiResponse::error(WebError::bad_request(
        "response_too_large",
        fmt::format("the answer ({} bytes) is larger than a peer frame ({} bytes) and cannot be "
                    "kept for relaying in parts now (at most {} bytes of such answers, "
                    "--max-relayed-bytes): ask for fewer items (limit) or ask the partition's "
                    "leader, {}",
                    total, options_.max_peer_frame_bytes, options_.relayed.budget_bytes,
                    cluster_.self())));
    r->set_status(static_cast<uint32_t>(refused.status));
    r->set_body(refused.body);
    reply(std::move(out));
    co_return;
  }
  r->set_answer(id);
  r->set_total_bytes(total);
  r->set_body(relayed_.part(id, 0, RelayedAnswers::Clock::now())->data);
  forget_later();
  reply(std::move(out));
}

void ForwardedRequests::serve_more(const pb::ForwardMore& more, peer::PeerServer::Reply reply) {
  pb::Envelope out;
  auto* part = out.mutable_forward_part();
  if (auto p = relayed_.part(more.answer(), more.offset(), RelayedAnswers::Clock::now())) {
    part->set_data(std::move(p->data));
  } else {
    part->set_gone(true);
  }
  reply(std::move(out));
}

void ForwardedRequests::forget_later() {
  // Parts are pulled one after another at once; an answer whose asker went
  // away is freed once it has been idle, whether or not another comes.
  auto timer = std::make_shared<asio::steady_timer>(loop_, relayed_.options().idle);
  timer->async_wait([this, timer](boost::system::error_code ec) {
    if (!ec) relayed_.forget_idle(RelayedAnswers::Clock::now());
  });
}

}  // namespace partid::api
