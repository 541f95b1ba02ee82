// replication: GroupCommit makes storage changes durable in batches, in order,
// with one batch (one write, one fsync) in flight at a time, and beside it at
// most one snapshot install. Every add() names its partition and what must
// happen once its changes are on disk; those callbacks run on the loop, in
// add() order for each partition (and across partitions too, except around a
// snapshot install, below), after the write holding them is durable. This
// is the "persist, then talk" half of the replication core's contract: sends
// and client answers wait here for the disk.
//
// A step that installs a snapshot (change::ReplaceState) is written beside
// the batches, not in one (InstallLane): an install of many megabytes takes
// seconds, and in a batch it held every other partition's acknowledgements
// for as long, so a replica being rebuilt dropped out of its other
// partitions' quorums and their leaders could trim the log it still needed.
// The install waits for what was added before it; its partition's later
// steps wait for it; the other partitions go on.
//
// An op that committed without effect (storage::Refusal) is reported to
// `on_refused` before the callbacks of its write run, so the one waiting for
// it can say why.
//
// A failed write is fatal to the node (the replicas' in-memory state already
// counts those changes as durable; carrying on would break the protocol), so
// the failure callback decides how to stop.
//
// Under load a batch may be held open briefly (CommitDelay) so that more
// steps share its write: each batch costs the disk thread a wake-up, a
// RocksDB write group and a WAL write (and an fsync), and the loop a wake-up
// for its completion, which on a busy machine cost more than the write.
// Threading: add() on the loop; writes run on the disk pool.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "parti/core/async.h"
#include "partid/replication/install_lane.h"
#include "partid/storage/store_engine.h"

namespace partid::replication {

namespace asio = boost::asio;

// PostgreSQL's commit_delay and commit_siblings, counted in steps (one add()
// each: a partition's step of a loop turn) rather than transactions. While
// the node is busy (the batch written last and the steps waiting now number
// at least `siblings`) a batch is held open until it has as many steps as
// the last one (under a steady load their writers come back next; at least
// `siblings`, at most `max_steps`), and at most `delay` after its first step
// was added. A lone write is never held; a batch that already waited that
// long behind the previous write (an fsync) is cut at once; reads ordered
// between writes are never held back.
struct CommitDelay {
  std::chrono::microseconds delay{0};  // 0: every batch is cut at once
  size_t siblings = 4;
  size_t max_steps = 128;
};

class GroupCommit {
 public:
  using After = std::function<void()>;
  using OnFailure = std::function<void(const std::string& why)>;
  using OnRefused = std::function<void(const std::vector<storage::Refusal>&)>;
  // Writes changes atomically and durably (StoreEngine::write_replica), on a
  // disk thread; at most two calls at once, one of them an install.
  using Write = std::function<storage::StoreStatus(const std::vector<storage::ReplicaChange>&)>;

  GroupCommit(asio::any_io_executor loop, asio::thread_pool& disk, Write write,
              OnFailure on_failure, OnRefused on_refused = {}, CommitDelay delay = {});
  // `after` runs once `changes` (all of `partition`) and everything added
  // before for that partition are durable. With no changes and nothing
  // pending for it, it runs at once.
  void add(uint32_t partition, std::vector<storage::ReplicaChange> changes, After after);
  // Runs `job` on the disk pool while no write is in flight and none starts,
  // then `done` on the loop. While an install is written the batches go on
  // and the read waits for both. For a scan that is not ordered after the writes
  // it reads by anything else: RocksDB orders them with atomics ThreadSanitizer
  // cannot see (librocksdb is not instrumented), and this makes the order
  // visible as well as real.
  void read_between_writes(std::function<void()> job, After done);
  bool idle() const { return batches_idle() && installs_.empty(); }
  // How long the oldest storage write in flight, batch or install, has been
  // waiting for the disk (0: none in flight). Reads between writes do not
  // count: a large scan may take long on a healthy disk.
  std::chrono::steady_clock::duration write_waiting(
      std::chrono::steady_clock::time_point now) const;
  // The same for the batch in flight alone: an install's time says how fast
  // the disk takes many megabytes, not how fast it commits.
  std::chrono::steady_clock::duration commit_waiting(
      std::chrono::steady_clock::time_point now) const;
  // `observer` hears how long each batch took (not the installs), from its
  // hand-off to the disk pool to its completion back on the loop
  // (SlowDiskJudge: a node rebuilding large partitions is not slow).
  void observe_writes(std::function<void(std::chrono::steady_clock::duration)> observer) {
    write_observer_ = std::move(observer);
  }
  // `observer` hears each install once durable: its partition, how long it
  // waited for the installs and batches before it, and how long it took to
  // write.
  using InstallObserver = std::function<void(uint32_t partition, std::chrono::milliseconds waited,
                                             std::chrono::milliseconds written)>;
  void observe_installs(InstallObserver observer) { install_observer_ = std::move(observer); }
  // Writes (batches and installs), and the steps (add() calls) they held.
  uint64_t writes() const { return writes_; }
  uint64_t steps_written() const { return steps_written_; }
  uint64_t changes_written() const { return changes_written_; }

 private:
  struct Batch {
    std::vector<storage::ReplicaChange> changes;
    std::vector<After> after;
    size_t steps = 0;  // add() calls
  };
  bool batches_idle() const {
    return !in_flight_ && pending_.changes.empty() && pending_.after.empty();
  }
  void add_to_batch(std::vector<storage::ReplicaChange> changes, After after);
  void schedule();
  bool worth_holding() const;
  void hold_or_post();
  void flush();
  void done(Batch batch, const storage::StoreStatus& status);
  // What a write's completion does for every write: counts it, reports its
  // refusals; false (after on_failure) if it failed.
  bool written(const storage::StoreStatus& status, size_t changes, size_t steps);
  // After any write or read: the next install or batch that may start.
  void next();
  void start_install();
  void install_done(const storage::StoreStatus& status);

  asio::any_io_executor loop_;
  asio::thread_pool& disk_;
  Write write_;
  OnFailure on_failure_;
  OnRefused on_refused_;
  CommitDelay delay_;
  asio::steady_timer hold_;
  std::chrono::steady_clock::time_point pending_since_;
  bool holding_ = false;
  size_t last_steps_ = 0;  // in the batch written last
  struct Read {
    std::function<void()> job;
    After done;
  };
  void run_read();
  Batch pending_;
  std::vector<Read> reads_;
  bool in_flight_ = false;
  bool reading_ = false;  // what is in flight is a read between writes
  std::optional<std::chrono::steady_clock::time_point> write_since_;
  // Batches cut and batches done: an install's barrier counts them.
  uint64_t batches_cut_ = 0;
  uint64_t batches_done_ = 0;
  InstallLane installs_;
  InstallObserver install_observer_;
  bool scheduled_ = false;
  std::function<void(std::chrono::steady_clock::duration)> write_observer_;
  uint64_t writes_ = 0;
  uint64_t changes_written_ = 0;
  uint64_t steps_written_ = 0;
};

}  // namespace partid::replication
