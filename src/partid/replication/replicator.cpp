#include "partid/replication/replicator.h"

#include "partid/replication/core/well_formed.h"

#include "partid/async_bridge.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>
#include <utility>

#include "parti/core/hlc.h"
#include "parti/core/types.h"
#include "partid/replication/core_changes.h"
#include "partid/replication/wire.h"
#include "partid/storage/codec.h"

namespace partid::replication {

namespace {
// hlc_physical_ms() reads it back.
uint64_t pack_hlc(const parti::HlcTimestamp& t) {
  return (static_cast<uint64_t>(t.physical_ms) << 16) | (t.logical & 0xffff);
}

parti::HlcTimestamp unpack_hlc(uint64_t hlc) {
  return {static_cast<int64_t>(hlc >> 16), static_cast<uint32_t>(hlc & 0xffff)};
}

uint64_t newest_hlc(const std::vector<storage::Item>& items) {
  uint64_t newest = 0;
  for (const auto& item : items) newest = std::max(newest, item.version.hlc);
  return newest;
}

uint64_t random_session() {
  std::random_device rd;
  return ((uint64_t(rd()) << 32) ^ rd()) | 1;  // never 0: the session of no round
}
}  // namespace

struct Replicator::WriteGroup {
  std::vector<WriteResult> results;
  size_t remaining = 0;
  Done done;
  std::unique_ptr<asio::steady_timer> timer;
};

struct Replicator::Queued {
  storage::WriteOp op;
  std::shared_ptr<WriteGroup> group;
  size_t index = 0;
};

struct Replicator::Replica {
  explicit Replica(core::ReplicaCore c) : core(std::move(c)) {}
  core::ReplicaCore core;
  bool active = false;
  uint64_t epoch = 0;  // the appointment this replica acts on
  std::string leader;
  std::vector<std::string> members;
  struct Waiter {
    std::shared_ptr<WriteGroup> group;
    size_t index = 0;
    uint64_t hlc = 0;
    std::optional<storage::Refusal> refused;  // committed without effect
  };
  std::map<uint64_t, Waiter> waiting;  // by sequence
  std::map<uint64_t, ReadDone> reads;  // by read id, awaiting confirmation
  std::vector<Queued> queued;          // this turn's writes, not yet proposed
  bool leading = false;
  std::chrono::steady_clock::time_point appointed_at;
  StallClock stall;
  std::map<std::string, StallClock> follower_stalls;  // while it leads
  // An appointment not taken yet (handoff.h): this node's writes in flight
  // are committing (DrainFirst), or the previous leader's Handoff is awaited.
  struct Held {
    Appointment next;
    HandoffPlan plan = HandoffPlan::AwaitHandoff;
    std::string from;  // AwaitHandoff: the previous leader
    std::chrono::steady_clock::time_point deadline;
  };
  std::optional<Held> held;
  // The core's epoch and commit as of the last step whose changes are durable
  // and applied (steps run in order): once they are the core's own, the
  // storage holds every entry the core counts committed, and a read needs
  // no ordering behind the commits in flight (confirms_reads_alone).
  uint64_t applied_epoch = 0;
  uint64_t applied_commit = 0;
};

struct Replicator::Effects {
  uint32_t partition = 0;
  std::vector<core::Outgoing> send;
  std::vector<core::SnapshotRequest> snapshots;
  std::vector<uint64_t> committed;
  std::vector<uint64_t> abandoned;
  std::optional<core::SealRead> read_seal;
  std::optional<core::SealClaim> claim_seal;
  // Settled after every earlier commit: a leader's core may count entries
  // committed (e.g. just after sealing) whose apply is still in flight, and a
  // confirmed read must see them.
  std::vector<uint64_t> reads_confirmed;
  std::vector<uint64_t> reads_failed;
  uint64_t epoch = 0;   // the core's, after the step
  uint64_t commit = 0;  // the core's, after the step
};

Replicator::Replicator(asio::any_io_executor loop, asio::thread_pool& disk,
                       storage::StoreEngine& store, peer::PeerClient& peers, uint64_t disk_id,
                       ReplicatorOptions options, OnFatal on_fatal)
    : loop_(loop),
      disk_(disk),
      store_(store),
      disk_id_(disk_id),
      options_(options),
      on_fatal_(std::move(on_fatal)),
      slow_disk_(options.slow_disk),
      commit_(
          loop, disk, store, [this](const std::string& why) { on_fatal_(why); },
          [this](const std::vector<storage::Refusal>& refused) { on_refused(refused); },
          options.commit_delay),
      outbox_(
          loop, peers, self_, [this](const core::NodeId& n) { return address_of(n); },
          options.max_frame_bytes),
      ticker_(loop, options.tick, [this] { tick(); }),
      session_(random_session()) {
  commit_.observe_writes(
      [this](std::chrono::steady_clock::duration took) { slow_disk_.observe(took); });
  options_.core.read_timeout_ticks =
      std::max<uint64_t>(1, static_cast<uint64_t>(options_.write_timeout / options_.tick));
  options_.core.max_bytes_per_message =
      std::min(options_.core.max_bytes_per_message,
               FrameBudget::of(options_.max_frame_bytes).fragment_bytes);
}

Replicator::~Replicator() { stop(); }

std::map<uint32_t, storage::ReplicaRecord> Replicator::load(const storage::StoreEngine& store) {
  std::map<uint32_t, storage::ReplicaRecord> out;
  for (const auto& [p, meta] : store.all_partition_meta()) out[p] = store.load_replica(p);
  return out;
}

void Replicator::start(core::NodeId self, std::map<uint32_t, storage::ReplicaRecord> restored,
                       std::unique_ptr<SealRegister> seals) {
  self_ = std::move(self);
  seals_ = std::move(seals);
  for (auto& [p, record] : restored) {
    const auto& meta = record.meta;
    std::vector<core::Entry> log;
    log.reserve(record.log.size());
    for (auto& r : record.log)
      log.push_back({r.sequence, r.epoch, r.barrier, std::move(r.payload)});
    core::ReplicaCore c(self_, options_.core, session_);
    c.restore({meta.epoch, meta.watermark, disk_id_, meta.rebuilding},
              {meta.base_epoch, meta.base_sequence}, std::move(log));
    replicas_[p] = std::make_unique<Replica>(std::move(c));
    clock_past_snapshot(meta.hlc_floor);
  }
  ticker_.start();
}

void Replicator::stop() {
  *alive_ = false;
  ticker_.stop();
}

void Replicator::tick() {
  const auto now = std::chrono::steady_clock::now();
  watch_disk(now);
  for (auto& [p, r] : replicas_) {
    settle_held(p, *r, now);
    if (!r->active) continue;
    step(p, *r, r->core.tick());
    watch_followers(*r, now);
  }
}

// A disk that stops answering (a hung device or network volume) fails no
// call: the write just never returns. The node would keep its heartbeats, so
// its leaderships, and every write to those partitions would time out until
// someone stopped it. Stopping it makes them fail over; its disk, once back,
// holds everything it acknowledged (nothing is said before a write returns).
void Replicator::watch_disk(std::chrono::steady_clock::time_point now) {
  const auto waiting = commit_.write_waiting(now);
  judge_disk_speed(now, commit_.commit_waiting(now));
  if (disk_stalled_ || options_.max_disk_stall.count() <= 0) return;
  if (waiting < options_.max_disk_stall) return;
  disk_stalled_ = true;
  on_fatal_("a storage write has not returned for " +
            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(waiting).count()) +
            " ms (--max-disk-stall-ms): the disk is stalled");
}

