#include "support/replication_sim.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <variant>
#include <vector>

#include "partid/overloaded.h"
#include "partid/replication/core/replica.h"

namespace parti::test {
namespace {

using namespace partid::replication::core;

// What a replica has on disk: survives a crash, not a wipe.
struct Disk {
  HardState hard;
  Position base;
  std::vector<Entry> log;          // entries after base
  std::vector<std::string> state;  // applied payloads; state[i] is sequence i + 1
  uint64_t applied = 0;

  const std::string* applied_at(uint64_t seq) const {
    return seq >= 1 && seq <= state.size() ? &state[seq - 1] : nullptr;
  }

  uint64_t last_seq() const { return log.empty() ? base.seq : log.back().seq; }
};

struct SimNode {
  NodeId id;
  std::unique_ptr<ReplicaCore> core;  // null while down
  Disk disk;
  std::map<uint64_t, std::string> proposed;  // this incarnation's open client writes
  // This incarnation's open reads: id -> the highest sequence acknowledged to
  // any client when the read began.
  std::map<uint64_t, uint64_t> reads;
};

struct Appointment {
  uint64_t epoch;
  NodeId leader;
  std::vector<NodeId> members;
};

// A replica's call to the seal register, and its answer.
struct RegisterCall {
  std::variant<SealRead, SealClaim> call;
};
struct RegisterAnswer {
  bool claim = false;
  uint64_t epoch = 0;
  bool won = false;
  SealRecord record;
};

const NodeId kRegister = "register";

struct Flight {
  NodeId from, to;
  std::variant<Message, Appointment, RegisterCall, RegisterAnswer> what;
};

std::string describe(const Message& message) {
  struct V {
    std::string operator()(const Replicate& m) const {
      return fmt::format(
          "Replicate e{} prev({},{}) n{}{} c{}", m.epoch, m.prev.epoch, m.prev.seq,
          m.entries.size(),
          m.entries.empty() ? std::string()
                            : fmt::format(" [{}..{}]", m.entries.front().seq, m.entries.back().seq),
          m.commit);
    }
    std::string operator()(const ReplicateAck& m) const {
      return fmt::format("Ack e{} {} {} round {}", m.epoch, m.ok ? "ok" : "NO", m.last, m.round);
    }
    std::string operator()(const BeginEpoch& m) const {
      return fmt::format("BeginEpoch e{}", m.epoch);
    }
    std::string operator()(const EpochPromise& m) const {
      return fmt::format("Promise e{} last({},{}) c{}{}", m.epoch, m.last.epoch, m.last.seq,
                         m.commit, m.rebuilding ? " rebuilding" : "");
    }
    std::string operator()(const Refuse& m) const { return fmt::format("Refuse e{}", m.epoch); }
    std::string operator()(const SyncRequest& m) const {
      return fmt::format("SyncRequest e{} {}..{}", m.epoch, m.from, m.to);
    }
    std::string operator()(const InstallSnapshot& m) const {
      return fmt::format("InstallSnapshot e{} through({},{})", m.epoch, m.snapshot.through.epoch,
                         m.snapshot.through.seq);
    }
    std::string operator()(const SyncReply& m) const {
      return fmt::format("SyncReply e{} from {} n{}{}", m.epoch, m.from, m.entries.size(),
                         m.snapshot ? " +snapshot" : "");
    }
  };
  return std::visit(V{}, message);
}

class World {
 public:
  explicit World(const SimOptions& options)
      : o_(options), rng_(options.seed), trace_(std::getenv("PARTID_SIM_TRACE") != nullptr) {
    core_options_.log_retention = options.log_retention;
    core_options_.max_entries_per_message = 8;
    core_options_.max_bytes_per_message = 24;  // a few payloads: adoption comes in chunks
    core_options_.max_buffered_entries = 64;
    for (int i = 0; i < options.nodes; ++i) {
      nodes_.push_back(SimNode{fmt::format("n{}", i), nullptr, {}, {}, {}});
      nodes_.back().disk.hard.disk_id = ++disks_;
      ids_.push_back(nodes_.back().id);
      start(nodes_.back());
    }
  }

  SimResult run() {
    members_ = ids_;
    if (o_.replicas > 0 && o_.replicas < o_.nodes)
      members_.resize(static_cast<size_t>(o_.replicas));
    appoint(members_[pick(members_.size())]);
    for (int step = 0; step < o_.steps && result_.ok; ++step) faulty_step();
    if (result_.ok) heal();
    if (result_.ok) check_final();
    for (auto& node : nodes_) retire_stats(node);
    return result_;
  }

