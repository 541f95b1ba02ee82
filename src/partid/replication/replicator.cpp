#include "partid/replication/replicator.h"

#include "partid/replication/replicator_state.h"

#include "partid/replication/core/well_formed.h"

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
parti::HlcTimestamp unpack_hlc(uint64_t hlc) {
  return {static_cast<int64_t>(hlc >> 16), static_cast<uint32_t>(hlc & 0xffff)};
}

uint64_t random_session() {
  std::random_device rd;
  return ((uint64_t(rd()) << 32) ^ rd()) | 1;  // never 0: the session of no round
}
}  // namespace

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
                       asio::thread_pool& snapshots, storage::StoreEngine& store,
                       peer::PeerClient& peers, uint64_t disk_id, ReplicatorOptions options,
                       OnFatal on_fatal)
    : loop_(loop),
      snapshot_pool_(snapshots),
      store_(store),
      disk_id_(disk_id),
      options_(options),
      on_fatal_(std::move(on_fatal)),
      slow_disk_(options.slow_disk),
      commit_(
          loop, disk,
          [&store](const std::vector<storage::ReplicaChange>& changes) {
            return store.write_replica(changes);
          },
          [this](const std::string& why) { on_fatal_(why); },
          [this](const std::vector<storage::Refusal>& refused) { on_refused(refused); },
          options.commit_delay),
      outbox_(
          loop, snapshots.get_executor(), peers, self_,
          [this](const core::NodeId& n) { return address_of(n); }, options.max_frame_bytes),
      inbox_(
          loop, snapshots, [this](uint64_t newest) { clock_past_snapshot(newest); }, alive_,
          // A snapshot's transfer also carries the log after it, capped to a
          // fragment (core.max_bytes_per_message below): a frame's room more.
          AssemblerLimits{
              .max_transfer_bytes = options.max_snapshot_bytes + options.max_frame_bytes,
              .budget_bytes = options.snapshot_receive_budget_bytes}),
      writes_(loop, options.write_timeout, options.max_pending_writes, alive_),
      ticker_(loop, options.tick, [this] { tick(); }),
      running_(options.tick + options.max_disk_stall / 2),
      snapshot_budget_(options.snapshot_budget_bytes),
      session_(random_session()) {
  commit_.observe_writes(
      [this](std::chrono::steady_clock::duration took) { slow_disk_.observe(took); });
  commit_.observe_installs([](uint32_t partition, auto waited, auto written) {
    spdlog::info("partition {}: snapshot installed in {} ms, after {} ms behind other writes",
                 partition, written.count(), waited.count());
  });
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
  sweeps_ = std::make_unique<RegisterSweeps>(loop_, *seals_, self_, alive_);
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
  bound_held_logs();
  inbox_.forget_quiet_transfers();
}

void Replicator::bound_held_logs() {
  std::vector<HeldLog> held;
  for (const auto& [p, r] : replicas_) {
    if (const uint64_t bytes = r->core.held_log_bytes(); bytes > 0) held.push_back({p, bytes});
  }
  for (uint32_t p : holds_past_budget(std::move(held), options_.log_hold_budget_bytes)) {
    Replica& r = *replicas_.at(p);
    spdlog::warn(
        "partition {}: its log held for followers being sent a snapshot ({} bytes) is released: "
        "the node's held logs passed their budget of {} bytes",
        p, r.core.held_log_bytes(), options_.log_hold_budget_bytes);
    r.core.release_log_holds();
    ++holds_released_;
  }
}

// A disk that stops answering (a hung device or network volume) fails no
// call: the write just never returns. The node would keep its heartbeats, so
// its leaderships, and every write to those partitions would time out until
// someone stopped it. Stopping it makes them fail over; its disk, once back,
// holds everything it acknowledged (nothing is said before a write returns).
void Replicator::watch_disk(std::chrono::steady_clock::time_point now) {
  const auto waiting = running_.running_part(now, commit_.write_waiting(now));
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
      commit_.add(partition, std::move(based), [] {});
    }
  }
  return *slot;
}