// A disk that still answers, slowly, stalls nothing above; it is judged on
// its writes' durations, and the node then asks not to lead (slow_disk.h).
void Replicator::judge_disk_speed(std::chrono::steady_clock::time_point now,
                                  std::chrono::steady_clock::duration waiting) {
  const bool was = slow_disk_.slow();
  if (slow_disk_.judge(now, waiting) == was) return;
  const auto median_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(slow_disk_.median()).count();
  if (!was) {
    spdlog::warn(
        "disk slow: the median storage write took {} ms (--slow-disk-ms {}); asking "
        "not to lead partitions",
        median_ms, options_.slow_disk.threshold.count());
  } else {
    spdlog::info("disk fast again: the median storage write took {} ms; may lead partitions",
                 median_ms);
  }
}

const std::string* Replicator::address_of(const core::NodeId& node) const {
  auto it = peer_addresses_.find(node);
  return it == peer_addresses_.end() ? nullptr : &it->second;
}

Replicator::Replica& Replicator::ensure(uint32_t partition) {
  auto& slot = replicas_[partition];
  if (!slot) {
    // No data here: an empty replica. It is not marked rebuilding: a node
    // that lost its disk comes back under a new ID, i.e. as a new member,
    // and a new set is sealed with a quorum of the sealed one (SealRecord).
    // A partition made by a split starts after the source's freeze
    // (LayoutRecord::starts): its empty state is as of that sequence, on
    // every replica alike, and is saved so that a restart finds it so.
    const auto start_it = starts_.find(partition);
    const uint64_t start = start_it == starts_.end() ? 0 : start_it->second;
    core::ReplicaCore c(self_, options_.core, session_);
    c.restore({0, start, disk_id_, false}, {0, start}, {});
    slot = std::make_unique<Replica>(std::move(c));
    if (start > 0) {
      std::vector<storage::ReplicaChange> based{storage::change::TrimLog{partition, start, 0},
                                                storage::change::SaveState{partition, 0, start}};
      commit_.add(std::move(based), [] {});
    }
  }
  return *slot;
}

void Replicator::retire(uint32_t partition) {
  auto it = replicas_.find(partition);
  if (it == replicas_.end()) return;
  if (it->second->active) deactivate(*it->second);
  replicas_.erase(it);
  decoded_snapshots_.erase(partition);
  spdlog::info(
      "partition {}: this node's replica retired (merged away, or an earlier "
      "incarnation); its data is dropped",
      partition);
  // In the write pipeline's order: whatever it still holds for the
  // partition lands first, and a fresh start (ensure) after.
  commit_.add({storage::change::DropPartition{partition}}, [] {});
}

bool Replicator::earlier_incarnation(uint32_t partition, const Replica& r) const {
  auto floor = seal_floors_.find(partition);
  if (floor == seal_floors_.end()) return false;
  // Epochs are assignment versions: the incarnation's own are all at or
  // above its floor; 0 is a replica that has heard of neither.
  const uint64_t seen = std::max(r.core.promised_epoch(), r.core.last().epoch);
  return seen > 0 && seen < floor->second;
}

core::SealRecord Replicator::incarnation_view(uint32_t partition, core::SealRecord record) const {
  auto floor = seal_floors_.find(partition);
  if (floor != seal_floors_.end() && record.config.epoch < floor->second) record.config = {};
  return record;
}

bool Replicator::admitted(const std::string& from, uint32_t partition,
                          const core::Message& message) {
  switch (gate_.admit(from, partition, message)) {
    case EpochGate::Verdict::AheadOfTopology:
      ++stats_.messages_ahead_of_topology;
      if (auto* seal = std::get_if<core::BeginEpoch>(&message))
        park_early_seal(from, partition, *seal);
      return false;
    case EpochGate::Verdict::NotTheLeader:
      ++stats_.messages_not_from_leader;
      return false;
    case EpochGate::Verdict::Deliver:
      break;
  }
  return true;
}