 private:
  // ---- randomness ----
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

  void fail(const std::string& what) {
    if (!result_.ok) return;
    result_.ok = false;
    result_.failure = fmt::format(
        "seed {} (nodes {}, replicas {}) at t={}: {} — reproduce with PARTID_SIM_SEED={} "
        "PARTID_SIM_NODES={} PARTID_SIM_REPLICAS={}",
        o_.seed, o_.nodes, o_.replicas, now_, what, o_.seed, o_.nodes, o_.replicas);
  }

  SimNode& node(const NodeId& id) {
    for (auto& n : nodes_) {
      if (n.id == id) return n;
    }
    throw std::logic_error("unknown node " + id);
  }

  // ---- replicas ----
  void start(SimNode& n) {
    n.core = std::make_unique<ReplicaCore>(n.id, core_options_, ++sessions_);
    n.core->restore(n.disk.hard, n.disk.base, n.disk.log);
    if (trace_) {
      fmt::print("t={} START {} promised {} commit {} base ({},{}) last {} applied {}\n", now_,
                 n.id, n.disk.hard.promised_epoch, n.disk.hard.commit, n.disk.base.epoch,
                 n.disk.base.seq, n.disk.last_seq(), n.disk.applied);
    }
    // It reads the current assignment first.
    if (epoch_ > 0) perform(n, n.core->appoint(epoch_, leader_, members_));
  }

  void crash(SimNode& n) {
    if (trace_) fmt::print("t={} CRASH {}\n", now_, n.id);
    retire_stats(n);
    n.core.reset();
    n.proposed.clear();
    n.reads.clear();
    ++result_.crashes;
  }

  void retire_stats(SimNode& n) {
    if (!n.core) return;
    result_.snapshots += n.core->stats().snapshots_sent;
    result_.sync_requests += n.core->stats().sync_requests;
  }

  void perform(SimNode& n, Actions actions) {
    if (trace_ && n.core && n.core->role() == Role::leader && !was_leader_[n.id]) {
      fmt::print("t={} {} LEADS e{} last {} commit {}\n", now_, n.id, n.core->epoch(),
                 n.core->last().seq, n.core->commit());
    }
    if (n.core) was_leader_[n.id] = n.core->role() == Role::leader;
    for (const auto& op : actions.persist) std::visit([&](const auto& o) { persist(n, o); }, op);
    for (const auto& entry : actions.apply) apply(n, entry.seq, entry.payload);
    if (actions.trim_through) trim(n, *actions.trim_through);
    for (auto& out : actions.send) transmit(n.id, out.to, std::move(out.message));
    if (actions.read_seal) call_register(n.id, RegisterCall{*actions.read_seal});
    if (actions.claim_seal) call_register(n.id, RegisterCall{*actions.claim_seal});
    for (const auto& request : actions.snapshots) {
      // The snapshot's bytes name a copy of the state kept aside (cheaper than
      // encoding thousands of entries for every snapshot).
      snapshots_.push_back(n.disk.state);
      Snapshot snapshot{n.core->log().position_of(n.core->commit()),
                        snapshot_bytes(std::to_string(snapshots_.size() - 1))};
      if (n.disk.applied != n.core->commit()) fail(n.id + ": applied state behind the watermark");
      perform(n, n.core->snapshot_ready(request, std::move(snapshot)));
    }
    for (uint64_t seq : actions.committed) {
      auto it = n.proposed.find(seq);
      if (it == n.proposed.end()) continue;
      check_on_quorum(seq, it->second, n.core->replicas());
      acked_.emplace_back(seq, it->second);
      max_acked_ = std::max(max_acked_, seq);
      if (n.id == leader_ && n.core->epoch() == epoch_) ++acked_by_current_leader_;
      n.proposed.erase(it);
    }
    for (uint64_t seq : actions.abandoned) n.proposed.erase(seq);
    for (uint64_t id : actions.reads_confirmed) check_read(n, id);
    for (uint64_t id : actions.reads_failed) result_.reads_refused += n.reads.erase(id);
  }

  // A confirmed read is answered from the node's applied state, which must
  // then hold every write acknowledged (by any leader) before the read began:
  // a deposed leader that still thinks it leads must not confirm.
  void check_read(SimNode& n, uint64_t id) {
    auto it = n.reads.find(id);
    if (it == n.reads.end()) return;
    if (n.disk.applied < it->second) {
      fail(
          fmt::format("{} confirmed read {} with state through {}, but {} was acknowledged "
                      "before the read began",
                      n.id, id, n.disk.applied, it->second));
    }
    ++result_.reads_confirmed;
    n.reads.erase(it);
  }

