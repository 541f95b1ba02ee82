// replication: the Replicator's client writes (queued per loop turn, one
// proposal per partition) and leader reads (one quorum round per loop turn).
#include "partid/replication/replicator_state.h"

#include "partid/async_bridge.h"

#include <utility>

#include "parti/core/hlc.h"
#include "parti/core/types.h"
#include "partid/storage/codec.h"

namespace partid::replication {

namespace {
// hlc_physical_ms() reads it back.
uint64_t pack_hlc(const parti::HlcTimestamp& t) {
  return (static_cast<uint64_t>(t.physical_ms) << 16) | (t.logical & 0xffff);
}
}  // namespace

void Replicator::confirm_read(uint32_t partition, ReadDone done) {
  auto it = replicas_.find(partition);
  if (it == replicas_.end() || !it->second->active) {
    asio::post(loop_, [done = std::move(done)] { done(false); });
    return;
  }
  Replica& r = *it->second;
  const uint64_t id = ++next_read_id_;
  r.reads.emplace(id, std::move(done));
  step(partition, r, r.core.confirm_read(id));
  read_flushes_.insert(partition);
  schedule_turn_end();
}

void Replicator::settle_read(Replica& r, uint64_t id, bool confirmed) {
  auto it = r.reads.find(id);
  if (it == r.reads.end()) return;
  if (!confirmed) ++stats_.reads_unconfirmed;
  // Posted: the reader's coroutine must not resume inside a core step.
  asio::post(loop_, [done = std::move(it->second), confirmed] { done(confirmed); });
  r.reads.erase(it);
}

void Replicator::finish(Replica& r, uint64_t seq, bool ok, const std::string& code,
                        const std::string& why) {
  auto it = r.waiting.find(seq);
  if (it == r.waiting.end()) return;
  Replica::Waiter w = std::move(it->second);
  r.waiting.erase(it);
  if (ok && w.refused) {
    writes_.complete(w.slot, {false, seq, w.hlc, w.refused->code, w.refused->message});
    return;
  }
  writes_.complete(w.slot, {ok, ok ? seq : 0, ok ? w.hlc : 0, code, why});
}

// Only the leader that proposed an entry waits for it: elsewhere a refusal
// is the same rule applied again, and nobody needs to hear it.
void Replicator::on_refused(const std::vector<storage::Refusal>& refused) {
  for (const auto& r : refused) {
    auto it = replicas_.find(r.partition);
    if (it == replicas_.end()) continue;
    auto w = it->second->waiting.find(r.sequence);
    if (w != it->second->waiting.end()) w->second.refused = r;
  }
}

void Replicator::submit(std::vector<storage::WriteOp> ops, Done done) {
  auto slots = writes_.open(ops.size(), std::move(done));
  for (size_t i = 0; i < slots.size(); ++i) {
    auto it = replicas_.find(ops[i].partition);
    if (it == replicas_.end() || !it->second->active || it->second->leader != self_) {
      writes_.complete(slots[i],
                       {false, 0, 0, "not_leader", "this node does not lead the partition"});
      continue;
    }
    it->second->queued.push_back({std::move(ops[i]), std::move(slots[i])});
  }
  schedule_turn_end();
}

void Replicator::schedule_turn_end() {
  if (turn_end_scheduled_) return;
  // One proposal per partition for everything this loop turn brought in
  // (many client writes per replication message), and one read round.
  turn_end_scheduled_ = true;
  asio::post(loop_, [this, alive = alive_] {
    if (!*alive) return;
    turn_end_scheduled_ = false;
    propose_all();
    flush_reads();
  });
}

void Replicator::propose_all() {
  for (auto& [p, r] : replicas_) {
    if (!r->queued.empty()) propose(p, *r);
  }
}

void Replicator::flush_reads() {
  auto partitions = std::move(read_flushes_);
  read_flushes_.clear();
  for (uint32_t p : partitions) {
    auto it = replicas_.find(p);
    if (it != replicas_.end()) step(p, *it->second, it->second->core.flush_reads());
  }
}

void Replicator::propose(uint32_t partition, Replica& r) {
  auto queued = std::move(r.queued);
  r.queued.clear();
  if (!r.active || r.held) {
    // Handing over (or held): nothing new starts here; the node the client
    // reached retries once the next leader serves.
    for (auto& q : queued) {
      writes_.complete(q.slot,
                       {false, 0, 0, "not_leader", "this node is handing the partition over"});
    }
    return;
  }
  if (!r.core.serving()) {
    // Without a quorum of live replicas a wait cannot help: say so at once.
    const auto lost = quorum_lost(partition);
    for (auto& q : queued) {
      writes_.complete(q.slot,
                       lost ? WriteResult{false, 0, 0, "quorum_lost", *lost}
                            : WriteResult{false, 0, 0, "partition_not_ready",
                                          "this node is taking over the partition; retry shortly"});
    }
    return;
  }
  std::vector<std::string> payloads;
  std::vector<uint64_t> hlcs;
  payloads.reserve(queued.size());
  for (auto& q : queued) {
    q.op.version.hlc = pack_hlc(clock_.tick(parti::wall_clock_ms()));
    hlcs.push_back(q.op.version.hlc);
    payloads.push_back(storage::encode_item_op(q.op));
  }
  auto result = r.core.propose(std::move(payloads));
  for (size_t k = 0; k < queued.size(); ++k) {
    r.waiting[result.first_seq + k] = {std::move(queued[k].slot), hlcs[k], std::nullopt};
  }
  step(partition, r, std::move(result.actions));
}

asio::awaitable<std::vector<WriteResult>> replicate(Replicator* replicator,
                                                    std::vector<storage::WriteOp> ops) {
  std::vector<storage::WriteOp>* batch = &ops;
  co_return co_await await_callback<std::vector<WriteResult>>(
      [replicator, batch](std::function<void(std::vector<WriteResult>)> done) {
        replicator->submit(std::move(*batch), std::move(done));
      });
}

}  // namespace partid::replication