// A new leader that is also the new coordinator has its assignment before
// the others read it, and its BeginEpoch can beat the assignment here. Kept
// (a few bytes each, the oldest dropped past the bound) and delivered once
// the topology has the epoch, so sealing does not wait for its next try.
void Replicator::park_early_seal(const std::string& from, uint32_t partition,
                                 const core::BeginEpoch& seal) {
  if (early_seals_.size() >= kMaxEarlySeals) early_seals_.pop_front();
  early_seals_.push_back({from, partition, seal});
}

void Replicator::deliver_early_seals() {
  auto parked = std::exchange(early_seals_, {});
  for (auto& s : parked) {
    const core::Message message = s.seal;
    if (gate_.admit(s.from, s.partition, message) == EpochGate::Verdict::AheadOfTopology) {
      early_seals_.push_back(std::move(s));  // still ahead: not counted again
      continue;
    }
    ++stats_.early_seals_delivered;
    deliver(s.from, s.partition, message);
  }
}

void Replicator::on_topology(const routing::Topology& topology) {
  gate_.on_topology(topology);
  for (const auto& [id, address] : topology.nodes) peer_addresses_[id] = address.peer;
  partitions_ = topology.partitions;
  starts_ = topology.layout.starts;
  seal_floors_ = topology.layout.seal_floors;
  std::vector<uint32_t> gone;
  for (const auto& [p, r] : replicas_) {
    if (p >= topology.partitions || earlier_incarnation(p, *r)) gone.push_back(p);
  }
  for (uint32_t p : gone) retire(p);
  // Alive for drop-lost-replicas: counted by the coordinator and heartbeating.
  live_nodes_.clear();
  for (const auto& id : topology.workers) {
    if (topology.nodes.contains(id)) live_nodes_.insert(id);
  }
  recorded_nodes_.clear();
  for (const auto& [id, address] : topology.nodes) recorded_nodes_.insert(id);
  for (uint32_t p = 0; p < topology.partitions; ++p) {
    Appointment next{topology.leader_epoch[p], topology.replicas[p]};
    const bool member =
        std::find(next.members.begin(), next.members.end(), self_) != next.members.end();
    auto existing = replicas_.find(p);
    if (!member && existing == replicas_.end()) continue;
    Replica& r = member ? ensure(p) : *existing->second;
    if (r.held && r.held->next == next) continue;  // already on its way
    const bool taken =
        member ? r.active && r.epoch == next.epoch && r.members == next.members : !r.active;
    if (taken) {
      r.held.reset();  // the coordinator went back to what this replica acts on
      continue;
    }
    take(p, r, std::move(next));
  }
  deliver_early_seals();
}

void Replicator::take(uint32_t partition, Replica& r, Appointment next) {
  HandoffInput in;
  in.self = self_;
  if (r.active) in.previous_leader = r.leader;
  in.previous_alive = in.previous_leader && recorded_nodes_.contains(*in.previous_leader);
  in.next_leader = next.leader();
  in.writes_in_flight = !r.waiting.empty();
  in.handoff_heard = handoff_heard(partition, next.epoch);
  const HandoffPlan plan = plan_handoff(in);
  const auto now = std::chrono::steady_clock::now();
  // The others wait longer than a leader drains: its Handoff comes after.
  const auto wait =
      plan == HandoffPlan::DrainFirst ? options_.handoff_timeout : 2 * options_.handoff_timeout;
  switch (plan) {
    case HandoffPlan::AppointNow:
      return appoint(partition, r, next);
    case HandoffPlan::HandOver:
      return hand_over(partition, r, next);
    case HandoffPlan::DrainFirst:
    case HandoffPlan::AwaitHandoff:
      r.held = Replica::Held{std::move(next), plan, in.previous_leader.value_or(""), now + wait};
      return;
    case HandoffPlan::LookUpLeader:
      r.held = Replica::Held{next, plan, "", now + wait};
      return look_up_leader(partition, std::move(next));
  }
}

// Not a replica any more: it keeps its data and still answers sealing (it
// may be one of the sealed set a new leader must hear from), but takes no
// writes.
void Replicator::appoint(uint32_t partition, Replica& r, const Appointment& next) {
  r.held.reset();
  if (std::find(next.members.begin(), next.members.end(), self_) == next.members.end()) {
    if (r.active) deactivate(r);
    return;
  }
  r.active = true;
  r.epoch = next.epoch;
  r.leader = next.leader();
  r.members = next.members;
  r.appointed_at = std::chrono::steady_clock::now();
  step(partition, r, r.core.appoint(next.epoch, r.leader, next.members));
}

void Replicator::hand_over(uint32_t partition, Replica& r, const Appointment& next) {
  std::set<std::string> told(r.members.begin(), r.members.end());
  told.insert(next.members.begin(), next.members.end());
  told.erase(self_);
  for (const auto& node : told) outbox_.add_handoff(node, partition, next.epoch);
  ++stats_.handoffs_sent;
  appoint(partition, r, next);
}

