// api: a request handed to the node that can serve it, over the peer
// transport, and the answer brought back. An answer larger than a peer frame
// comes in parts: the first with the reply, the rest pulled with ForwardMore
// from the node that keeps it (api/relayed_answers.h), one part at a time so
// a large answer never crowds the connection the replication traffic shares.
#include "partid/api/forward_deadline.h"
#include "partid/api/forward_features.h"
#include "partid/api/request_router.h"
#include "partid/async_bridge.h"

#include <fmt/format.h>

namespace partid::api {

using routing::RouteDecision;

namespace {

asio::awaitable<peer::PeerReply> call(peer::PeerClient* peers, const std::string& address,
                                      pb::Envelope envelope, std::chrono::milliseconds timeout) {
  const std::string* to = &address;
  pb::Envelope* env = &envelope;
  co_return co_await await_callback<peer::PeerReply>(
      [peers, to, env, timeout](std::function<void(peer::PeerReply)> done) {
        peers->call(*to, std::move(*env), timeout, std::move(done));
      });
}

// Why a peer call brought no envelope, as the client's error.
ApiResponse failed_call(const peer::PeerReply& reply, const std::string& node, Metrics* metrics) {
  if (reply.circuit_open) {
    metrics->count("partid_forward_failures_total");
    const auto seconds = std::chrono::ceil<std::chrono::seconds>(reply.retry_after).count();
    return ApiResponse::error(WebError::unavailable(
        "peer_circuit_open", node + " keeps failing; not asked again for now: " + reply.error,
        static_cast<int>(std::max<int64_t>(1, seconds))));
  }
  if (reply.timed_out) {
    return ApiResponse::error(
        WebError::timeout("forward_timeout", node + " did not answer in time"));
  }
  metrics->count("partid_forward_failures_total");
  if (reply.maybe_delivered) {
    return ApiResponse::error(WebError::timeout(
        "forward_interrupted", "lost the connection to " + node +
                                   " after sending the request; it may or may not have been "
                                   "applied: " +
                                   reply.error));
  }
  return ApiResponse::error(
      WebError::unavailable("forward_failed", "could not reach " + node + ": " + reply.error));
}

}  // namespace

asio::awaitable<ApiResponse> RequestRouter::forward(const RouteDecision& to,
                                                    const std::string& method,
                                                    const std::string& target,
                                                    const std::string& body, const Hop& hop,
                                                    const std::string& authorization) {
  pb::Envelope envelope;
  auto* f = envelope.mutable_forward();
  f->set_method(method);
  f->set_target(target);
  f->set_body(body);
  f->set_hops(hop.hops + 1);
  f->set_authorization(authorization);
  f->set_accepts_parts(true);
  f->set_deadline_unix_ms(forward_deadline(unix_ms(std::chrono::system_clock::now()),
                                           options_.forward_timeout, hop.deadline_unix_ms));
  for (const auto& t : hop.tried) f->add_tried(t);
  f->add_tried(cluster_->self());
  metrics_->count("partid_forwarded_requests_total");
  peer::PeerReply reply =
      co_await call(peers_, to.peer_address, std::move(envelope), options_.forward_timeout);
  if (!reply.envelope || !reply.envelope->has_forward_reply()) {
    co_return failed_call(reply, to.node, metrics_);
  }
  pb::ForwardReply& r = *reply.envelope->mutable_forward_reply();
  if (auto e = outdated_reply(relied_on(method, target), r.understands(), to.node)) {
    metrics_->count("partid_forward_replies_outdated_total");
    co_return ApiResponse::error(*e);
  }
  ApiResponse out = ApiResponse::json(static_cast<int>(r.status()), std::move(*r.mutable_body()));
  out.retry_after_s = static_cast<int>(r.retry_after_s());
  if (r.answer() != 0) {
    if (auto failed = co_await pull_rest(to, r.answer(), r.total_bytes(), &out.body)) {
      co_return std::move(*failed);
    }
  }
  co_return out;
}

asio::awaitable<std::optional<ApiResponse>> RequestRouter::pull_rest(const RouteDecision& from,
                                                                     uint64_t answer,
                                                                     uint64_t total_bytes,
                                                                     std::string* body) {
  // The request has run on `from`: a failure from here on is the answer's
  // loss, never a reason to run the request again.
  if (total_bytes > options_.max_relayed_bytes) {
    co_return ApiResponse::error(WebError::bad_request(
        "response_too_large",
        fmt::format("the answer ({} bytes) is larger than this node relays ({} bytes, "
                    "--max-relayed-bytes): ask for fewer items (limit) or ask {} directly",
                    total_bytes, options_.max_relayed_bytes, from.node)));
  }
  body->reserve(total_bytes);
  while (body->size() < total_bytes) {
    pb::Envelope more;
    more.mutable_forward_more()->set_answer(answer);
    more.mutable_forward_more()->set_offset(body->size());
    peer::PeerReply reply =
        co_await call(peers_, from.peer_address, std::move(more), options_.forward_timeout);
    if (!reply.envelope || !reply.envelope->has_forward_part()) {
      co_return failed_call(reply, from.node, metrics_);
    }
    const pb::ForwardPart& part = reply.envelope->forward_part();
    if (part.gone() || part.data().empty() || body->size() + part.data().size() > total_bytes) {
      co_return ApiResponse::error(WebError::unavailable(
          "answer_lost", from.node + " no longer holds the rest of its answer; ask again"));
    }
    body->append(part.data());
    metrics_->count("partid_relayed_parts_total");
  }
  co_return std::nullopt;
}

}  // namespace partid::api
