// replication: the Replicator's operator actions and the seal register
// changes of a node that leaves (RegisterSweeps does the register work).
#include "partid/replication/replicator_state.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

namespace partid::replication {

std::vector<uint32_t> Replicator::held_partitions() const {
  std::vector<uint32_t> held;
  for (const auto& [p, r] : replicas_) held.push_back(p);
  return held;
}

void Replicator::sealed_with_self(std::function<void(std::vector<uint32_t>)> done) {
  sweeps_->naming_self(held_partitions(), std::move(done));
}

void Replicator::withdraw_from_registers(std::function<void(std::vector<uint32_t>)> done) {
  sweeps_->withdraw_self(held_partitions(), std::move(done));
}

void Replicator::drop_lost_replicas(uint32_t partition, AdminDone done) {
  auto reseal = [this, partition, done](std::vector<std::string> dropped) {
    with_replica(partition, [&](Replica& r) { step(partition, r, r.core.reseal()); });
    spdlog::warn("admin: drop-lost-replicas on partition {} dropped [{}]; resealing", partition,
                 fmt::join(dropped, ", "));
    done({std::nullopt, false, std::move(dropped)});
  };
  sweeps_->drop_lost(
      partition, [this](const std::string& node) { return live_nodes_.contains(node); },
      std::move(reseal),
      [done](std::string why) {
        done({std::move(why), true, {}});
      });
}

void Replicator::admin(uint32_t partition, const std::string& operation, uint64_t seq,
                       AdminDone done) {
  auto error = admin_now(partition, operation, seq);
  if (!error && operation == "drop-lost-replicas") {
    drop_lost_replicas(partition, std::move(done));
    return;
  }
  asio::post(loop_, [done = std::move(done), error = std::move(error)] {
    done({error, false, {}});
  });
}

std::optional<std::string> Replicator::admin_now(uint32_t partition, const std::string& operation,
                                                 uint64_t seq) {
  auto it = replicas_.find(partition);
  if (it == replicas_.end() || !it->second->active) {
    return "this node holds no replica of partition " + std::to_string(partition);
  }
  Replica& r = *it->second;
  const auto role = r.core.role();
  core::Actions actions;
  if (operation == "force-watermark") {
    if (seq == 0 || seq > r.core.last().seq) {
      return "seq must be in 1.." + std::to_string(r.core.last().seq);
    }
    actions = r.core.force_watermark(seq);
  } else if (operation == "sync" || operation == "skip") {
    if (role != core::Role::follower) return std::string("only a follower catches up");
    actions = r.core.catch_up(operation == "skip");
  } else if (operation == "failover" || operation == "drop-lost-replicas") {
    if (r.leader != self_) return std::string("only the partition's leader reseals");
    if (operation == "drop-lost-replicas") return std::nullopt;  // checked; admin() runs it
    actions = r.core.reseal();
  } else {
    return "unknown operation '" + operation +
           "' (force-watermark, sync, skip, failover, drop-lost-replicas)";
  }
  spdlog::warn("admin: {} on partition {} (seq {})", operation, partition, seq);
  step(partition, r, std::move(actions));
  return std::nullopt;
}

}  // namespace partid::replication