// A replica that never acted on this partition learns who led it from the
// register: its set's leader, if it still has a node record, hands over.
void Replicator::look_up_leader(uint32_t partition, Appointment next) {
  seals_->read(partition, [this, partition, next, alive = alive_](core::SealRecord read) {
    if (!*alive) return;
    const core::SealRecord record = incarnation_view(partition, std::move(read));
    with_replica(partition, [&](Replica& r) {
      if (!r.held || r.held->plan != HandoffPlan::LookUpLeader || !(r.held->next == next)) return;
      const auto& sealed = record.config.members;
      if (sealed.empty() || sealed.front() == self_ || !recorded_nodes_.contains(sealed.front()) ||
          handoff_heard(partition, next.epoch)) {
        return appoint(partition, r, next);
      }
      r.held->plan = HandoffPlan::AwaitHandoff;
      r.held->from = sealed.front();
    });
  });
}

bool Replicator::handoff_heard(uint32_t partition, uint64_t epoch) const {
  auto heard = handoffs_heard_.find(partition);
  return heard != handoffs_heard_.end() && heard->second >= epoch;
}

void Replicator::on_handoff(const std::string& from, uint32_t partition, uint64_t epoch) {
  uint64_t& heard = handoffs_heard_[partition];
  heard = std::max(heard, epoch);
  with_replica(partition, [&](Replica& r) {
    if (!r.held || r.held->plan == HandoffPlan::DrainFirst || epoch < r.held->next.epoch) return;
    if (r.held->plan == HandoffPlan::AwaitHandoff && r.held->from != from) return;
    ++stats_.handoffs_received;
    const Appointment next = r.held->next;  // appoint() clears the hold
    appoint(partition, r, next);
  });
}

// A leader handing over once what it had in flight is answered; any held
// appointment whose wait is over.
void Replicator::settle_held(uint32_t partition, Replica& r,
                             std::chrono::steady_clock::time_point now) {
  if (!r.held) return;
  const bool drained = r.held->plan == HandoffPlan::DrainFirst && r.waiting.empty();
  if (!drained && now < r.held->deadline) return;
  if (!drained) {
    ++stats_.handoffs_timed_out;
    spdlog::info("partition {}: appointment of epoch {} taken without a handoff ({})", partition,
                 r.held->next.epoch,
                 r.held->plan == HandoffPlan::DrainFirst ? "writes in flight did not commit"
                                                         : "no handoff came");
  }
  Appointment next = r.held->next;
  if (r.held->plan == HandoffPlan::DrainFirst) return hand_over(partition, r, next);
  appoint(partition, r, next);
}

void Replicator::deactivate(Replica& r) {
  r.active = false;
  watch_stall(r);
  r.follower_stalls.clear();
  // Queued writes were never proposed: nothing of them exists anywhere. Those
  // proposed may still commit under the next leader: their outcome is unknown.
  for (auto& q : r.queued) {
    complete(q.group, q.index, {false, 0, 0, "not_leader", "this node left the partition"});
  }
  r.queued.clear();
  for (const auto& [seq, w] : r.waiting) {
    complete(w.group, w.index,
             {false, 0, 0, "leadership_lost",
              "this node left the partition; the write may or may not be applied"});
  }
  r.waiting.clear();
  while (!r.reads.empty()) settle_read(r, r.reads.begin()->first, false);
}

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

void Replicator::on_peer_batch(const pb::ReplicationBatch& batch) {
  const std::string& from = batch.from();
  // Only nodes of this cluster speak for partitions; which of them may say
  // what is the cores' business (epochs, the sealed set, the leader).
  if (!peer_addresses_.contains(from)) {
    stats_.unknown_sender_messages += static_cast<uint64_t>(batch.messages_size());
    return;
  }
  for (const auto& h : batch.handoffs()) {
    if (h.partition() < partitions_) on_handoff(from, h.partition(), h.epoch());
  }
  for (const auto& m : batch.messages()) {
    auto message = from_pb(m);
    if (message && m.partition() >= partitions_) {
      ++stats_.messages_outside_topology;
      continue;
    }
    if (!message || !core::well_formed(*message) || !entries_decode(m.partition(), *message)) {
      ++stats_.bad_messages;
      continue;
    }
    if (snapshot_in(*message)) {
      // Gated before the decoding too: a snapshot can be many megabytes,
      // and one the gate refuses must not cost the disk pool its decoding.
      if (admitted(from, m.partition(), *message)) {
        receive_snapshot(from, m.partition(), std::move(*message));
      }
    } else {
      deliver(from, m.partition(), *message);
    }
  }
}

void Replicator::deliver(const std::string& from, uint32_t partition,
                         const core::Message& message) {
  // Checked again here for a snapshot, delivered after its decoding: the
  // topology may have moved on meanwhile. A message refused is counted once:
  // one refused before its decoding never gets here.
  if (partition >= partitions_ || !admitted(from, partition, message)) return;
  auto it = replicas_.find(partition);
  if (it == replicas_.end() && !std::holds_alternative<core::BeginEpoch>(message)) return;
  // A node asked to seal a partition it holds nothing of answers truthfully
  // that it holds nothing: it may be one of the sealed set.
  Replica& r = it == replicas_.end() ? ensure(partition) : *it->second;
  step(partition, r, r.core.receive(from, message));
}

// A snapshot can be many megabytes: it is decoded on the disk pool, and the
// core sees its message only then (after messages that came behind it, which
// the core takes as reordering). Installing it later uses these items rather
// than decode it again (decoded_snapshot).
void Replicator::receive_snapshot(const std::string& from, uint32_t partition,
                                  core::Message message) {
  auto held = std::make_shared<core::Message>(std::move(message));
  asio::post(disk_, [this, from, partition, held, alive = alive_] {
    auto items = decode_snapshot(snapshot_in(*held)->data);
    SnapshotItems shared =
        items ? std::make_shared<const std::vector<storage::Item>>(std::move(*items)) : nullptr;
    const uint64_t newest = shared ? newest_hlc(*shared) : 0;
    asio::post(loop_, [this, from, partition, held, shared, newest, alive] {
      if (!*alive) return;
      if (!shared) {
        ++stats_.bad_messages;
        return;
      }
      clock_past_snapshot(newest);
      const core::Snapshot& s = *snapshot_in(*held);
      decoded_snapshots_[partition] = {s.through, s.data.size(), shared};
      deliver(from, partition, *held);
    });
  });
}

