#include "partid/split/split_driver.h"

#include <spdlog/spdlog.h>

#include "partid/async_bridge.h"
#include "partid/split/import_batch.h"
#include "partid/storage/txn_space.h"

namespace partid::split {

using routing::LayoutRecord;
using routing::SplitPlan;

namespace {

// The next batch of moving items, after `after` when set (tombstones and
// reserved keys are not copied: the new partition starts empty). Each batch
// reads a scan of its own, which ends with it: the moving keys are frozen,
// so batches from different moments still add up to one state, and no
// RocksDB snapshot outlives a batch (or the store). Blocking: disk pool.
struct Batch {
  std::vector<storage::Item> items;
  std::optional<storage::Item> resume;  // the last item read
  bool last = false;
};

Batch next_batch(const storage::StoreEngine* store, uint32_t source, const storage::SplitRule* rule,
                 const storage::Item* after, size_t budget) {
  storage::PartitionScan scan = store->scan_partition(source, after);
  Batch batch;
  size_t bytes = 0;
  storage::Item item;
  while (bytes < budget) {
    if (!scan.next(&item)) {
      batch.last = true;
      break;
    }
    batch.resume = item;
    if (item.tombstone || storage::is_reserved_key(item.partition_key)) continue;
    if (!rule->excludes(source, item.partition_key)) continue;
    bytes += item.partition_key.size() + item.range_key.size() + item.message.size() + 64;
    batch.items.push_back(std::move(item));
  }
  return batch;
}

}  // namespace

SplitDriver::SplitDriver(SplitDeps deps, SplitOptions options)
    : deps_(deps), options_(options), periodic_(deps.loop, options.interval, [this] { pass(); }) {}

void SplitDriver::stop() {
  *alive_ = false;
  periodic_.stop();
}

void SplitDriver::pass() {
  const LayoutRecord& record = deps_.layouts->current();
  if (running_ || !record.split) return;
  if (!deps_.replicator->serves_reads(record.split->source)) return;
  running_ = true;
  asio::co_spawn(deps_.loop, advance(record), [this, alive = alive_](std::exception_ptr e) {
    if (!*alive) return;
    running_ = false;
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::warn("split pass failed: {}", ex.what());
    }
  });
}

asio::awaitable<void> SplitDriver::advance(LayoutRecord record) {
  switch (record.split->phase) {
    case SplitPlan::Phase::Freezing:
      co_await freeze(std::move(record));
      break;
    case SplitPlan::Phase::Copying:
      co_await copy(std::move(record));
      break;
    case SplitPlan::Phase::Cleaning:
      co_await clean(std::move(record));
      break;
  }
}

asio::awaitable<replication::WriteResult> SplitDriver::write(storage::WriteOp op) {
  std::vector<storage::WriteOp> ops;
  ops.push_back(std::move(op));
  auto results = co_await replication::replicate(deps_.replicator, std::move(ops));
  co_return results.at(0);
}

asio::awaitable<bool> SplitDriver::record_next(SplitPlan from, Next next) {
  LayoutStore* layouts = deps_.layouts;
  auto edit = [from, next](const LayoutRecord& r) -> std::variant<LayoutRecord, std::string> {
    if (!r.split || *r.split != from) return std::string("the split moved on meanwhile");
    LayoutRecord out = r;
    next(out);
    return out;
  };
  // Held by this frame; the callback op may capture only pointers (GCC 12).
  const LayoutStore::Edit held = std::move(edit);
  const LayoutStore::Edit* edit_ptr = &held;
  auto written = co_await await_callback<std::variant<LayoutRecord, std::string>>(
      [layouts, edit_ptr](std::function<void(std::variant<LayoutRecord, std::string>)> done) {
        layouts->change(*edit_ptr, std::move(done));
      });
  if (auto* why = std::get_if<std::string>(&written)) {
    spdlog::warn("split of partition {}: cannot record the next phase: {}", from.source, *why);
    co_return false;
  }
  const auto& r = std::get<LayoutRecord>(written);
  spdlog::info("split of partition {} into {}: {}", from.source, from.target,
               r.split ? routing::phase_name(r.split->phase) : "done");
  co_return true;
}

asio::awaitable<void> SplitDriver::freeze(LayoutRecord record) {
  const SplitPlan plan = *record.split;
  storage::WriteOp op;
  op.kind = storage::WriteOp::Kind::SplitFreeze;
  op.partition = plan.source;
  op.split_rule = {record.layout.after_split(), plan.target, false};
  const replication::WriteResult frozen = co_await write(std::move(op));
  if (!frozen.ok) {
    spdlog::info("split of partition {}: freeze not done yet ({}: {})", plan.source, frozen.code,
                 frozen.error);
    co_return;
  }
  const uint64_t start = frozen.sequence;
  co_await record_next(plan, [start](LayoutRecord& r) {
    r.split->phase = SplitPlan::Phase::Copying;
    r.split->start = start;
    r.starts[r.split->target] = start;
  });
}

asio::awaitable<void> SplitDriver::copy(LayoutRecord record) {
  const SplitPlan plan = *record.split;
  const storage::SplitRule rule{record.layout.after_split(), plan.target, false};
  const storage::StoreEngine* store = deps_.store;
  const uint32_t source = plan.source;
  const storage::SplitRule* moving = &rule;
  const size_t budget = options_.batch_bytes;
  std::optional<storage::Item> resume;
  size_t copied = 0;
  for (;;) {
    const storage::Item* after = resume ? &*resume : nullptr;
    Batch batch = co_await parti::run_blocking(*deps_.disk, [store, source, moving, after, budget] {
      return next_batch(store, source, moving, after, budget);
    });
    resume = std::move(batch.resume);
    if (!batch.items.empty()) {
      std::string body = encode_import_batch(batch.items);
      const api::ApiResponse r =
          co_await deps_.api->send_split_import(plan.target, std::move(body));
      if (r.status != 200) {
        spdlog::info("split of partition {}: copy to {} paused ({}): {}", source, plan.target,
                     r.status, r.body);
        co_return;
      }
      copied += batch.items.size();
    }
    if (batch.last) break;
    if (!*alive_) co_return;
  }
  spdlog::info("split of partition {}: {} items copied to partition {}", source, copied,
               plan.target);
  co_await record_next(plan, [](LayoutRecord& r) {
    r.layout = r.layout.after_split();
    r.split->phase = SplitPlan::Phase::Cleaning;
  });
}

asio::awaitable<void> SplitDriver::clean(LayoutRecord record) {
  const SplitPlan plan = *record.split;
  storage::WriteOp op;
  op.kind = storage::WriteOp::Kind::SplitCleanup;
  op.partition = plan.source;
  const replication::WriteResult cleaned = co_await write(std::move(op));
  if (!cleaned.ok) {
    spdlog::info("split of partition {}: cleanup not done yet ({}: {})", plan.source, cleaned.code,
                 cleaned.error);
    co_return;
  }
  co_await record_next(plan, [](LayoutRecord& r) { r.split.reset(); });
}

}  // namespace partid::split
