// replication: the client writes a Replicator has taken and not answered.
// One submit is a group of ops; each op (a Slot) is answered once, and the
// group's callback runs once, on the loop, when its last op is answered or
// its deadline passes (every op still open then fails as quorum_timeout).
// Past `max_pending` open ops a new group is refused whole as overloaded.
// Threading: loop only. No deadline fires once the owner's `alive` token is
// false (the owner clears it before destroying this).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "parti/core/async.h"

namespace partid::replication {

namespace asio = boost::asio;

struct WriteResult {
  bool ok = false;
  uint64_t sequence = 0;
  uint64_t hlc = 0;
  std::string code;   // when !ok: not_leader, partition_not_ready, quorum_lost, overloaded,
  std::string error;  // leadership_lost, quorum_timeout, or a storage::Refusal's code:
  // committed and applied without effect by a rule of the partition's state
  // (locked_by_transaction, txn_conflict, txn_decided): the outcome is known.
};

class PendingWrites {
 public:
  using Done = std::function<void(std::vector<WriteResult>)>;
  struct Group;
  // One op of a group.
  struct Slot {
    std::shared_ptr<Group> group;
    size_t index = 0;
  };

  PendingWrites(asio::any_io_executor loop, std::chrono::milliseconds timeout, size_t max_pending,
                std::shared_ptr<bool> alive)
      : loop_(std::move(loop)),
        timeout_(timeout),
        max_pending_(max_pending),
        alive_(std::move(alive)) {}
  PendingWrites(const PendingWrites&) = delete;
  PendingWrites& operator=(const PendingWrites&) = delete;

  // A group of `ops` slots answered through `done`; empty (and every op
  // already answered as overloaded) when too many writes are in flight.
  std::vector<Slot> open(size_t ops, Done done);
  // Answers one op; a slot already answered (or its group timed out) is left.
  void complete(const Slot& slot, WriteResult result);

  size_t pending() const { return pending_; }
  uint64_t committed() const { return committed_; }
  uint64_t failed() const { return failed_; }

 private:
  asio::any_io_executor loop_;
  std::chrono::milliseconds timeout_;
  size_t max_pending_;
  size_t pending_ = 0;
  uint64_t committed_ = 0;
  uint64_t failed_ = 0;
  std::shared_ptr<bool> alive_;
};

}  // namespace partid::replication