SnapshotItems Replicator::decoded_snapshot(uint32_t partition, const core::Snapshot& snapshot) {
  auto it = decoded_snapshots_.find(partition);
  if (it == decoded_snapshots_.end() || it->second.through != snapshot.through ||
      it->second.bytes != snapshot.data.size()) {
    spdlog::warn("partition {}: installing a snapshot not decoded on arrival; decoding it here",
                 partition);
    auto items = decode_snapshot(snapshot.data);
    if (!items) return nullptr;  // storage_changes refuses it
    clock_past_snapshot(newest_hlc(*items));
    return std::make_shared<const std::vector<storage::Item>>(std::move(*items));
  }
  SnapshotItems items = std::move(it->second.items);
  decoded_snapshots_.erase(it);
  return items;
}

pb::ReplFragmentAck Replicator::on_fragment(const pb::ReplFragment& fragment) {
  pb::ReplFragmentAck ack;
  auto refuse = [&](const std::string& why, uint64_t& counter) {
    ++counter;
    ack.set_error(why);
    return ack;
  };
  if (!peer_addresses_.contains(fragment.from())) {
    return refuse("not a node of this cluster", stats_.unknown_sender_messages);
  }
  auto part = assembler_.add(fragment, FragmentAssembler::Clock::now());
  if (!part.accepted) return refuse(part.error, stats_.bad_messages);
  if (part.message) {
    pb::ReplicationBatch batch;
    if (!batch.ParseFromString(*part.message) || batch.from() != fragment.from()) {
      return refuse("the transfer does not decode", stats_.bad_messages);
    }
    on_peer_batch(batch);
  }
  ack.set_ok(true);
  return ack;
}

void Replicator::step(uint32_t partition, Replica& r, core::Actions actions) {
  if (actions.empty()) {
    watch_stall(r);
    return;
  }
  std::vector<storage::ReplicaChange> changes;
  try {
    changes = storage_changes(partition, actions, r.core, [this, partition](const auto& s) {
      return decoded_snapshot(partition, s);
    });
  } catch (const std::exception& e) {
    on_fatal_(std::string("replication: ") + e.what());
    return;
  }
  auto effects = std::make_shared<Effects>();
  effects->partition = partition;
  effects->send = std::move(actions.send);
  effects->snapshots = std::move(actions.snapshots);
  effects->committed = std::move(actions.committed);
  effects->abandoned = std::move(actions.abandoned);
  effects->read_seal = actions.read_seal;
  effects->claim_seal = std::move(actions.claim_seal);
  effects->reads_confirmed = std::move(actions.reads_confirmed);
  effects->reads_failed = std::move(actions.reads_failed);
  effects->epoch = r.core.epoch();
  effects->commit = r.core.commit();
  commit_.add(std::move(changes), [this, effects, alive = alive_] {
    if (*alive) run(*effects);
  });
  after_step(partition, r);
}

void Replicator::after_step(uint32_t partition, Replica& r) {
  const bool leading = r.core.serving();
  if (leading && !r.leading) {
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - r.appointed_at;
    ++stats_.failovers;
    stats_.last_failover_seconds = took.count();
    stats_.failover_seconds_sum += took.count();
    spdlog::debug("partition {}: leading epoch {} after {:.3f} s (last {}, watermark {})",
                  partition, r.core.epoch(), took.count(), r.core.last().seq, r.core.commit());
    clock_past_log(partition, r);
  }
  r.leading = leading;
  watch_stall(r);
}

// A leader whose clock runs behind its predecessor's would stamp versions
// older than the ones already in the partition, and judge the transaction
// deadlines of its entries on an earlier time than the entries before them
// (storage/txn_apply.cpp: past a deadline, later entries must stay past it).
// So before its first proposal its clock passes the newest op of the log it
// took over. A log a snapshot emptied has no op to pass: the clock passed the
// snapshot's newest item when it arrived, and passes the newest of any
// snapshot installed here again at start (clock_past_snapshot).
void Replicator::clock_past_log(uint32_t partition, const Replica& r) {
  const core::ReplicaLog& log = r.core.log();
  for (uint64_t seq = log.last().seq; seq > log.base().seq; --seq) {
    const core::Entry& e = log.at(seq);
    if (e.barrier) continue;
    const auto op = storage::decode_item_op(partition, {e.seq, e.epoch, e.barrier, e.payload});
    if (op) clock_.merge(unpack_hlc(op->version.hlc), parti::wall_clock_ms());
    return;
  }
}

// Merging a snapshot this node may install (or did: PartitionMeta::hlc_floor)
// into the clock is the HLC's rule for any message received; it may move the
// clock past versions of writes not acknowledged yet, never behind one.
void Replicator::clock_past_snapshot(uint64_t newest_hlc) {
  if (newest_hlc > 0) clock_.merge(unpack_hlc(newest_hlc), parti::wall_clock_ms());
}

// Every step (an empty one too: an early arrival may only fill the buffer).
void Replicator::watch_stall(Replica& r) {
  const auto& c = r.core;
  const bool leading_with_work =
      c.role() == core::Role::leader && (!c.serving() || c.last().seq > c.commit());
  const bool pending = r.active && (c.role() == core::Role::sealing || leading_with_work ||
                                    c.buffered_entries() > 0);
  r.stall.observe(pending, c.commit(), std::chrono::steady_clock::now());
}

