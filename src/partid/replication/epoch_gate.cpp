#include "partid/replication/epoch_gate.h"

namespace partid::replication {

void EpochGate::on_topology(const routing::Topology& topology) {
  version_ = topology.version;
  epochs_agreed_ = topology.epochs_agreed;
  epochs_ = topology.leader_epoch;
  leaders_.assign(topology.replicas.size(), {});
  for (size_t p = 0; p < topology.replicas.size(); ++p) {
    if (!topology.replicas[p].empty()) leaders_[p] = topology.replicas[p].front();
  }
}

EpochGate::Verdict EpochGate::admit(const std::string& from, uint32_t partition,
                                    const core::Message& message) const {
  const uint64_t epoch = epoch_of(message);
  if (epoch > version_) return Verdict::AheadOfTopology;
  if (!epochs_agreed_ || partition >= epochs_.size()) return Verdict::Deliver;
  if (epoch > epochs_[partition]) return Verdict::AheadOfTopology;
  if (epoch == epochs_[partition] && sent_by_leader(message) && from != leaders_[partition]) {
    return Verdict::NotTheLeader;
  }
  return Verdict::Deliver;
}

uint64_t epoch_of(const core::Message& message) {
  return std::visit([](const auto& m) { return m.epoch; }, message);
}

bool sent_by_leader(const core::Message& message) {
  return std::holds_alternative<core::Replicate>(message) ||
         std::holds_alternative<core::BeginEpoch>(message) ||
         std::holds_alternative<core::InstallSnapshot>(message);
}

}  // namespace partid::replication