  // Any node that believes it serves may get a read: a stale leader too.
  void read() {
    std::vector<SimNode*> serving;
    for (auto& n : nodes_) {
      if (n.core && n.core->serving()) serving.push_back(&n);
    }
    if (serving.empty()) return;
    SimNode& n = *serving[pick(serving.size())];
    const uint64_t id = ++next_read_;
    if (n.id != leader_ || n.core->epoch() != epoch_) ++result_.stale_reads;
    n.reads[id] = max_acked_;
    perform(n, n.core->confirm_read(id));
  }

  void persist(SimNode& n, const TruncateAfter& op) {
    if (trace_) fmt::print("t={} {} truncate after {}\n", now_, n.id, op.seq);
    if (op.seq < n.disk.hard.commit)
      fail(n.id + fmt::format(": truncated below the watermark to {}", op.seq));
    while (!n.disk.log.empty() && n.disk.log.back().seq > op.seq) n.disk.log.pop_back();
  }
  void persist(SimNode& n, const AppendEntries& op) {
    for (const auto& entry : op.entries) {
      if (entry.seq != n.disk.last_seq() + 1) fail(n.id + ": log append out of order");
      n.disk.log.push_back(entry);
    }
  }
  void persist(SimNode& n, const SaveHardState& op) {
    if (op.state.commit < n.disk.hard.commit) fail(n.id + ": watermark moved back");
    if (op.state.promised_epoch < n.disk.hard.promised_epoch) fail(n.id + ": promise moved back");
    n.disk.hard = op.state;
  }
  void trim(SimNode& n, uint64_t through) {
    if (through > n.disk.applied) fail(n.id + ": trimmed entries not yet applied");
    while (!n.disk.log.empty() && n.disk.log.front().seq <= through) {
      n.disk.base = {n.disk.log.front().epoch, n.disk.log.front().seq};
      n.disk.log.erase(n.disk.log.begin());
    }
  }
  void persist(SimNode& n, const ReplaceWithSnapshot& op) {
    n.disk.state = snapshots_.at(std::stoull(*op.snapshot.data));
    if (n.disk.state.size() != op.snapshot.through.seq) fail(n.id + ": snapshot of the wrong size");
    n.disk.applied = op.snapshot.through.seq;
    n.disk.base = op.snapshot.through;
    if (!op.keep_tail) n.disk.log.clear();
    std::erase_if(n.disk.log, [&](const Entry& e) { return e.seq <= op.snapshot.through.seq; });
  }

  void apply(SimNode& n, uint64_t seq, const std::string& payload) {
    if (seq != n.disk.applied + 1)
      fail(n.id + fmt::format(": applied {} after {}", seq, n.disk.applied));
    n.disk.state.push_back(payload);
    n.disk.applied = seq;
    check_committed(n, seq, payload);
  }

  static bool holds(const Disk& disk, uint64_t seq, const std::string& payload) {
    if (const auto* applied = disk.applied_at(seq); applied && *applied == payload) return true;
    for (const auto& entry : disk.log) {
      if (entry.seq == seq && entry.payload == payload) return true;
    }
    return false;
  }

  // At the moment a client hears "ok", a quorum must hold the write durably.
  // A disk lost while its acknowledgement was in flight still counts: that is
  // the one failure the quorum is there to absorb.
  void check_on_quorum(uint64_t seq, const std::string& payload, const std::vector<NodeId>& set) {
    size_t holders = 0;
    for (const auto& n : nodes_) {
      if (std::find(set.begin(), set.end(), n.id) == set.end()) continue;
      bool lost_copy = rebuilding() && n.id == *rebuilding_ && holds(lost_disk_, seq, payload);
      holders += holds(n.disk, seq, payload) || lost_copy;
    }
    if (holders < set.size() / 2 + 1) {
      fail(fmt::format("'{}' acknowledged at {} but held by only {}", payload, seq, holders));
    }
  }

  void check_committed(const SimNode& n, uint64_t seq, const std::string& payload) {
    auto [it, fresh] = committed_.emplace(seq, payload);
    if (!fresh && it->second != payload) {
      fail(fmt::format("{} applied '{}' at {} where '{}' was committed", n.id, payload, seq,
                       it->second));
    }
  }

