#include "partid/split/split_driver.h"

#include <spdlog/spdlog.h>

#include "partid/async_bridge.h"
#include "partid/replication/wire.h"
#include "partid/storage/txn_space.h"

namespace partid::split {

using routing::LayoutRecord;
using routing::SplitPlan;

namespace {

// Whether a split or merge copies an item of its source: a split the live
// items the rule moves; a merge every live item and the transaction records
// (the other reserved items, its split rule and locks, stay: a merging
// partition has no lock, since it froze with no transaction prepared).
bool copied(const routing::SplitPlan& plan, uint32_t source, const storage::SplitRule& rule,
            const storage::Item& item) {
  if (item.tombstone) return false;
  if (storage::is_reserved_key(item.partition_key)) {
    return plan.merge() && storage::is_txn_record(item);
  }
  return rule.excludes(source, item.partition_key);
}

// The next batch of items to copy, after `after` when set (tombstones are
// not copied: the target holds none of these keys). Each batch
// reads a scan of its own, which ends with it: the moving keys are frozen,
// so batches from different moments still add up to one state, and no
// RocksDB snapshot outlives a batch (or the store). Blocking: disk pool.
struct Batch {
  std::vector<storage::Item> items;
  std::optional<storage::Item> resume;  // the last item read
  bool last = false;
};

Batch next_batch(const storage::StoreEngine* store, const routing::SplitPlan* plan,
                 const storage::SplitRule* rule, const storage::Item* after, size_t budget) {
  const uint32_t source = plan->source;
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
    if (!copied(*plan, source, *rule, item)) continue;
    bytes += item.partition_key.size() + item.range_key.size() + item.message.size() + 64;
    batch.items.push_back(std::move(item));
  }
  return batch;
}

// The rule the source freezes with: the layout once the split or merge is
// done, and where the keys go.
storage::SplitRule moving_rule(const LayoutRecord& record) {
  const SplitPlan& plan = *record.split;
  const routing::Layout after =
      plan.merge() ? record.layout.after_merge() : record.layout.after_split();
  return {after, plan.target, false};
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
  std::optional<SplitPlan> from = record.split;
  asio::co_spawn(deps_.loop, advance(record), [this, from, alive = alive_](std::exception_ptr e) {
    if (!*alive) return;
    running_ = false;
    if (!e) {
      if (deps_.layouts->current().split != from) pass();  // a phase recorded: on at once
      return;
    }
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
    spdlog::warn("{} of partition {}: cannot record the next phase: {}",
                 routing::kind_name(from.kind), from.source, *why);
    co_return false;
  }
  const auto& r = std::get<LayoutRecord>(written);
  spdlog::info("{} of partition {} into {}: {}", routing::kind_name(from.kind), from.source,
               from.target, r.split ? routing::phase_name(r.split->phase) : "done");
  co_return true;
}

asio::awaitable<void> SplitDriver::freeze(LayoutRecord record) {
  const SplitPlan plan = *record.split;
  // A split's target may be a partition that merged away before: its
  // earlier incarnation's epochs are all below the version of an
  // assignment without it, as this node's topology is while it matches the
  // record (LayoutRecord::seal_floors).
  const auto topology = deps_.cluster->topology();
  if (topology->partitions != record.partitions()) co_return;  // catching up: next pass
  const uint64_t floor = topology->version;
  storage::WriteOp op;
  op.kind = storage::WriteOp::Kind::SplitFreeze;
  op.partition = plan.source;
  op.split_rule = moving_rule(record);
  const replication::WriteResult frozen = co_await write(std::move(op));
  if (!frozen.ok) {
    spdlog::info("{} of partition {}: freeze not done yet ({}: {})", routing::kind_name(plan.kind),
                 plan.source, frozen.code, frozen.error);
    co_return;
  }
  const uint64_t start = frozen.sequence;
  co_await record_next(plan, [start, floor](LayoutRecord& r) {
    r.split->phase = SplitPlan::Phase::Copying;
    r.split->start = start;
    if (r.split->merge()) return;
    r.starts[r.split->target] = start;
    r.seal_floors[r.split->target] = floor;
  });
}

asio::awaitable<void> SplitDriver::copy(LayoutRecord record) {
  const SplitPlan plan = *record.split;
  const storage::SplitRule rule = moving_rule(record);
  const storage::StoreEngine* store = deps_.store;
  const uint32_t source = plan.source;
  const SplitPlan* planned = &plan;
  const storage::SplitRule* moving = &rule;
  const size_t budget = options_.batch_bytes;
  std::optional<storage::Item> resume;
  size_t count = 0;
  for (;;) {
    const storage::Item* after = resume ? &*resume : nullptr;
    Batch batch =
        co_await parti::run_blocking(*deps_.disk, [store, planned, moving, after, budget] {
          return next_batch(store, planned, moving, after, budget);
        });
    resume = std::move(batch.resume);
    if (!batch.items.empty()) {
      // A snapshot fragment's encoding: protobuf, so binary values (a
      // merge's transaction records) travel as they are.
      std::string body = replication::encode_snapshot(batch.items);
      const api::ApiResponse r =
          co_await deps_.api->send_split_import(plan.target, std::move(body));
      if (r.status != 200) {
        spdlog::info("copy of partition {} to {} paused ({}): {}", source, plan.target, r.status,
                     r.body);
        co_return;
      }
      count += batch.items.size();
    }
    if (batch.last) break;
    if (!*alive_) co_return;
  }
  spdlog::info("{} of partition {}: {} items copied to partition {}", routing::kind_name(plan.kind),
               source, count, plan.target);
  if (plan.merge()) {
    const bool adopted = co_await adopt(plan);
    if (!adopted) co_return;
  }
  co_await record_next(plan, [](LayoutRecord& r) { r.finish_copy(); });
}

asio::awaitable<bool> SplitDriver::adopt(const SplitPlan& plan) {
  const api::ApiResponse r = co_await deps_.api->send_split_import(plan.target, "", plan.start);
  if (r.status != 200) {
    spdlog::info("merge of partition {}: partition {} has not adopted its keys yet ({}): {}",
                 plan.source, plan.target, r.status, r.body);
    co_return false;
  }
  spdlog::info("merge of partition {}: partition {} took its keys over: {}", plan.source,
               plan.target, r.body);
  co_return true;
}

asio::awaitable<void> SplitDriver::clean(LayoutRecord record) {
  const SplitPlan plan = *record.split;
  if (plan.merge()) {
    // Nothing is left to do in the source: removing it from the record
    // retires it everywhere.
    co_await record_next(plan, [](LayoutRecord& r) {
      r.starts.erase(r.split->source);
      r.seal_floors.erase(r.split->source);
      r.split.reset();
    });
    co_return;
  }
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
