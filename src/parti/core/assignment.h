// core: a versioned assignment of partitions to ordered replica lists. The
// first replica of a partition is its leader. Workers are referenced by index
// so that 100K partitions encode compactly.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "parti/core/types.h"

namespace parti {

struct Assignment {
  uint64_t version = 0;      // strictly increasing across leaders
  uint64_t leader_term = 0;  // election term of the leader that computed it
  std::string leader;        // worker id of that leader
  uint32_t replication_factor = 1;
  std::vector<std::string> workers;             // sorted worker ids
  std::vector<Partition> partitions;            // in source order
  std::vector<std::vector<uint32_t>> replicas;  // per partition: indices into workers
  // Per partition: the version whose publication gave it its current replica
  // list (leader first); kept while the list stays the same. Computed by the
  // coordinator from the assignment it replaces, so every reader agrees on it
  // whichever versions it happened to see (a reader that compared versions
  // itself could not: it may skip some). Empty while a worker does not read
  // it (NodeRecord::reads_since), and in assignments published before it
  // existed; the first one stamped after those starts every list afresh.
  std::vector<uint64_t> since;
  // A step of a staged move (assignment/staging.h), short of the placement:
  // its coordinator publishes the next step a cooldown later, and a new
  // coordinator that finds it goes on with the steps. Readers can tell a
  // resize under way from one finished (partid's GET /cluster/resize).
  bool interim = false;

  bool empty() const { return version == 0; }
  bool has_worker(std::string_view worker) const;
  // Partition ids the worker holds in any replica position.
  std::set<std::string> partitions_of(std::string_view worker) const;
  // Partition ids the worker leads (first replica).
  std::set<std::string> led_by(std::string_view worker) const;
  // Replica worker ids of one partition, leader first.
  std::vector<std::string> replica_ids(size_t partition_index) const;
  // Partition id -> its index here (views into `partitions`): how a later
  // assignment finds a partition's previous placement, by id.
  std::unordered_map<std::string_view, size_t> positions() const;
  // Fills `since` against `previous` (the assignment this one replaces, or
  // nullptr): unchanged lists keep their version, others get this one's.
  void stamp_since(const Assignment* previous);

  friend bool operator==(const Assignment&, const Assignment&) = default;
};

// What changed for one worker between two assignments: real deltas, never the
// full lists passed as "added" (a flaw of the Go original).
struct AssignmentDelta {
  std::set<std::string> added;
  std::set<std::string> removed;
  bool empty() const { return added.empty() && removed.empty(); }
};

AssignmentDelta diff_for_worker(const Assignment& before, const Assignment& after,
                                std::string_view worker);

std::string encode(const Assignment& a);
std::optional<Assignment> decode_assignment(std::string_view bytes, std::string* error);

// Structural check used by decode and by tests: every partition has exactly
// min(RF, workers) distinct replicas, all indices valid.
bool is_well_formed(const Assignment& a, std::string* error);

}  // namespace parti
