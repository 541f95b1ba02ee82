#include "partid/peer/handshake.h"

#include <fmt/format.h>

#include <algorithm>

#include "partid/peer/peer_auth.h"

namespace partid::peer {

pb::Envelope hello(const Greeting& ours, const std::string& refused) {
  pb::Envelope e;
  auto* h = e.mutable_hello();
  h->set_protocol(ours.protocol.max);
  h->set_min_protocol(ours.protocol.min);
  h->set_cluster(ours.cluster);
  h->set_refused(refused);
  return e;
}

std::optional<std::string> incompatibility(const Greeting& ours, const pb::Hello& theirs) {
  if (theirs.cluster() != ours.cluster) {
    return fmt::format("it belongs to cluster '{}', this node to '{}'", theirs.cluster(),
                       ours.cluster);
  }
  if (theirs.min_protocol() > theirs.protocol()) {
    return fmt::format("its protocol range {}-{} is empty", theirs.min_protocol(),
                       theirs.protocol());
  }
  if (theirs.protocol() < ours.protocol.min || theirs.min_protocol() > ours.protocol.max) {
    return fmt::format("it speaks peer protocol {}-{}, this node {}-{}", theirs.min_protocol(),
                       theirs.protocol(), ours.protocol.min, ours.protocol.max);
  }
  return std::nullopt;
}

bool secret_retired(const std::string& verified_with, const std::vector<std::string>& secrets) {
  return !verified_with.empty() &&
         std::find(secrets.begin(), secrets.end(), verified_with) == secrets.end();
}

DialerHandshake::DialerHandshake(Greeting ours)
    : ours_(std::move(ours)), nonce_(ours_.secrets.empty() ? "" : fresh_nonce()) {}

pb::Envelope DialerHandshake::hello() const {
  pb::Envelope e = peer::hello(ours_);
  e.mutable_hello()->set_nonce(nonce_);
  return e;
}

DialerHandshake::Verdict DialerHandshake::on_answer(const pb::Envelope& answer) const {
  if (!answer.has_hello()) {
    return {"it answered our Hello with something else (a node from before the handshake?)", {}};
  }
  const pb::Hello& h = answer.hello();
  if (!h.refused().empty()) return {"it refused this node: " + h.refused(), {}};
  if (auto why = incompatibility(ours_, h)) return {why, {}};
  if (ours_.secrets.empty()) {
    if (!h.proof().empty()) return {"it asks for a cluster secret and this node has none", {}};
    return {};
  }
  if (ours_.secret_optional && h.nonce().empty() && h.proof().empty()) return {};
  if (h.nonce().size() != kNonceBytes || h.proof().empty()) {
    return {"it gives no proof of the cluster secret (has it none?)", {}};
  }
  auto matched =
      proving_secret(ours_.secrets, Role::Acceptor, ours_.cluster, nonce_, h.nonce(), h.proof());
  if (!matched) return {"it could not prove it holds this cluster's secret", {}};
  pb::Envelope mine;
  mine.mutable_peer_proof()->set_proof(
      proof(ours_.secrets.front(), Role::Dialer, ours_.cluster, nonce_, h.nonce()));
  return {std::nullopt, std::move(mine), std::move(*matched)};
}

AcceptorHandshake::AcceptorHandshake(Greeting ours) : ours_(std::move(ours)) {}

AcceptorHandshake::Step AcceptorHandshake::on_frame(const pb::Envelope& frame) {
  switch (state_) {
    case State::AwaitHello:
      return on_hello(frame);
    case State::AwaitProof:
      return on_proof(frame);
    case State::Open:
    case State::Closed:
      break;
  }
  return {};
}

AcceptorHandshake::Step AcceptorHandshake::refuse(const std::string& why, bool tell) {
  state_ = State::Closed;
  if (!tell) return {std::nullopt, why};
  return {peer::hello(ours_, why), why};
}

AcceptorHandshake::Step AcceptorHandshake::on_hello(const pb::Envelope& frame) {
  if (!frame.has_hello()) return refuse("the first frame is not a Hello", false);
  const pb::Hello& h = frame.hello();
  if (auto why = incompatibility(ours_, h)) return refuse(*why, true);
  // Without a secret of our own, or with an optional one and a dialer that
  // has none: open without proofs. A dialer with a secret then decides
  // whether it may go on without ours.
  if (ours_.secrets.empty() || (ours_.secret_optional && h.nonce().empty())) {
    state_ = State::Open;
    return {peer::hello(ours_), std::nullopt};
  }
  if (h.nonce().size() != kNonceBytes) {
    return refuse(h.nonce().empty() ? "it gives no proof of the cluster secret (has it none?)"
                                    : "its challenge is malformed",
                  true);
  }
  dialer_nonce_ = h.nonce();
  nonce_ = fresh_nonce();
  state_ = State::AwaitProof;
  pb::Envelope answer = peer::hello(ours_);
  answer.mutable_hello()->set_nonce(nonce_);
  answer.mutable_hello()->set_proof(
      proof(ours_.secrets.front(), Role::Acceptor, ours_.cluster, dialer_nonce_, nonce_));
  return {std::move(answer), std::nullopt};
}

AcceptorHandshake::Step AcceptorHandshake::on_proof(const pb::Envelope& frame) {
  if (!frame.has_peer_proof()) {
    return refuse("it sent a request before proving it holds the cluster secret", false);
  }
  auto matched = proving_secret(ours_.secrets, Role::Dialer, ours_.cluster, dialer_nonce_, nonce_,
                                frame.peer_proof().proof());
  if (!matched) return refuse("its proof of the cluster secret is wrong", false);
  verified_with_ = std::move(*matched);
  state_ = State::Open;
  return {};
}

}  // namespace partid::peer
