// api: waiting at a partition's leader for the locks transactions hold. A
// plain write (alone or in a batch) waits for any lock on its item; a
// transaction's prepare waits only for younger transactions' locks
// (wait-die), so waits never form a cycle. Every wait is bounded (the hold,
// or half the forward timeout for a forwarded request, so the node that
// forwarded never gives up first) and advisory: the replicated entry that
// follows is still refused if it meets a lock when it is applied. A resolve
// that released locks ends the waits of its partition at once (released()).
// Threading: loop only; the lock reads run between group-commit writes.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "parti/core/async.h"
#include "partid/api/http_types.h"
#include "partid/api/metrics.h"
#include "partid/api/wakeable_pauses.h"
#include "partid/replication/replicator.h"
#include "partid/storage/store_engine.h"

namespace partid::api {

class LockWaits {
 public:
  struct Budget {
    std::chrono::milliseconds hold{0};
    std::chrono::milliseconds forward_timeout{5000};
  };
  LockWaits(storage::StoreEngine* store, replication::Replicator* replicator, Metrics* metrics,
            Budget budget)
      : store_(store), replicator_(replicator), metrics_(metrics), budget_(budget) {}

  // A transaction may have locked items of `partition` (its metadata is not
  // in memory, or counts prepared transactions).
  bool may_hold_locks(uint32_t partition) const;
  // Before a write: while a transaction holds a lock on the item (or,
  // without a range key, on any item of the key), waits for it to go.
  asio::awaitable<void> for_item(uint32_t partition, const std::string& partition_key,
                                 const std::string* range_key, const Hop& hop);
  // The same for a batch's items written here: partition after partition,
  // while any of them is locked, within one budget.
  asio::awaitable<void> for_batch(const std::vector<storage::WriteOp>& ops, const Hop& hop);
  // Before transaction `txn`'s prepare: waits while one of its items is
  // locked by a younger transaction (storage::txn_older), never past its own
  // deadline; a lock of an older one ends the wait at once (the prepare is
  // then refused: wait-die).
  asio::awaitable<void> for_younger(uint32_t partition, const std::string& txn,
                                    const std::vector<storage::TxnWrite>& writes, const Hop& hop);
  // A resolve released its transaction's locks in `partition`: the requests
  // waiting there ask again at once.
  void released(uint32_t partition);

 private:
  std::chrono::milliseconds budget(const Hop& hop) const;
  // Asks `locked` (a read of the transaction space) again after each of the
  // hold's pauses until it says false or the next pause would end past
  // `deadline`; counts partid_lock_waits_total once if it waited at all.
  asio::awaitable<void> wait_while_locked(uint32_t partition,
                                          std::chrono::steady_clock::time_point deadline,
                                          std::function<bool()> locked);

  storage::StoreEngine* store_;
  replication::Replicator* replicator_;
  Metrics* metrics_;
  Budget budget_;
  // Per partition: how many resolves released locks here, and the pauses of
  // the requests waiting for a lock to go, which a resolve ends early. At
  // most one entry per partition, never erased.
  struct Waiters {
    uint64_t releases = 0;
    WakeablePauses pauses;
  };
  std::map<uint32_t, Waiters> waiters_;
};

}  // namespace partid::api
