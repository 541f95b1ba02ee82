// peer: the handshake that opens every peer connection. Nodes of different
// versions meet during a rolling upgrade, and a misconfigured node can dial
// another cluster's node: both must be found before any message is acted on,
// with a reason either side can log, not as a stream of frames the other
// misreads. Each side names the range of protocol versions it speaks and its
// cluster; two nodes talk when the ranges overlap and the clusters match.
//
// With a cluster secret (peer_auth.h) each side also proves it holds it: the
// dialer's Hello carries its nonce, the acceptor answers with its own nonce
// and its proof, and the dialer's next frame is its proof. A side with a
// secret refuses one without, saying why: a cluster half configured stops
// talking loudly rather than running unauthenticated. Only while a secret is
// being rolled in (`secret_optional`, node by node) does a side with a
// secret still talk to one without; two sides with secrets always prove.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proto/peer.pb.h"

namespace partid::peer {

struct ProtocolRange {
  uint32_t min = 1;
  uint32_t max = 1;
};

// What this build speaks. Raise `max` with a change old nodes cannot read,
// and `min` once no supported version needs the old form any more.
inline constexpr ProtocolRange kProtocol{1, 1};

struct Greeting {
  ProtocolRange protocol = kProtocol;
  std::string cluster;
  // Empty: this node neither gives nor asks a proof. Else the first is the
  // one it proves with and a peer's proof under any of them is accepted (a
  // secret being rotated, peer_auth.h's load_secrets).
  std::vector<std::string> secrets;
  // With a secret: still talk to a peer that has none (the rolling restart
  // that introduces the secret), proving it to peers that ask.
  bool secret_optional = false;
};

// A Hello naming `ours` (and `refused`, the reason, when it answers no).
pb::Envelope hello(const Greeting& ours, const std::string& refused = "");
// Why a node that sent `theirs` cannot talk to us; nullopt when it can.
std::optional<std::string> incompatibility(const Greeting& ours, const pb::Hello& theirs);

// True when a connection opened on a proof under `verified_with` must close
// because that secret is no longer among `secrets` (it was rotated out).
bool secret_retired(const std::string& verified_with, const std::vector<std::string>& secrets);

// The dialer's half of one connection's handshake.
class DialerHandshake {
 public:
  explicit DialerHandshake(Greeting ours);
  // The connection's first frame.
  pb::Envelope hello() const;
  struct Verdict {
    std::optional<std::string> refused;  // why the connection ends
    std::optional<pb::Envelope> proof;   // to send before any request
    // The secret the acceptor proved it holds (empty: no proof was asked).
    std::string verified_with = {};
  };
  // Judges the acceptor's answer to hello().
  Verdict on_answer(const pb::Envelope& answer) const;

 private:
  Greeting ours_;
  std::string nonce_;  // empty without a secret
};

// The acceptor's half: the dialer's Hello, then (with a secret) its proof.
// Nothing else may be acted on before open().
class AcceptorHandshake {
 public:
  explicit AcceptorHandshake(Greeting ours);
  struct Step {
    std::optional<pb::Envelope> reply;   // to send (before closing, if refused)
    std::optional<std::string> refused;  // why the connection ends
  };
  Step on_frame(const pb::Envelope& frame);
  bool open() const { return state_ == State::Open; }
  // Once open: the secret the dialer proved it holds (empty: none was asked).
  const std::string& verified_with() const { return verified_with_; }

 private:
  Step on_hello(const pb::Envelope& frame);
  Step on_proof(const pb::Envelope& frame);
  Step refuse(const std::string& why, bool tell);

  enum class State { AwaitHello, AwaitProof, Open, Closed };
  Greeting ours_;
  State state_ = State::AwaitHello;
  std::string dialer_nonce_, nonce_;
  std::string verified_with_;
};

}  // namespace partid::peer
