// peer: the handshake that opens every peer connection. Nodes of different
// versions meet during a rolling upgrade, and a misconfigured node can dial
// another cluster's node: both must be found before any message is acted on,
// with a reason either side can log, not as a stream of frames the other
// misreads. Each side names the range of protocol versions it speaks and its
// cluster; two nodes talk when the ranges overlap and the clusters match.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

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
};

pb::Envelope hello(const Greeting& ours, const std::string& refused = "");
// Why a node that sent `theirs` cannot talk to us; nullopt when it can.
std::optional<std::string> incompatibility(const Greeting& ours, const pb::Hello& theirs);

}  // namespace partid::peer
