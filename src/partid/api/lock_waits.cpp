#include "partid/api/lock_waits.h"

#include <algorithm>
#include <set>

#include "parti/core/types.h"
#include "partid/api/hold.h"
#include "partid/api/read_between_writes.h"
#include "partid/storage/txn_space.h"

namespace partid::api {

bool LockWaits::may_hold_locks(uint32_t partition) const {
  auto meta = store_->cached_partition_meta(partition);
  return !meta || meta->pending_txns > 0;
}

std::chrono::milliseconds LockWaits::budget(const Hop& hop) const {
  return hop.hops > 0 ? std::min(budget_.hold, budget_.forward_timeout / 2) : budget_.hold;
}

asio::awaitable<void> LockWaits::wait_while_locked(uint32_t partition,
                                                   std::chrono::steady_clock::time_point deadline,
                                                   std::function<bool()> locked) {
  const std::function<bool()>* ask = &locked;
  Waiters& waiters = waiters_[partition];  // never erased: stays valid
  for (unsigned retry = 1; may_hold_locks(partition); ++retry) {
    const uint64_t releases = waiters.releases;
    if (!co_await read_between_writes(replicator_, [ask] { return (*ask)(); })) co_return;
    const auto pause = hold_pause(retry);
    if (std::chrono::steady_clock::now() + pause > deadline) co_return;
    if (retry == 1) metrics_->count("partid_lock_waits_total");
    if (waiters.releases != releases) {
      // A resolve came while the lock was read: what it read may be stale.
      metrics_->count("partid_lock_waits_woken_total");
      continue;
    }
    if (co_await waiters.pauses.pause(pause)) {  // a resolve ended the pause
      metrics_->count("partid_lock_waits_woken_total");
    }
  }
}

void LockWaits::released(uint32_t partition) {
  auto it = waiters_.find(partition);
  if (it == waiters_.end()) return;
  ++it->second.releases;
  it->second.pauses.wake();
}

asio::awaitable<void> LockWaits::for_item(uint32_t partition, const std::string& partition_key,
                                          const std::string* range_key, const Hop& hop) {
  if (!may_hold_locks(partition)) co_return;
  const auto deadline = std::chrono::steady_clock::now() + budget(hop);
  storage::StoreEngine* store = store_;
  const std::string* pk = &partition_key;
  co_await wait_while_locked(partition, deadline, [store, partition, pk, range_key] {
    if (range_key) return store->txn_lock(partition, *pk, *range_key).has_value();
    return !store->txn_locks(partition, *pk).empty();
  });
}

asio::awaitable<void> LockWaits::for_batch(const std::vector<storage::WriteOp>& ops,
                                           const Hop& hop) {
  std::set<uint32_t> partitions;
  for (const auto& op : ops) {
    if (may_hold_locks(op.partition)) partitions.insert(op.partition);
  }
  if (partitions.empty()) co_return;
  const auto deadline = std::chrono::steady_clock::now() + budget(hop);
  storage::StoreEngine* store = store_;
  const std::vector<storage::WriteOp>* items = &ops;
  for (const uint32_t partition : partitions) {
    co_await wait_while_locked(partition, deadline, [store, partition, items] {
      for (const auto& op : *items) {
        if (op.partition == partition &&
            store->txn_lock(partition, op.partition_key, op.range_key).has_value()) {
          return true;
        }
      }
      return false;
    });
  }
}

asio::awaitable<void> LockWaits::for_younger(uint32_t partition, const std::string& txn,
                                             const std::vector<storage::TxnWrite>& writes,
                                             const Hop& hop) {
  if (!may_hold_locks(partition)) co_return;
  auto deadline = std::chrono::steady_clock::now() + budget(hop);
  // Past its own deadline a prepare is refused anyway (txn_expired).
  if (auto id = storage::parse_txn_id(txn); id && id->deadline_ms) {
    const auto left =
        std::chrono::milliseconds(static_cast<int64_t>(*id->deadline_ms) - parti::wall_clock_ms());
    deadline = std::min(deadline, std::chrono::steady_clock::now() + left);
  }
  storage::StoreEngine* store = store_;
  const std::string* self = &txn;
  const std::vector<storage::TxnWrite>* items = &writes;
  co_await wait_while_locked(partition, deadline, [store, partition, self, items] {
    std::set<std::string> holders;
    for (const auto& w : *items) {
      auto holder = store->txn_lock(partition, w.partition_key, w.range_key);
      if (holder && *holder != *self) holders.insert(std::move(*holder));
    }
    for (const auto& h : holders) {
      if (!storage::txn_older(*self, h)) return false;  // dies: its prepare is refused now
    }
    return !holders.empty();
  });
}

}  // namespace partid::api
