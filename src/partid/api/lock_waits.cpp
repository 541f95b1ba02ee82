// api: waiting at a partition's leader for the locks transactions hold. A
// plain write (alone or in a batch) waits for any lock on its item; a
// transaction's prepare waits only for younger transactions' locks
// (wait-die), so waits never form a cycle. Every wait is bounded and
// advisory: the replicated entry that follows is still refused if it meets a
// lock when it is applied.
#include <set>

#include "parti/core/types.h"
#include "partid/api/api_service.h"
#include "partid/api/hold.h"
#include "partid/api/read_between_writes.h"
#include "partid/storage/txn_space.h"

namespace partid::api {

bool ApiService::may_hold_locks(uint32_t partition) const {
  auto meta = deps_.store->cached_partition_meta(partition);
  return !meta || meta->pending_txns > 0;
}

std::chrono::milliseconds ApiService::lock_wait_budget(const Hop& hop) const {
  return hop.hops > 0 ? std::min(options_.hold, options_.forward_timeout / 2) : options_.hold;
}

asio::awaitable<void> ApiService::wait_while_locked(uint32_t partition,
                                                    std::chrono::steady_clock::time_point deadline,
                                                    std::function<bool()> locked) {
  const std::function<bool()>* ask = &locked;
  LockWaiters& waiters = lock_waiters_[partition];  // never erased: stays valid
  for (unsigned retry = 1; may_hold_locks(partition); ++retry) {
    const uint64_t releases = waiters.releases;
    if (!co_await read_between_writes(deps_.replicator, [ask] { return (*ask)(); })) co_return;
    const auto pause = hold_pause(retry);
    if (std::chrono::steady_clock::now() + pause > deadline) co_return;
    if (retry == 1) deps_.metrics->count("partid_lock_waits_total");
    if (waiters.releases != releases) {
      // A resolve came while the lock was read: what it read may be stale.
      deps_.metrics->count("partid_lock_waits_woken_total");
      continue;
    }
    if (co_await waiters.pauses.pause(pause)) {  // a resolve ended the pause
      deps_.metrics->count("partid_lock_waits_woken_total");
    }
  }
}

void ApiService::wake_lock_waiters(uint32_t partition) {
  auto it = lock_waiters_.find(partition);
  if (it == lock_waiters_.end()) return;
  ++it->second.releases;
  it->second.pauses.wake();
}

asio::awaitable<void> ApiService::wait_for_unlock(uint32_t partition,
                                                  const std::string& partition_key,
                                                  const std::string* range_key, const Hop& hop) {
  if (!may_hold_locks(partition)) co_return;
  const auto deadline = std::chrono::steady_clock::now() + lock_wait_budget(hop);
  storage::StoreEngine* store = deps_.store;
  const std::string* pk = &partition_key;
  co_await wait_while_locked(partition, deadline, [store, partition, pk, range_key] {
    if (range_key) return store->txn_lock(partition, *pk, *range_key).has_value();
    return !store->txn_locks(partition, *pk).empty();
  });
}

asio::awaitable<void> ApiService::wait_for_unlock(const std::vector<storage::WriteOp>& ops,
                                                  const Hop& hop) {
  std::set<uint32_t> partitions;
  for (const auto& op : ops) {
    if (may_hold_locks(op.partition)) partitions.insert(op.partition);
  }
  if (partitions.empty()) co_return;
  const auto deadline = std::chrono::steady_clock::now() + lock_wait_budget(hop);
  storage::StoreEngine* store = deps_.store;
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

asio::awaitable<void> ApiService::wait_for_younger_locks(
    uint32_t partition, const std::string& txn, const std::vector<storage::TxnWrite>& writes,
    const Hop& hop) {
  if (!may_hold_locks(partition)) co_return;
  auto deadline = std::chrono::steady_clock::now() + lock_wait_budget(hop);
  // Past its own deadline a prepare is refused anyway (txn_expired).
  if (auto id = storage::parse_txn_id(txn); id && id->deadline_ms) {
    const auto left =
        std::chrono::milliseconds(static_cast<int64_t>(*id->deadline_ms) - parti::wall_clock_ms());
    deadline = std::min(deadline, std::chrono::steady_clock::now() + left);
  }
  storage::StoreEngine* store = deps_.store;
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