  // ---- network and coordinator ----
  void transmit(const NodeId& from, const NodeId& to, Message message) {
    if (chance(o_.drop) || isolated(from) || isolated(to)) return;
    if (chance(o_.duplicate)) schedule({from, to, message});
    schedule({from, to, std::move(message)});
  }

  // The register is reachable or not like a peer; a claim whose answer is
  // lost may still have landed.
  void call_register(const NodeId& from, RegisterCall call) {
    if (chance(o_.drop) || isolated(from)) return;
    schedule({from, kRegister, std::move(call)});
  }

  void serve_register(const NodeId& from, const RegisterCall& call) {
    RegisterAnswer answer;
    if (const auto* read = std::get_if<SealRead>(&call.call)) {
      answer = {false, read->epoch, false, seal_};
    } else {
      const auto& claim = std::get<SealClaim>(call.call);
      const bool won = seal_.revision == claim.expected_revision;
      if (won) seal_ = {claim.config, ++seal_revisions_};
      answer = {true, claim.config.epoch, won, seal_};
    }
    if (chance(o_.drop) || isolated(from)) return;
    schedule({kRegister, from, answer});
  }

  void schedule(Flight flight, uint64_t extra_delay = 0) {
    uint64_t at = now_ + 1 + extra_delay + pick(static_cast<size_t>(o_.max_delay));
    network_.emplace(std::make_pair(at, order_++), std::move(flight));
  }

  void appoint(const NodeId& leader) { appoint(leader, members_); }

  // A new epoch: `leader` leads `members`; the set before it is remembered.
  void appoint(const NodeId& leader, std::vector<NodeId> members) {
    ++epoch_;
    leader_ = leader;
    leader_down_since_.reset();
    ++result_.appointments;
    if (members != members_) ++result_.reconfigurations;
    members_ = std::move(members);
    // Replicas learn of it at different times, as they would from the KV; a
    // replica cut off hears of it only when it is back (its coordination
    // link was down too), though clients may still reach it.
    for (const auto& id : ids_) {
      const uint64_t back = isolated(id) ? isolated_until_ - now_ : 0;
      schedule({"coordinator", id, Appointment{epoch_, leader_, members_}}, back);
    }
  }

  bool is_member(const NodeId& id) const {
    return std::find(members_.begin(), members_.end(), id) != members_.end();
  }

  // The coordinator replaces members that are down (or one at random, a
  // planned move) by nodes that are up, as libparti's rebalance would.
  std::vector<NodeId> reshaped_members(bool move_one) {
    std::vector<NodeId> out, spare;
    for (const auto& id : members_) {
      if (node(id).core) out.push_back(id);
    }
    for (auto& n : nodes_) {
      if (n.core && !is_member(n.id)) spare.push_back(n.id);
    }
    if (move_one && !out.empty() && !spare.empty()) out.erase(out.begin() + pick(out.size()));
    const size_t want = o_.replicas > 0 ? static_cast<size_t>(o_.replicas) : nodes_.size();
    while (out.size() < want && !spare.empty()) {
      size_t k = pick(spare.size());
      out.push_back(spare[k]);
      spare.erase(spare.begin() + k);
    }
    return out;
  }

  // The seed's rule: most up to date, then (all started together here) lowest id.
  std::optional<NodeId> successor(const std::vector<NodeId>& among) {
    std::optional<NodeId> best;
    for (const auto& id : among) {
      SimNode& n = node(id);
      if (n.core && (!best || n.core->last() > node(*best).core->last())) best = n.id;
    }
    return best;
  }

  void deliver_due() {
    while (!network_.empty() && network_.begin()->first.first <= now_) {
      auto flight = std::move(network_.begin()->second);
      network_.erase(network_.begin());
      if (flight.to == kRegister) {
        serve_register(flight.from, std::get<RegisterCall>(flight.what));
        continue;
      }
      SimNode& to = node(flight.to);
      if (!to.core) continue;
      if (trace_) trace(flight);
      std::visit(partid::Overloaded{
                     [&](const Appointment& a) {
                       perform(to, to.core->appoint(a.epoch, a.leader, a.members));
                     },
                     [&](const Message& m) { perform(to, to.core->receive(flight.from, m)); },
                     [&](const RegisterAnswer& a) {
                       perform(to, a.claim ? to.core->seal_claimed(a.epoch, a.won, a.record)
                                           : to.core->seal_read(a.epoch, a.record));
                     },
                     [](const RegisterCall&) {},
                 },
                 flight.what);
    }
  }

