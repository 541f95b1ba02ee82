// replication: the node's write path. Each partition has its own sequence
// state (epoch, last sequence, watermark); writes from every partition are
// grouped into one storage commit (group commit: one fsync for many client
// writes) while the previous commit is on disk. Sequences are assigned when a
// batch is handed to storage, from the last durable sequence, so a failed
// commit leaves no gap. Here a quorum is this node alone (RF=1 durability);
// replication to followers extends flush()/on_committed() in its own issue.
//
// Guarantees: a write's callback runs once, on the loop, after its entry and
// item are durable (or with an error, and then nothing of it was written);
// sequences per partition are gapless and increase; at most one commit is in
// flight. Threading: every method runs on the loop; storage runs on `disk`.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "parti/core/async.h"
#include "parti/core/hlc.h"
#include "partid/storage/store_engine.h"

namespace partid::replication {

namespace asio = boost::asio;

struct WriteResult {
  bool ok = false;
  uint64_t sequence = 0;
  uint64_t hlc = 0;
  std::string error;  // set when !ok
};

struct PartitionState {
  uint64_t epoch = 0;
  uint64_t last_sequence = 0;
  uint64_t watermark = 0;
};

struct PipelineOptions {
  size_t max_queued = 20000;       // writes waiting for a commit; more is overload
  size_t max_batch = 2048;         // writes per commit
  uint64_t log_retention = 10000;  // log entries kept behind the watermark
};

class WritePipeline {
 public:
  using Done = std::function<void(std::vector<WriteResult>)>;

  WritePipeline(asio::any_io_executor loop, asio::thread_pool& disk, storage::StoreEngine& store,
                PipelineOptions options = {});
  // Adopts what storage holds (call once, before the first write).
  void restore(const std::map<uint32_t, storage::PartitionMeta>& metas);
  // Queues the ops (partition and epoch set by the caller; sequence and hlc
  // filled in here); `done` gets one result per op, in order. Refuses the
  // whole group at once when the queue is full.
  void submit(std::vector<storage::WriteOp> ops, Done done);

  PartitionState state(uint32_t partition) const;
  size_t queued() const { return queue_.size(); }
  uint64_t commits() const { return commits_; }
  uint64_t committed_ops() const { return committed_ops_; }

 private:
  struct Group {
    std::vector<storage::WriteOp> ops;
    Done done;
  };
  void schedule_flush();
  void flush();
  void on_committed(std::vector<Group> groups, const storage::StoreStatus& status);
  void maybe_trim(uint32_t partition);

  asio::any_io_executor loop_;
  asio::thread_pool& disk_;
  storage::StoreEngine& store_;
  PipelineOptions options_;
  parti::HybridLogicalClock clock_;
  std::vector<Group> queue_;
  size_t queued_ops_ = 0;
  bool in_flight_ = false;
  bool flush_scheduled_ = false;
  std::map<uint32_t, PartitionState> parts_;
  std::map<uint32_t, uint64_t> trimmed_below_;
  uint64_t commits_ = 0;
  uint64_t committed_ops_ = 0;
};

// The HLC packed into 64 bits: wall milliseconds << 16 | logical counter.
uint64_t pack_hlc(const parti::HlcTimestamp& t);

}  // namespace partid::replication
