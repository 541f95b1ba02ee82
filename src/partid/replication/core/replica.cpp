// The parts of ReplicaCore every role shares: dispatch, epochs, the watermark
// and local log changes. Follower and leader behaviour live beside this file.
#include "partid/replication/core/replica.h"
#include "partid/replication/core/well_formed.h"

#include <algorithm>

#include "partid/overloaded.h"

namespace partid::replication::core {

ReplicaCore::ReplicaCore(NodeId self, CoreOptions options, uint64_t session)
    : self_(std::move(self)),
      options_(options),
      buffer_(options.max_buffered_entries),
      session_(session) {}

void ReplicaCore::restore(HardState hard, Position base, std::vector<Entry> log) {
  hard_ = hard;
  log_.reset(base);
  for (auto& entry : log) log_.append(std::move(entry));
  hard_.commit = std::clamp(hard_.commit, base.seq, log_.last().seq);
}

std::map<NodeId, uint64_t> ReplicaCore::follower_matches() const {
  std::map<NodeId, uint64_t> out;
  for (const auto& [node, progress] : progress_) out[node] = progress.match;
  return out;
}

std::vector<NodeId> ReplicaCore::others() const {
  std::vector<NodeId> out;
  for (const auto& node : replicas_) {
    if (node != self_) out.push_back(node);
  }
  return out;
}

std::vector<NodeId> ReplicaCore::electorate() const {
  std::vector<NodeId> out = others();
  if (!sealed_) return out;
  for (const auto& node : sealed_->config.members) {
    if (node != self_ && std::find(out.begin(), out.end(), node) == out.end()) {
      out.push_back(node);
    }
  }
  return out;
}

bool ReplicaCore::has_quorum_of(const std::vector<NodeId>& set,
                                const std::set<NodeId>& voters) const {
  size_t n = 0;
  for (const auto& node : set) n += voters.contains(node) ? 1 : 0;
  return n >= set.size() / 2 + 1;
}

std::optional<std::vector<NodeId>> ReplicaCore::set_out_of_reach(
    const std::set<NodeId>& alive) const {
  if (role_ == Role::follower || serving()) return std::nullopt;
  std::set<NodeId> reachable = alive;
  reachable.insert(self_);
  if (!has_quorum_of(replicas_, reachable)) return replicas_;
  // A register that was never sealed (a new partition) asks for nobody.
  const bool never_sealed = sealed_ && sealed_->config.members.empty();
  if (sealed_ && !never_sealed && !has_quorum_of(sealed_->config.members, reachable)) {
    return sealed_->config.members;
  }
  return std::nullopt;
}

void ReplicaCore::send(Actions& out, const NodeId& to, Message message) {
  out.send.push_back({to, std::move(message)});
}

void ReplicaCore::save_hard_state(Actions& out) {
  out.persist.emplace_back(std::in_place_type<SaveHardState>, SaveHardState{hard_});
}

void ReplicaCore::raise_promise(Actions& out, uint64_t epoch) {
  if (epoch <= hard_.promised_epoch) return;
  hard_.promised_epoch = epoch;
  save_hard_state(out);
  if (role_ != Role::follower) step_down(out);
}

void ReplicaCore::step_down(Actions& out) {
  role_ = Role::follower;
  out.abandoned.insert(out.abandoned.end(), pending_.begin(), pending_.end());
  pending_.clear();
  progress_.clear();
  promises_.clear();
  adopting_from_.reset();
  sealed_.reset();
  claimed_ = false;
  leader_.reset();
  fail_reads(out);
}

void ReplicaCore::advance_commit(Actions& out, uint64_t commit) {
  commit = std::min(commit, log_.last().seq);
  if (commit <= hard_.commit) return;
  for (uint64_t seq = std::max(hard_.commit, log_.base().seq) + 1; seq <= commit; ++seq) {
    out.apply.push_back(log_.at(seq));
  }
  for (auto it = pending_.begin(); it != pending_.end() && *it <= commit;) {
    out.committed.push_back(*it);
    it = pending_.erase(it);
  }
  hard_.commit = commit;
  save_hard_state(out);
  maybe_trim(out);
}

void ReplicaCore::append_local(Actions& out, Entry entry) {
  log_.append(entry);
  if (out.persist.empty() || !std::holds_alternative<AppendEntries>(out.persist.back())) {
    out.persist.emplace_back(std::in_place_type<AppendEntries>);
  }
  std::get<AppendEntries>(out.persist.back()).entries.push_back(std::move(entry));
}

void ReplicaCore::truncate_local(Actions& out, uint64_t after) {
  if (after >= log_.last().seq) return;
  log_.truncate_after(after);
  out.persist.emplace_back(std::in_place_type<TruncateAfter>, TruncateAfter{after});
}

uint64_t ReplicaCore::retained_from() const {
  return hard_.commit > options_.log_retention ? hard_.commit - options_.log_retention : 0;
}

uint64_t ReplicaCore::trim_limit() const {
  uint64_t from = retained_from();
  for (const auto& [node, progress] : progress_) {
    if (progress.hold_from) from = std::min(from, *progress.hold_from);
  }
  return from;
}

void ReplicaCore::maybe_trim(Actions& out) {
  // Trim in steps of a tenth of the retention so it is not a write per commit.
  const uint64_t through = trim_limit();
  if (through < log_.base().seq + std::max<uint64_t>(1, options_.log_retention / 10)) return;
  log_.trim_through(through);
  out.trim_through = through;
}

Actions ReplicaCore::appoint(uint64_t epoch, const NodeId& leader, std::vector<NodeId> replicas) {
  Actions out;
  if (epoch < hard_.promised_epoch) return out;
  if (epoch == epoch_ && role_ != Role::follower && leader == self_) {
    replicas_ = std::move(replicas);  // same appointment seen again
    return out;
  }
  replicas_ = std::move(replicas);
  raise_promise(out, epoch);
  if (leader == self_) {
    if (role_ != Role::follower) step_down(out);
    epoch_ = epoch;
    start_sealing(out);
  } else if (role_ != Role::follower) {
    step_down(out);
  }
  return out;
}

Actions ReplicaCore::receive(const NodeId& from, const Message& message) {
  Actions out;
  if (!well_formed(message)) return out;  // the shell counts these; see well_formed.h
  std::visit(Overloaded{
                 [&](const Replicate& m) { on_replicate(out, from, m); },
                 [&](const ReplicateAck& m) { on_ack(out, from, m); },
                 [&](const BeginEpoch& m) { on_begin_epoch(out, from, m); },
                 [&](const EpochPromise& m) { on_promise(out, from, m); },
                 [&](const Refuse& m) { raise_promise(out, m.epoch); },
                 [&](const SyncRequest& m) { on_sync_request(out, from, m); },
                 [&](const InstallSnapshot& m) { on_install_snapshot(out, from, m); },
                 [&](const SyncReply& m) { on_sync_reply(out, from, m); },
             },
             message);
  return out;
}

Actions ReplicaCore::tick() {
  Actions out;
  ++now_;
  switch (role_) {
    case Role::leader:
      leader_tick(out);
      break;
    case Role::sealing:
      sealing_tick(out);
      break;
    case Role::follower:
      follower_tick(out);
      break;
  }
  return out;
}

Actions ReplicaCore::force_watermark(uint64_t seq) {
  Actions out;
  advance_commit(out, seq);
  return out;
}

Actions ReplicaCore::catch_up(bool skip_buffered) {
  Actions out;
  if (role_ != Role::follower || !leader_) return out;
  if (skip_buffered) {
    buffer_.clear();
    close_gap();
  }
  ++stats_.sync_requests;
  send(out, *leader_, SyncRequest{epoch_, log_.last().seq + 1, 0});
  return out;
}

Actions ReplicaCore::reseal() {
  Actions out;
  if (role_ == Role::follower) return out;
  step_down(out);
  start_sealing(out);
  return out;
}

Actions ReplicaCore::snapshot_ready(const SnapshotRequest& request, Snapshot snapshot) {
  Actions out;
  uint64_t epoch = hard_.promised_epoch;
  // A snapshot older than the log's base leaves a gap; the asker will ask again.
  if (snapshot.through.seq < log_.base().seq || snapshot.through.seq > hard_.commit) return out;
  if (request.for_adoption) {
    SyncReply reply{epoch, snapshot.through.seq + 1, {}, {}};
    reply.entries = log_.slice(snapshot.through.seq + 1, log_.last().seq, SIZE_MAX,
                               options_.max_bytes_per_message);
    reply.snapshot = std::move(snapshot);
    send(out, request.to, std::move(reply));
  } else if (role_ == Role::leader) {
    ++stats_.snapshots_sent;
    send(out, request.to,
         InstallSnapshot{epoch_, std::move(snapshot), hard_.commit, log_.last().seq});
  }
  return out;
}

}  // namespace partid::replication::core
