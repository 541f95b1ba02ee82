// replication: the node-wide budget for held logs. A leader keeps its log
// for a follower it sends a snapshot until that follower has caught up
// (core::ReplicaCore::held_log_bytes); each partition's hold has its own
// limit, but a node that lost its disk makes every partition it had hold its
// leaders' logs at once, and each hold grows with its partition's writes for
// as long as the rebuild takes. Those logs are memory: past the budget, the
// largest holds end first (their followers may need one more snapshot, the
// price of staying within memory), so the fewest holds end. Pure.
#pragma once

#include <cstdint>
#include <vector>

namespace partid::replication {

struct HeldLog {
  uint32_t partition = 0;
  uint64_t bytes = 0;
};

// The partitions whose holds end so that what stays held is at most
// `budget` bytes: the largest first, as few as that takes; none when the
// total is within it.
std::vector<uint32_t> holds_past_budget(std::vector<HeldLog> held, uint64_t budget);

}  // namespace partid::replication
