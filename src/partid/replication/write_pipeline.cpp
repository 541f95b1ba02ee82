#include "partid/replication/write_pipeline.h"

#include "parti/core/types.h"

namespace partid::replication {

uint64_t pack_hlc(const parti::HlcTimestamp& t) {
  return (static_cast<uint64_t>(t.physical_ms) << 16) | (t.logical & 0xffff);
}

WritePipeline::WritePipeline(asio::any_io_executor loop, asio::thread_pool& disk,
                             storage::StoreEngine& store, PipelineOptions options)
    : loop_(std::move(loop)), disk_(disk), store_(store), options_(options) {}

void WritePipeline::restore(const std::map<uint32_t, storage::PartitionMeta>& metas) {
  for (const auto& [p, m] : metas) {
    parts_[p] = {m.epoch, m.last_sequence, m.watermark};
    trimmed_below_[p] = 0;
  }
}

PartitionState WritePipeline::state(uint32_t partition) const {
  auto it = parts_.find(partition);
  return it == parts_.end() ? PartitionState{} : it->second;
}

void WritePipeline::submit(std::vector<storage::WriteOp> ops, Done done) {
  if (queued_ops_ + ops.size() > options_.max_queued) {
    std::vector<WriteResult> refused(ops.size(), {false, 0, 0, "overloaded"});
    asio::post(loop_, [done = std::move(done), r = std::move(refused)] { done(r); });
    return;
  }
  queued_ops_ += ops.size();
  queue_.push_back({std::move(ops), std::move(done)});
  schedule_flush();
}

void WritePipeline::schedule_flush() {
  if (in_flight_ || flush_scheduled_ || queue_.empty()) return;
  // Cut the batch after the handlers that are ready right now (requests
  // already read, say) have queued their writes: under load batches grow
  // without a timer, and an idle loop runs this at once.
  flush_scheduled_ = true;
  asio::post(loop_, [this] {
    flush_scheduled_ = false;
    if (!in_flight_) flush();
  });
}

void WritePipeline::flush() {
  if (queue_.empty()) return;
  std::vector<Group> groups;
  std::vector<storage::WriteOp> batch;
  // Whole groups only, so a client's batch is never split across commits.
  size_t taken = 0;
  while (taken < queue_.size() &&
         (batch.empty() || batch.size() + queue_[taken].ops.size() <= options_.max_batch)) {
    ++taken;
    groups.push_back(std::move(queue_[taken - 1]));
    for (auto& op : groups.back().ops) {
      // Sequences continue from the last durable one plus what this batch took.
      PartitionState& s = parts_[op.partition];
      op.version.sequence = s.last_sequence + 1;
      s.last_sequence = op.version.sequence;
      op.version.hlc = pack_hlc(clock_.tick(parti::wall_clock_ms()));
      batch.push_back(op);
    }
  }
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<long>(taken));
  queued_ops_ -= batch.size();
  in_flight_ = true;
  auto job = std::make_shared<std::vector<Group>>(std::move(groups));
  auto ops = std::make_shared<std::vector<storage::WriteOp>>(std::move(batch));
  asio::post(disk_, [this, job, ops] {
    auto status = store_.commit(*ops);
    asio::post(loop_, [this, job, status] { on_committed(std::move(*job), status); });
  });
}

void WritePipeline::on_committed(std::vector<Group> groups, const storage::StoreStatus& status) {
  in_flight_ = false;
  ++commits_;
  for (auto& g : groups) {
    std::vector<WriteResult> results;
    results.reserve(g.ops.size());
    for (const auto& op : g.ops) {
      PartitionState& s = parts_[op.partition];
      if (status.ok) {
        s.watermark = std::max(s.watermark, op.version.sequence);
        s.epoch = std::max(s.epoch, op.version.epoch);
        results.push_back({true, op.version.sequence, op.version.hlc, {}});
        ++committed_ops_;
      } else {
        // Nothing of the batch is on disk: hand its sequences out again.
        s.last_sequence = std::min(s.last_sequence, op.version.sequence - 1);
        results.push_back({false, 0, 0, "storage: " + status.message});
      }
    }
    g.done(std::move(results));
  }
  for (auto& g : groups) {
    for (const auto& op : g.ops) maybe_trim(op.partition);
  }
  schedule_flush();
}

void WritePipeline::maybe_trim(uint32_t partition) {
  const uint64_t watermark = parts_[partition].watermark;
  uint64_t& below = trimmed_below_[partition];
  // Trim in steps of a tenth of the retention, not on every write.
  if (watermark < below + options_.log_retention + options_.log_retention / 10) return;
  below = watermark - options_.log_retention;
  asio::post(disk_, [store = &store_, partition, b = below] {
    store->write_replica({storage::change::TrimLog{partition, b - 1, 0}});
  });
}

}  // namespace partid::replication