// Sampled once per tick, off the per-message path: a follower's match moves
// with every ack, and the report needs no finer grain than the tick.
void Replicator::watch_followers(Replica& r, std::chrono::steady_clock::time_point now) {
  const auto& c = r.core;
  if (c.role() != core::Role::leader) {
    r.follower_stalls.clear();
    return;
  }
  const auto matches = c.follower_matches();
  std::erase_if(r.follower_stalls, [&](const auto& f) { return !matches.contains(f.first); });
  for (const auto& [node, match] : matches) {
    r.follower_stalls[node].observe(match < c.last().seq, match, now);
  }
}

void Replicator::run(const Effects& e) {
  for (const auto& out : e.send) outbox_.add(out.to, e.partition, out.message);
  for (const auto& request : e.snapshots) take_snapshot(e.partition, request);
  if (e.read_seal) read_seal(e.partition, *e.read_seal);
  if (e.claim_seal) claim_seal(e.partition, *e.claim_seal);
  auto it = replicas_.find(e.partition);
  if (it == replicas_.end()) return;
  it->second->applied_epoch = e.epoch;
  it->second->applied_commit = e.commit;
  for (uint64_t seq : e.committed) finish(*it->second, seq, true, {}, {});
  if (it->second->held && it->second->held->plan == HandoffPlan::DrainFirst) {
    settle_held(e.partition, *it->second, std::chrono::steady_clock::now());
  }
  for (uint64_t id : e.reads_confirmed) settle_read(*it->second, id, true);
  for (uint64_t id : e.reads_failed) settle_read(*it->second, id, false);
  for (uint64_t seq : e.abandoned) {
    finish(*it->second, seq, false, "leadership_lost",
           "this node stopped leading the partition before the write committed; it may or may "
           "not be applied");
  }
}

