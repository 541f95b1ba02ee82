#include "partid/peer/handshake.h"

#include <fmt/format.h>

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

}  // namespace partid::peer
