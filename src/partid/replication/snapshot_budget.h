// replication: the memory of the snapshots this node has built for followers
// and not yet delivered (queued behind other transfers, or being sent). A
// follower back with an empty disk asks for every partition at once; without
// a bound its leader built them all and held each, a partition's size, until
// its turn on the wire came. A build starts only while what is held is under
// the budget (--snapshot-budget-mib), so a leader holds at most the budget
// plus the builds running at once (the snapshot pool's threads, each at most
// --max-snapshot-mib); with nothing held a build may always start, however
// large. A build turned away is asked for again at the core's next resend.
// The receiving side counts the snapshots coming in with one of its own
// (FragmentAssembler, --snapshot-receive-budget-mib): from a transfer's first
// fragment (a whole message's from its arrival, SnapshotInbox::count) until
// the last copy of its bytes is dropped (installed or refused), a transfer
// starting only under that budget. Nothing else of a snapshot is held: its
// install reads the items from the bytes (snapshot_items).
// Threading: a copyable handle, used from any thread; bytes count as held
// until their last owner drops them, wherever that is.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "partid/replication/core/types.h"

namespace partid::replication {

class SnapshotBudget {
 public:
  explicit SnapshotBudget(uint64_t budget_bytes) : budget_(budget_bytes) {}

  bool has_room() const {
    const uint64_t held = held_->load();
    return held == 0 || held < budget_;
  }
  uint64_t held() const { return held_->load(); }
  // `bytes` counted as held until the last copy of the token is dropped.
  std::shared_ptr<void> reserve(uint64_t bytes) const {
    held_->fetch_add(bytes);
    return std::shared_ptr<void>(nullptr, [held = held_, bytes](void*) { held->fetch_sub(bytes); });
  }
  // The bytes, shared as a snapshot's, counted as held until the last copy
  // is dropped.
  core::SnapshotBytes hold(std::string bytes) const {
    const uint64_t size = bytes.size();
    return keeping(core::snapshot_bytes(std::move(bytes)), reserve(size));
  }
  // `value` (a snapshot's bytes, or its decoded items) that keeps `token` (a
  // reserve()'s) until its last copy is dropped, wherever that is.
  template <typename T>
  static std::shared_ptr<const T> keeping(std::shared_ptr<const T> value,
                                          std::shared_ptr<void> token) {
    auto owner = std::make_shared<std::pair<std::shared_ptr<const T>, std::shared_ptr<void>>>(
        std::move(value), std::move(token));
    return std::shared_ptr<const T>(owner, owner->first.get());
  }

 private:
  uint64_t budget_;
  std::shared_ptr<std::atomic<uint64_t>> held_ = std::make_shared<std::atomic<uint64_t>>(0);
};

}  // namespace partid::replication