  void trace(const Flight& flight) const {
    std::string what = std::visit(
        partid::Overloaded{
            [](const Message& m) { return describe(m); },
            [](const Appointment& a) {
              return fmt::format("appoint e{} leader {} members {}", a.epoch, a.leader,
                                 fmt::join(a.members, ","));
            },
            [](const RegisterAnswer& a) {
              return fmt::format("register {} e{}: {} e{} [{}] rev {}", a.claim ? "claim" : "read",
                                 a.epoch, a.won ? "won" : "holds", a.record.config.epoch,
                                 fmt::join(a.record.config.members, ","), a.record.revision);
            },
            [](const RegisterCall&) { return std::string("register call"); },
        },
        flight.what);
    fmt::print("t={} {} -> {}: {}\n", now_, flight.from, flight.to, what);
  }

  void tick_all() {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i].core && (now_ + i) % 2 == 0) perform(nodes_[i], nodes_[i].core->tick());
    }
  }

  void propose() {
    SimNode& n = node(leader_);
    if (!n.core) return;
    std::vector<std::string> payloads;
    size_t count = 1 + pick(3);
    for (size_t i = 0; i < count; ++i) payloads.push_back(fmt::format("w{}", next_write_++));
    auto copy = payloads;
    auto result = n.core->propose(std::move(payloads));
    if (!result.accepted) return;
    for (size_t i = 0; i < copy.size(); ++i) n.proposed[result.first_seq + i] = copy[i];
    perform(n, std::move(result.actions));
  }

  void coordinate() {
    bool member_down = false;
    for (const auto& id : members_) member_down |= !node(id).core;
    const bool reconfiguring = o_.replicas > 0 && o_.replicas < o_.nodes;
    if (!node(leader_).core || (reconfiguring && member_down)) {
      if (!leader_down_since_) leader_down_since_ = now_;
      if (now_ - *leader_down_since_ >= static_cast<uint64_t>(o_.failover_delay)) {
        auto members = reconfiguring ? reshaped_members(false) : members_;
        if (auto next = successor(members)) appoint(*next, members);
      }
    } else if (chance(o_.reappoint)) {
      auto members = reconfiguring && chance(0.5) ? reshaped_members(true) : members_;
      std::vector<NodeId> up;
      for (const auto& id : members) {
        if (node(id).core) up.push_back(id);
      }
      if (!up.empty()) appoint(up[pick(up.size())], members);
    }
  }

  // A wiped replica must be rebuilt before anything else fails: losing a disk
  // and a second replica at once is a majority failure on three nodes.
  bool rebuilding() {
    if (!rebuilding_) return false;
    // The core clears the flag once it holds everything its lost disk could
    // have acknowledged (see HardState::rebuilding).
    if (!node(*rebuilding_).disk.hard.rebuilding) rebuilding_.reset();
    return rebuilding_.has_value();
  }

  bool isolated(const NodeId& id) const { return isolated_ == id && now_ < isolated_until_; }

  void inject_faults() {
    if (chance(o_.isolate) && !isolated(isolated_)) {
      isolated_ = nodes_[pick(nodes_.size())].id;
      isolated_until_ = now_ + 1 + pick(static_cast<size_t>(o_.max_isolation));
      ++result_.isolations;
    }
    if (chance(o_.crash) && !rebuilding()) {
      SimNode& n = nodes_[pick(nodes_.size())];
      if (n.core) crash(n);
    }
    if (chance(o_.restart)) {
      SimNode& n = nodes_[pick(nodes_.size())];
      if (!n.core) start(n);
    }
    if (chance(o_.wipe) && !rebuilding() && all_up() && wipe_is_a_minority()) {
      SimNode& n = nodes_[pick(nodes_.size())];
      rebuilding_ = n.id;
      crash(n);
      lost_disk_ = std::move(n.disk);
      n.disk = Disk{};
      n.disk.hard.disk_id = ++disks_;
      n.disk.hard.rebuilding = true;
      ++result_.wipes;
      // A node that lost its disk comes back under a new ID (its old claim is
      // still held), so the coordinator publishes a new assignment: every
      // epoch it now acts in is new.
      appoint(leader_);
      start(n);
    }
  }

  // Losing one disk stays within what replication tolerates only while the
  // sealed replica set has at least three members; a set of two (a
  // coordinator short of nodes) holds its data on both, so one lost disk is a
  // majority failure there, which waits for an operator (drop-lost-replicas)
  // by design. A claim of a set of two still on its way to the register
  // counts too: it lands after the wipe (seed 1211300 of the five-node,
  // three-replica sweep: a leader's claim of {n4, n0} landed after n4 lost
  // its disk, and the partition rightly waited for an operator).
  bool wipe_is_a_minority() const {
    const auto small = [](const std::vector<NodeId>& set) {
      return !set.empty() && set.size() < 3;
    };
    if (small(seal_.config.members)) return false;
    for (const auto& [at, flight] : network_) {
      const auto* call = std::get_if<RegisterCall>(&flight.what);
      const auto* claim = call ? std::get_if<SealClaim>(&call->call) : nullptr;
      if (claim && small(claim->config.members)) return false;
    }
    return true;
  }

  bool all_up() const {
    for (const auto& n : nodes_) {
      if (!n.core) return false;
    }
    return true;
  }

  void faulty_step() {
    ++now_;
    deliver_due();
    tick_all();
    coordinate();
    if (chance(o_.propose)) propose();
    if (chance(o_.read)) {
      for (size_t k = 1 + pick(2); k > 0; --k) read();
    }
    for (auto& n : nodes_) {
      if (n.core) perform(n, n.core->flush_reads());  // the end of a loop turn
    }
    inject_faults();
  }

  // ---- the end: heal, converge, check ----
  void heal() {
    o_.drop = o_.duplicate = 0;
    isolated_until_ = 0;
    for (auto& n : nodes_) {
      if (!n.core) start(n);
    }
    auto members = o_.replicas > 0 && o_.replicas < o_.nodes ? reshaped_members(false) : members_;
    appoint(*successor(members), members);
    // Liveness: after healing, the new leader must acknowledge a write (an
    // older leader's late acknowledgements do not count) and every replica
    // must reach its watermark.
    acked_by_current_leader_ = 0;
    for (int step = 0; step < 4000 && result_.ok; ++step) {
      ++now_;
      deliver_due();
      tick_all();
      if (acked_by_current_leader_ == 0) propose();
      if (acked_by_current_leader_ > 0 && converged()) return;
    }
    fail(fmt::format("no convergence after healing (leader {} epoch {})", leader_, epoch_));
  }

  bool converged() {
    const auto& reference = node(leader_).disk;
    for (const auto& n : nodes_) {
      if (!is_member(n.id)) continue;
      if (n.disk.hard.commit != reference.hard.commit || n.disk.applied != reference.applied)
        return false;
    }
    return true;
  }

  void check_final() {
    result_.acknowledged = acked_.size();
    result_.final_commit = node(leader_).disk.hard.commit;
    const auto& reference = node(leader_).disk.state;
    for (const auto& n : nodes_) {
      // Snapshots carry the whole state, so every sequence must be there.
      if (is_member(n.id) && n.disk.state != reference) {
        fail(fmt::format("{} differs from the leader {}", n.id, leader_));
        return;
      }
    }
    for (const auto& [seq, payload] : acked_) {
      const auto* applied = node(leader_).disk.applied_at(seq);
      if (!applied || *applied != payload) {
        fail(fmt::format("acknowledged write '{}' at {} was lost", payload, seq));
        return;
      }
    }
  }

  SimOptions o_;
  std::mt19937_64 rng_;
  bool trace_;
  std::map<NodeId, bool> was_leader_;
  CoreOptions core_options_;
  std::vector<SimNode> nodes_;
  std::vector<NodeId> ids_;
  std::vector<NodeId> members_;  // the current replica set
  SealRecord seal_;              // the seal register
  uint64_t seal_revisions_ = 0;
  std::map<std::pair<uint64_t, uint64_t>, Flight> network_;
  uint64_t now_ = 0;
  uint64_t order_ = 0;
  uint64_t epoch_ = 0;
  NodeId leader_;
  std::optional<uint64_t> leader_down_since_;
  std::optional<NodeId> rebuilding_;
  Disk lost_disk_;
  NodeId isolated_;
  uint64_t isolated_until_ = 0;
  std::vector<std::vector<std::string>> snapshots_;
  uint64_t next_write_ = 0;
  uint64_t disks_ = 0;
  std::map<uint64_t, std::string> committed_;
  std::vector<std::pair<uint64_t, std::string>> acked_;
  uint64_t acked_by_current_leader_ = 0;
  uint64_t max_acked_ = 0;
  uint64_t next_read_ = 0;
  uint64_t sessions_ = 0;
  SimResult result_;
};

}  // namespace

SimResult run_simulation(const SimOptions& options) { return World(options).run(); }

}  // namespace parti::test