void Replicator::retire(uint32_t partition) {
  auto it = replicas_.find(partition);
  if (it == replicas_.end()) return;
  if (it->second->active) deactivate(*it->second);
  replicas_.erase(it);
  inbox_.forget(partition);
  snapshots_out_.forget(partition);
  spdlog::info(
      "partition {}: this node's replica retired (merged away, or an earlier "
      "incarnation); its data is dropped",
      partition);
  // In the write pipeline's order: whatever it still holds for the
  // partition lands first, and a fresh start (ensure) after.
  commit_.add(partition, {storage::change::DropPartition{partition}}, [] {});
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

void Replicator::on_peer_batch(const pb::ReplicationBatch& batch) {
  const std::string& from = batch.from();
  // Only nodes of this cluster speak for partitions; which of them may say
  // what is the cores' business (epochs, the sealed set, the leader).
  if (!peer_addresses_.contains(from)) {
    stats_.unknown_sender_messages += static_cast<uint64_t>(batch.messages_size());
    return;
  }
  for (const auto& h : batch.handoffs()) {
    if (h.partition() < partitions_) on_handoff(from, h);
  }
  for (const auto& m : batch.messages()) {
    auto message = from_pb(m);
    if (message) inbox_.count(*message);
    on_peer_message(from, m.partition(), std::move(message));
  }
}

void Replicator::on_peer_message(const std::string& from, uint32_t partition,
                                 std::optional<core::Message> message) {
  if (message && partition >= partitions_) {
    ++stats_.messages_outside_topology;
    return;
  }
  if (!message || !core::well_formed(*message) || !entries_decode(partition, *message)) {
    ++stats_.bad_messages;
    return;
  }
  if (!snapshot_in(*message)) return deliver(from, partition, *message);
  // Gated before the reading too: a snapshot can be many megabytes, and one
  // the gate refuses must not cost the snapshot pool its reading.
  if (!admitted(from, partition, *message)) return;
  inbox_.receive(partition, std::move(*message),
                 [this, from, partition](const core::Message* decoded) {
                   if (!decoded) return void(++stats_.bad_messages);
                   deliver(from, partition, *decoded);
                 });
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

namespace {
// Ties the snapshots a transfer carried to the transfer's count in the
// receive budget (FragmentAssembler): counted until the last copy of their
// bytes is dropped, once installed or refused.
void keep_counted(TransferMessages::value_type& messages, const std::shared_ptr<void>& held) {
  for (auto& [partition, message] : messages) {
    core::Snapshot* s = message ? snapshot_in(*message) : nullptr;
    if (s) s->data = SnapshotBudget::keeping(std::move(s->data), held);
  }
}
}  // namespace

void Replicator::on_fragment(const pb::ReplFragment& fragment, FragmentAnswer answer) {
  auto refuse = [&](const std::string& why, uint64_t& counter) {
    ++counter;
    pb::ReplFragmentAck ack;
    ack.set_error(why);
    answer(std::move(ack));
  };
  if (!peer_addresses_.contains(fragment.from())) {
    return refuse("not a node of this cluster", stats_.unknown_sender_messages);
  }
  auto part = inbox_.assemble(fragment);
  if (part.busy) {
    ++stats_.transfers_turned_away;
    pb::ReplFragmentAck later;
    later.set_error(part.error);
    later.set_busy(true);
    return answer(std::move(later));
  }
  if (!part.accepted) return refuse(part.error, stats_.bad_messages);
  pb::ReplFragmentAck ok;
  ok.set_ok(true);
  if (!part.message) return answer(std::move(ok));
  // The whole transfer (a snapshot: as large as its partition) is parsed and
  // converted on the snapshot pool; the last fragment is answered once it is.
  auto bytes = std::make_shared<std::string>(std::move(*part.message));
  asio::post(snapshot_pool_, [this, bytes, held = std::move(part.held), from = fragment.from(),
                              answer = std::move(answer), ok = std::move(ok), loop = loop_,
                              alive = alive_]() mutable {
    auto messages = std::make_shared<TransferMessages>(parse_transfer(std::move(*bytes), from));
    bytes.reset();
    if (*messages) keep_counted(**messages, held);
    asio::post(loop, [this, messages, from, answer = std::move(answer), ok = std::move(ok),
                      alive]() mutable {
      if (!*alive) return;
      if (!messages->has_value()) {
        ++stats_.bad_messages;
        pb::ReplFragmentAck refused;
        refused.set_error("the transfer does not decode");
        return answer(std::move(refused));
      }
      answer(std::move(ok));
      if (!peer_addresses_.contains(from)) return;
      for (auto& [partition, message] : **messages) {
        on_peer_message(from, partition, std::move(message));
      }
    });
  });
}

void Replicator::step(uint32_t partition, Replica& r, core::Actions actions) {
  if (actions.empty()) {
    watch_stall(r);
    return;
  }
  std::vector<storage::ReplicaChange> changes;
  try {
    changes = storage_changes(partition, actions, r.core, [this, partition](const auto& s) {
      return inbox_.take(partition, s);
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
  log_install(partition, actions);
  commit_.add(partition, std::move(changes), [this, effects, alive = alive_] {
    if (*alive) run(*effects);
  });
  after_step(partition, r);
}

void Replicator::log_install(uint32_t partition, const core::Actions& actions) {
  for (const auto& op : actions.persist) {
    if (const auto* replace = std::get_if<core::ReplaceWithSnapshot>(&op)) {
      spdlog::info("partition {}: installing a snapshot ({} bytes through {})", partition,
                   replace->snapshot.size(), replace->snapshot.through.seq);
    }
  }
}

void Replicator::after_step(uint32_t partition, Replica& r) {
  const bool leading = r.core.serving();
  if (leading && !r.leading) {
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - r.appointed_at;
    ++stats_.leaderships_taken;
    if (r.takes_over) {
      ++stats_.failovers;
      stats_.last_failover_seconds = took.count();
      stats_.failover_seconds_sum += took.count();
    }
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

void Replicator::take_snapshot(uint32_t partition, const core::SnapshotRequest& request) {
  // One snapshot per follower and partition at a time: the core resends
  // (and asks for a snapshot again) every few ticks while one is built, sent
  // or installed, and each would read and encode the whole partition again
  // only to be dropped. None for a follower this node cannot reach (no
  // address, or its connection down): a dead replica stays in the set until
  // the coordinator replaces it.
  const auto key = std::make_pair(partition, request.to);
  if (snapshots_building_.contains(key) || !outbox_.reachable(request.to) ||
      outbox_.transferring(request.to, partition) || still_installing(partition, request) ||
      recently_too_large(partition, request.to)) {
    return;
  }
  if (!snapshot_budget_.has_room()) {
    ++stats_.snapshot_builds_deferred;
    return;
  }
  snapshots_building_.insert(key);
  auto* store = &store_;
  auto alive = alive_;
  // Read and encoded on the snapshot pool: a partition's encoding is as large
  // as the partition, the loop serves everything else meanwhile and the disk
  // pool commits (builds for many partitions at once, a wiped node's, held
  // both disk threads for seconds: every write waited). Builds beyond its
  // threads queue, so a leader holds few partitions' copies at once.
  using Clock = std::chrono::steady_clock;
  const auto asked = Clock::now();
  const uint64_t limit = options_.max_snapshot_bytes;
  asio::post(snapshot_pool_, [this, loop = loop_, store, partition, request, alive, asked, limit,
                              budget = snapshot_budget_] {
    // Queued builds see what those before them left held.
    if (!budget.has_room()) {
      asio::post(loop, [this, partition, to = request.to, alive] {
        if (!*alive) return;
        snapshots_building_.erase({partition, to});
        ++stats_.snapshot_builds_deferred;
      });
      return;
    }
    const auto began = Clock::now();
    auto snapshot = std::make_shared<core::Snapshot>();
    bool too_large = false;
    {
      // Encoded as it is read: only the bytes are as large as the partition.
      // Room for RocksDB's estimate and a quarter more is made first (at most
      // the bound): grown by doubling, the bytes were copied at every step,
      // and a build of N bytes held about 1.6N at its last (300 MiB: the
      // leader's peak 79 -> 554 MiB). Room never written takes no memory.
      SnapshotEncoder encoder;
      const uint64_t estimate = store->approximate_item_bytes(partition);
      encoder.reserve(static_cast<size_t>(std::min(limit, estimate + estimate / 4)));
      const storage::PartitionMeta meta =
          store->visit_partition(partition, [&](const storage::Item& item) {
            encoder.add(item);
            too_large = encoder.size() > limit;
            return !too_large;
          });
      snapshot->through = {meta.applied_epoch, meta.watermark};
      if (!too_large) snapshot->data = budget.hold(std::move(encoder).finish());
    }
    if (too_large) {
      asio::post(loop, [this, partition, to = request.to, alive] {
        if (*alive) snapshot_too_large(partition, to);
      });
      return;
    }
    asio::post(loop, [this, partition, request, snapshot, alive, asked, began] {
      if (!*alive) return;
      with_replica(partition, [&](Replica& r) {
        ++stats_.snapshots_sent;
        const auto ms = [](Clock::duration d) {
          return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
        };
        spdlog::info(
            "partition {}: snapshot for {} in epoch {} built ({} bytes through {}) in {} ms, "
            "after {} ms queued",
            partition, request.to, r.core.epoch(), snapshot->size(), snapshot->through.seq,
            ms(Clock::now() - began), ms(began - asked));
        // Only transfers are waited for: a small snapshot costs little to
        // send again, and one lost on the way says nothing.
        if (!request.for_adoption && outbox_.fragmented(snapshot->size())) {
          snapshots_out_.sent(partition, request.to, snapshot->through.seq, snapshot->size(),
                              Clock::now());
        }
        step(partition, r, r.core.snapshot_ready(request, std::move(*snapshot)));
      });
      // Still building until the step's message is in the Outbox (after the
      // step's writes: GroupCommit runs a partition's callbacks in order), where the
      // transfer then keeps the pair busy.
      commit_.add(partition, {}, [this, partition, to = request.to, alive] {
        if (*alive) snapshots_building_.erase({partition, to});
      });
    });
  });
}

void Replicator::snapshot_too_large(uint32_t partition, const core::NodeId& to) {
  snapshots_building_.erase({partition, to});
  snapshots_too_large_[{partition, to}] = std::chrono::steady_clock::now();
  ++stats_.snapshots_too_large;
  spdlog::error(
      "partition {}: a snapshot for {} would pass --max-snapshot-mib ({} MiB): not built "
      "further nor sent, so {} cannot be given this partition whole; split the partition "
      "(partictl split) or raise --max-snapshot-mib on every node. Tried again in {} s",
      partition, to, options_.max_snapshot_bytes >> 20, to, kSnapshotTooLargeRetry.count());
}

bool Replicator::recently_too_large(uint32_t partition, const core::NodeId& to) {
  auto it = snapshots_too_large_.find({partition, to});
  if (it == snapshots_too_large_.end()) return false;
  if (std::chrono::steady_clock::now() - it->second < kSnapshotTooLargeRetry) return true;
  snapshots_too_large_.erase(it);
  return false;
}

bool Replicator::still_installing(uint32_t partition, const core::SnapshotRequest& request) {
  if (request.for_adoption) return false;  // a sealing leader's retry: always served
  auto it = replicas_.find(partition);
  if (it == replicas_.end()) return false;
  const auto matches = it->second->core.follower_matches();
  auto match = matches.find(request.to);
  return snapshots_out_.installing(
      partition, request.to, match == matches.end() ? 0 : match->second,
      std::chrono::steady_clock::now(), outbox_.abandoned_at(request.to, partition));
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

}  // namespace partid::replication