void Replicator::finish(Replica& r, uint64_t seq, bool ok, const std::string& code,
                        const std::string& why) {
  auto it = r.waiting.find(seq);
  if (it == r.waiting.end()) return;
  Replica::Waiter w = std::move(it->second);
  r.waiting.erase(it);
  if (ok && w.refused) {
    complete(w.group, w.index, {false, seq, w.hlc, w.refused->code, w.refused->message});
    return;
  }
  complete(w.group, w.index, {ok, ok ? seq : 0, ok ? w.hlc : 0, code, why});
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

void Replicator::complete(const std::shared_ptr<WriteGroup>& group, size_t index,
                          WriteResult result) {
  if (!group->done || group->results[index].ok || !group->results[index].code.empty()) return;
  --pending_writes_;
  if (result.ok) {
    ++stats_.committed_writes;
  } else {
    ++stats_.failed_writes;
  }
  group->results[index] = std::move(result);
  if (--group->remaining > 0) return;
  if (group->timer) group->timer->cancel();
  auto done = std::move(group->done);
  group->done = nullptr;
  done(std::move(group->results));
}

void Replicator::submit(std::vector<storage::WriteOp> ops, Done done) {
  auto group = std::make_shared<WriteGroup>();
  group->results.resize(ops.size());
  group->remaining = ops.size();
  group->done = std::move(done);
  pending_writes_ += ops.size();
  if (pending_writes_ > options_.max_pending_writes) {
    for (size_t i = 0; i < ops.size(); ++i) {
      complete(group, i, {false, 0, 0, "overloaded", "too many writes in flight; retry"});
    }
    return;
  }
  group->timer = std::make_unique<asio::steady_timer>(loop_, options_.write_timeout);
  group->timer->async_wait([this, group, alive = alive_](boost::system::error_code ec) {
    if (ec || !*alive) return;
    for (size_t i = 0; i < group->results.size(); ++i) {
      complete(group, i,
               {false, 0, 0, "quorum_timeout",
                "no quorum of replicas confirmed the write in time; it may or may not be applied"});
    }
  });
  for (size_t i = 0; i < ops.size(); ++i) {
    const uint32_t p = ops[i].partition;
    auto it = replicas_.find(p);
    if (it == replicas_.end() || !it->second->active || it->second->leader != self_) {
      complete(group, i, {false, 0, 0, "not_leader", "this node does not lead the partition"});
      continue;
    }
    it->second->queued.push_back({std::move(ops[i]), group, i});
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
      complete(q.group, q.index,
               {false, 0, 0, "not_leader", "this node is handing the partition over"});
    }
    return;
  }
  if (!r.core.serving()) {
    // Without a quorum of live replicas a wait cannot help: say so at once.
    const auto lost = quorum_lost(partition);
    for (auto& q : queued) {
      complete(q.group, q.index,
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
    r.waiting[result.first_seq + k] = {queued[k].group, queued[k].index, hlcs[k], std::nullopt};
  }
  step(partition, r, std::move(result.actions));
}

template <class F>
void Replicator::with_replica(uint32_t partition, F f) {
  auto it = replicas_.find(partition);
  if (it != replicas_.end()) f(*it->second);
}

void Replicator::take_snapshot(uint32_t partition, const core::SnapshotRequest& request) {
  // One large transfer per follower and partition at a time: a snapshot
  // built while one is on its way could not be sent.
  if (outbox_.transferring(request.to, partition)) return;
  auto* store = &store_;
  auto alive = alive_;
  asio::post(disk_, [this, store, partition, request, alive] {
    auto image = std::make_shared<storage::PartitionImage>(store->partition_image(partition));
    asio::post(loop_, [this, partition, request, image, alive] {
      if (!*alive) return;
      with_replica(partition, [&](Replica& r) {
        ++stats_.snapshots_sent;
        core::Snapshot snapshot{{image->meta.applied_epoch, image->meta.watermark},
                                encode_snapshot(image->items)};
        step(partition, r, r.core.snapshot_ready(request, std::move(snapshot)));
      });
    });
  });
}

void Replicator::visit_registers(RegisterVisit visit,
                                 std::function<void(std::vector<uint32_t>)> done) {
  struct Gather {
    size_t remaining = 0;
    std::vector<uint32_t> picked;
    std::function<void(std::vector<uint32_t>)> done;
    void finish_one() {
      if (--remaining == 0) done(std::move(picked));
    }
  };
  auto gather = std::make_shared<Gather>();
  gather->remaining = replicas_.size();
  gather->done = std::move(done);
  if (replicas_.empty()) {
    asio::post(loop_, [gather] { gather->done({}); });
    return;
  }
  for (const auto& [p, r] : replicas_) {
    seals_->read(p, [p, gather, visit](core::SealRecord record) {
      visit(p, record, [p, gather](bool picked) {
        if (picked) gather->picked.push_back(p);
        gather->finish_one();
      });
    });
  }
}

namespace {
bool names(const core::SealRecord& record, const core::NodeId& node) {
  const auto& members = record.config.members;
  return std::find(members.begin(), members.end(), node) != members.end();
}
}  // namespace

void Replicator::sealed_with_self(std::function<void(std::vector<uint32_t>)> done) {
  visit_registers([self = self_](uint32_t, const core::SealRecord& record,
                                 RegisterVisited finished) { finished(names(record, self)); },
                  std::move(done));
}

void Replicator::withdraw_from_registers(std::function<void(std::vector<uint32_t>)> done) {
  visit_registers(
      [this](uint32_t p, const core::SealRecord& record, RegisterVisited finished) {
        if (!names(record, self_)) return finished(false);
        core::SealClaim without{{record.config.epoch, {}}, record.revision};
        for (const auto& member : record.config.members) {
          if (member != self_) without.config.members.push_back(member);
        }
        // A lost CAS means another node sealed meanwhile: it no longer needs us.
        seals_->claim(p, without, [finished](bool, core::SealRecord) { finished(true); });
      },
      std::move(done));
}

void Replicator::read_seal(uint32_t partition, const core::SealRead& read) {
  seals_->read(partition, [this, partition, read, alive = alive_](core::SealRecord record) {
    if (!*alive) return;
    const core::SealRecord seen = incarnation_view(partition, std::move(record));
    with_replica(partition,
                 [&](Replica& r) { step(partition, r, r.core.seal_read(read.epoch, seen)); });
  });
}

void Replicator::claim_seal(uint32_t partition, const core::SealClaim& claim) {
  const uint64_t epoch = claim.config.epoch;
  seals_->claim(partition, claim,
                [this, partition, epoch, alive = alive_](bool won, core::SealRecord current) {
                  if (!*alive) return;
                  const core::SealRecord seen = incarnation_view(partition, std::move(current));
                  with_replica(partition, [&](Replica& r) {
                    step(partition, r, r.core.seal_claimed(epoch, won, seen));
                  });
                });
}

void Replicator::drop_lost_replicas(uint32_t partition, AdminDone done, int attempts) {
  auto reseal = [this, partition, done, alive = alive_](std::vector<std::string> dropped) {
    if (!*alive) return;
    with_replica(partition, [&](Replica& r) { step(partition, r, r.core.reseal()); });
    spdlog::warn("admin: drop-lost-replicas on partition {} dropped [{}]; resealing", partition,
                 fmt::join(dropped, ", "));
    done({std::nullopt, false, std::move(dropped)});
  };
  seals_->read(partition, [this, partition, attempts, reseal, done,
                           alive = alive_](core::SealRecord record) {
    if (!*alive) return;
    core::SealClaim survivors{{record.config.epoch, {}}, record.revision};
    std::vector<std::string> dropped;
    for (const auto& member : record.config.members) {
      auto& to = live_nodes_.contains(member) ? survivors.config.members : dropped;
      to.push_back(member);
    }
    if (dropped.empty()) return reseal({});
    if (survivors.config.members.empty()) {
      return seals_->forget(partition, [reseal, dropped] { reseal(dropped); });
    }
    seals_->claim(
        partition, survivors,
        [this, partition, attempts, reseal, done, dropped, alive](bool won, core::SealRecord) {
          if (won) return reseal(dropped);
          if (!*alive) return;
          if (attempts > 1) return drop_lost_replicas(partition, done, attempts - 1);
          done(
              {"the partition's seal register kept changing meanwhile; nothing was "
               "dropped, try again",
               true,
               {}});
        });
  });
}

void Replicator::admin(uint32_t partition, const std::string& operation, uint64_t seq,
                       AdminDone done) {
  auto error = admin_now(partition, operation, seq);
  if (!error && operation == "drop-lost-replicas") {
    drop_lost_replicas(partition, std::move(done));
    return;
  }
  asio::post(loop_, [done = std::move(done), error = std::move(error)] {
    done({error, false, {}});
  });
}

std::optional<std::string> Replicator::admin_now(uint32_t partition, const std::string& operation,
                                                 uint64_t seq) {
  auto it = replicas_.find(partition);
  if (it == replicas_.end() || !it->second->active) {
    return "this node holds no replica of partition " + std::to_string(partition);
  }
  Replica& r = *it->second;
  const auto role = r.core.role();
  core::Actions actions;
  if (operation == "force-watermark") {
    if (seq == 0 || seq > r.core.last().seq) {
      return "seq must be in 1.." + std::to_string(r.core.last().seq);
    }
    actions = r.core.force_watermark(seq);
  } else if (operation == "sync" || operation == "skip") {
    if (role != core::Role::follower) return std::string("only a follower catches up");
    actions = r.core.catch_up(operation == "skip");
  } else if (operation == "failover" || operation == "drop-lost-replicas") {
    if (r.leader != self_) return std::string("only the partition's leader reseals");
    if (operation == "drop-lost-replicas") return std::nullopt;  // checked; admin() runs it
    actions = r.core.reseal();
  } else {
    return "unknown operation '" + operation +
           "' (force-watermark, sync, skip, failover, drop-lost-replicas)";
  }
  spdlog::warn("admin: {} on partition {} (seq {})", operation, partition, seq);
  step(partition, r, std::move(actions));
  return std::nullopt;
}

bool Replicator::serves_reads(uint32_t partition) const {
  auto it = replicas_.find(partition);
  if (it == replicas_.end() || !it->second->active) return false;
  const auto& c = it->second->core;
  return c.serving() && c.log().epoch_at(c.commit()) == c.epoch();
}

bool Replicator::confirms_reads_alone(uint32_t partition) const {
  auto it = replicas_.find(partition);
  if (it == replicas_.end() || !it->second->active) return false;
  const Replica& r = *it->second;
  // A new leader's core counts adopted entries committed while their apply
  // is still on its way to disk: until it has landed, the read goes the long
  // way, settled behind those commits (Effects::reads_confirmed).
  return r.core.confirms_reads_alone() && r.applied_epoch == r.core.epoch() &&
         r.applied_commit >= r.core.commit();
}

std::optional<std::string> Replicator::quorum_lost(uint32_t partition) const {
  auto it = replicas_.find(partition);
  if (it == replicas_.end() || !it->second->active) return std::nullopt;
  auto set = it->second->core.set_out_of_reach(live_nodes_);
  if (!set) return std::nullopt;
  size_t alive = 0;
  for (const auto& node : *set) alive += node == self_ || live_nodes_.contains(node) ? 1 : 0;
  return fmt::format(
      "partition {} has lost a majority of its replicas ({} of {} alive: {}; {} needed): it is "
      "served again when enough of them return, or after an operator runs drop-lost-replicas",
      partition, alive, set->size(), fmt::join(*set, ", "), set->size() / 2 + 1);
}

bool Replicator::serves_replica_reads(uint32_t partition) const {
  auto it = replicas_.find(partition);
  return it != replicas_.end() && it->second->active && !it->second->core.rebuilding();
}

std::vector<ReplicaStatus> Replicator::statuses() const {
  std::vector<ReplicaStatus> out;
  const auto now = std::chrono::steady_clock::now();
  for (const auto& [p, r] : replicas_) {
    const auto& c = r->core;
    // A leader that has not claimed its set yet is still sealing.
    const bool claiming = c.role() == core::Role::leader && !c.serving();
    ReplicaStatus s{p,
                    r->active,
                    claiming ? core::Role::sealing : c.role(),
                    c.epoch(),
                    c.promised_epoch(),
                    c.commit(),
                    c.last().seq,
                    0,
                    c.buffered_entries(),
                    c.rebuilding(),
                    r->leader,
                    serves_reads(p),
                    r->stall.stalled_seconds(now),
                    {},
                    {},
                    0,
                    {}};
    if (c.role() == core::Role::leader) {
      for (const auto& [node, match] : c.follower_matches()) {
        s.lag = std::max(s.lag, c.last().seq - std::min(match, c.last().seq));
        auto stall = r->follower_stalls.find(node);
        s.followers.push_back(
            {node, match, c.log().payload_bytes_after(match), match < c.log().base().seq,
             stall == r->follower_stalls.end() ? 0 : stall->second.stalled_seconds(now)});
      }
    }
    if (r->held) {
      const auto plan = r->held->plan;
      s.handoff = plan == HandoffPlan::DrainFirst     ? "draining"
                  : plan == HandoffPlan::LookUpLeader ? "looking_up"
                                                      : "awaiting";
      s.handoff_epoch = r->held->next.epoch;
      s.handoff_from = r->held->from;
    }
    out.push_back(std::move(s));
  }
  return out;
}

bool Replicator::held_for_handoff(uint32_t partition) const {
  auto it = replicas_.find(partition);
  return it != replicas_.end() && it->second->active && it->second->held.has_value();
}

ReplicatorStats Replicator::stats() const {
  ReplicatorStats s = stats_;
  const auto now = std::chrono::steady_clock::now();
  for (const auto& [p, r] : replicas_) {
    const auto& cs = r->core.stats();
    s.sync_requests += cs.sync_requests;
    s.buffer_overflows += cs.buffer_overflows;
    s.refused += cs.refused;
    s.read_rounds += cs.read_rounds;
    const auto too_long = [&](const StallClock& clock) {
      return std::chrono::duration<double>(clock.stalled_seconds(now)) >= options_.write_timeout;
    };
    s.stalled_partitions += too_long(r->stall) ? 1 : 0;
    for (const auto& [node, clock] : r->follower_stalls)
      s.lagging_followers += too_long(clock) ? 1 : 0;
  }
  s.messages_sent = outbox_.sent_messages();
  s.messages_dropped = outbox_.dropped_messages();
  s.transfers_started = outbox_.fragments().started();
  s.transfers_abandoned = outbox_.fragments().abandoned();
  s.disk_writes = commit_.writes();
  s.disk_slow = slow_disk_.slow();
  s.disk_write_median_seconds = std::chrono::duration<double>(slow_disk_.median()).count();
  s.disk_write_steps = commit_.steps_written();
  s.pending_writes = pending_writes_;
  return s;
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
