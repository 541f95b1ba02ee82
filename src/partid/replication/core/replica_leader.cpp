// ReplicaCore, leader side: sealing an epoch and adopting the most advanced
// log, proposals, per-follower progress with bounded pipelining, the
// watermark, heartbeats and resends.
#include <algorithm>
#include <set>

#include "partid/replication/core/replica.h"

namespace partid::replication::core {

void ReplicaCore::start_sealing(Actions& out) {
  ++stats_.seals;
  role_ = Role::sealing;
  leader_ = self_;
  buffer_.clear();
  close_gap();
  promises_.clear();
  adopting_from_.reset();
  sealed_.reset();
  claimed_ = false;
  claim_requested_ = false;
  seal_progress_tick_ = now_;
  promises_[self_] = EpochPromise{epoch_, log_.last(), hard_.commit, hard_.rebuilding};
  out.read_seal = SealRead{epoch_};
  for (const auto& node : electorate()) send(out, node, BeginEpoch{epoch_});
}

Actions ReplicaCore::seal_read(uint64_t epoch, const SealRecord& record) {
  Actions out;
  // Sealing needs a quorum of the set it read, and the claim fails if the
  // register moved since. A newer record is taken while this sealing still
  // waits for promises (not once it adopts): the register moves only to a set
  // whose leader adopted everything before (or by an operator dropping lost
  // replicas), so that set's quorum suffices, and without it a sealing stuck
  // on a set that lost its majority would never see the operator's change.
  if (role_ != Role::sealing || epoch != epoch_) return out;
  if (sealed_ && (adopting_from_ || record.revision <= sealed_->revision)) return out;
  if (record.config.epoch > epoch_) {
    step_down(out);  // a later epoch finished sealing: this appointment is stale
    return out;
  }
  sealed_ = record;
  for (const auto& node : record.config.members) {
    bool known =
        node == self_ || std::find(replicas_.begin(), replicas_.end(), node) != replicas_.end();
    if (!known) send(out, node, BeginEpoch{epoch_});
  }
  evaluate_promises(out);
  return out;
}

Actions ReplicaCore::seal_claimed(uint64_t epoch, bool won, const SealRecord& current) {
  Actions out;
  if (role_ != Role::leader || epoch != epoch_ || claimed_) return out;
  const Config mine{epoch_, replicas_};
  if (won || current.config == mine) {  // the same: an earlier try of this claim landed
    claimed_ = true;
    sealed_ = current;
    maybe_commit(out);
  } else if (current.config.epoch > epoch_) {
    step_down(out);  // a later epoch finished sealing first
  } else {
    // An older epoch's leader finished sealing after this one read the
    // register, and may have committed since: seal again, on its set too.
    step_down(out);
    start_sealing(out);
  }
  return out;
}

void ReplicaCore::on_promise(Actions& out, const NodeId& from, const EpochPromise& message) {
  if (role_ != Role::sealing || message.epoch != epoch_) return;
  const auto e = electorate();
  if (std::find(e.begin(), e.end(), from) == e.end()) return;
  promises_[from] = message;
  evaluate_promises(out);
}

void ReplicaCore::evaluate_promises(Actions& out) {
  if (adopting_from_ || !sealed_) return;
  std::map<NodeId, const EpochPromise*> voters;
  std::set<NodeId> voter_ids;
  for (const auto& [node, promise] : promises_) {
    if (promise.rebuilding) continue;
    voters[node] = &promise;
    voter_ids.insert(node);
  }
  // Joint: a quorum of the new set and of the sealed set (the one that may
  // hold commits no later set adopted).
  const auto& sealed_set = sealed_->config.members;
  const bool joint = sealed_set.empty() || has_quorum_of(sealed_set, voter_ids);
  if (!has_quorum_of(replicas_, voter_ids) || !joint) {
    // Everyone answered and nobody holds the partition's history (all are
    // new or lost their disks): there is nothing to adopt.
    if (promises_.size() == electorate().size() + 1 && voters.empty()) {
      ++stats_.started_empty;
      finish_sealing(out);
    }
    return;
  }
  // The most advanced log of the quorum holds every committed entry; ties go
  // to this replica so it fetches nothing.
  NodeId best = voters.contains(self_) ? self_ : voters.begin()->first;
  for (const auto& [node, promise] : voters) {
    if (promise->last > voters[best]->last) best = node;
  }
  if (best == self_ || (!hard_.rebuilding && voters[best]->last == log_.last())) {
    finish_sealing(out);
    return;
  }
  adopting_from_ = best;
  adopt_next_ = 0;
  adopt_retries_ = 0;
  seal_progress_tick_ = now_;
  send(out, best, SyncRequest{epoch_, hard_.commit + 1, 0});
}

// The adopted log arrives in chunks (a reply is bounded in size); the first
// answers "from the watermark", and may be a snapshot when that is trimmed.
// Chunks are held aside and adopted together: until the whole log is here,
// this replica's own log stays as it promised (sealing may yet choose it).
void ReplicaCore::on_sync_reply(Actions& out, const NodeId& from, const SyncReply& message) {
  if (role_ != Role::sealing || message.epoch != epoch_ || adopting_from_ != from) return;
  const bool first = adopt_next_ == 0;
  if (message.snapshot ? !first : message.from != (first ? hard_.commit + 1 : adopt_next_)) {
    return;  // an answer to an earlier request
  }
  const Position promised = promises_[from].last;
  Position end =
      message.entries.empty()
          ? (message.snapshot ? message.snapshot->through : Position{0, message.from - 1})
          : Position{message.entries.back().epoch, message.entries.back().seq};
  const bool partial = end.seq < promised.seq && (!message.entries.empty() || message.snapshot);
  if (end != promised && !partial) {
    // Not the log it promised (it lost its disk since?): choose again.
    promises_.erase(from);
    adopting_from_.reset();
    evaluate_promises(out);
    return;
  }
  if (first) {
    adopted_snapshot_ = message.snapshot;
    adopted_.clear();
  }
  adopted_.insert(adopted_.end(), message.entries.begin(), message.entries.end());
  if (partial) {
    adopt_next_ = end.seq + 1;
    adopt_retries_ = 0;
    seal_progress_tick_ = now_;
    send(out, from, SyncRequest{epoch_, adopt_next_, 0});
    return;
  }
  if (adopted_snapshot_ && adopted_snapshot_->through.seq > hard_.commit) {
    install(out, *adopted_snapshot_);
  }
  truncate_local(out, hard_.commit);  // through the watermark all is shared
  for (auto& entry : adopted_) {
    if (entry.seq > log_.last().seq) append_local(out, std::move(entry));
  }
  adopted_.clear();
  adopted_snapshot_.reset();
  finish_sealing(out);
}

void ReplicaCore::finish_sealing(Actions& out) {
  role_ = Role::leader;
  finish_rebuilding(out);  // it now holds the most advanced log of a quorum
  uint64_t adopted_last = log_.last().seq;
  append_local(out, Entry{adopted_last + 1, epoch_, true, {}});
  progress_.clear();
  for (const auto& node : others()) {
    Progress progress;
    auto promise = promises_.find(node);
    progress.next = promise == promises_.end()
                        ? hard_.commit + 1
                        : std::min(promise->second.last.seq, adopted_last) + 1;
    progress.last_progress_tick = now_;
    progress_[node] = progress;
  }
  promises_.clear();
  adopting_from_.reset();
  for (const auto& node : others()) send_more(out, node);
  maybe_commit(out);
}

ProposeResult ReplicaCore::propose(std::vector<std::string> payloads) {
  ProposeResult result;
  if (!serving()) return result;
  result.accepted = true;
  result.first_seq = log_.last().seq + 1;
  for (auto& payload : payloads) {
    uint64_t seq = log_.last().seq + 1;
    append_local(result.actions, Entry{seq, epoch_, false, std::move(payload)});
    pending_.insert(seq);
  }
  for (const auto& node : others()) send_more(result.actions, node);
  maybe_commit(result.actions);
  return result;
}

void ReplicaCore::on_ack(Actions& out, const NodeId& from, const ReplicateAck& message) {
  if (role_ != Role::leader || message.epoch != epoch_) return;
  auto it = progress_.find(from);
  if (it == progress_.end()) return;
  Progress& progress = it->second;
  if (message.session == session_ && message.round > progress.round) {
    progress.round = message.round;  // it still followed this epoch after the round began
    confirm_reads(out);
  }
  if (message.disk_id < progress.disk_id) return;  // from a disk that is gone
  if (progress.disk_id != 0 && message.disk_id > progress.disk_id) {
    // A new disk: whatever the old one acknowledged is lost.
    Progress fresh;
    fresh.next = hard_.commit + 1;
    fresh.last_progress_tick = now_;
    fresh.last_send_tick = progress.last_send_tick;
    fresh.disk_id = message.disk_id;
    progress = fresh;
  }
  progress.disk_id = message.disk_id;
  if (message.ok) {
    if (message.last > progress.match) {
      progress.snapshot_pending = false;
      progress.last_progress_tick = now_;
      progress.retry_wait = 0;
      progress.match = std::min(message.last, log_.last().seq);
      progress.next = std::max(progress.next, progress.match + 1);
      progress.hold_spent = false;
      if (progress.hold_from) {
        progress.hold_from = std::max(*progress.hold_from, progress.match);
        progress.hold_tick = now_;
      }
      maybe_commit(out);
    } else if (progress.retry_wait > 0) {
      // It was silent through a resend and answers again with nothing new:
      // what was sent meanwhile is lost. Resend now rather than wait out the
      // backoff.
      progress.retry_wait = 0;
      progress.next = progress.match + 1;
      progress.last_progress_tick = now_;
    }
  } else {
    // Resend once from what the follower surely shares, not once per
    // rejected message in flight.
    uint64_t next = std::max(progress.match, message.last) + 1;
    if (next >= progress.next) return;
    progress.next = next;
  }
  send_more(out, from);
}

void ReplicaCore::send_more(Actions& out, const NodeId& follower) {
  Progress& progress = progress_[follower];
  while (progress.next <= log_.last().seq &&
         progress.next - 1 - progress.match < options_.max_in_flight) {
    if (progress.next <= log_.base().seq) {
      if (!progress.snapshot_pending) out.snapshots.push_back({follower, false});
      progress.snapshot_pending = true;
      hold_log(progress);
      progress.next = hard_.commit + 1;  // the tail follows the snapshot
      continue;
    }
    uint64_t to = progress.next + options_.max_entries_per_message - 1;
    progress.next = send_range(out, follower, progress.next, to) + 1;
    progress.last_send_tick = now_;
  }
}

uint64_t ReplicaCore::send_range(Actions& out, const NodeId& to, uint64_t from, uint64_t to_seq) {
  if (from <= log_.base().seq) {
    out.snapshots.push_back({to, false});
    if (auto it = progress_.find(to); it != progress_.end()) hold_log(it->second);
    return from - 1;
  }
  Replicate message = replicate_after(from - 1);
  message.entries =
      log_.slice(from, to_seq, options_.max_entries_per_message, options_.max_bytes_per_message);
  uint64_t sent_through = message.entries.empty() ? from - 1 : message.entries.back().seq;
  send(out, to, std::move(message));
  return sent_through;
}

void ReplicaCore::maybe_commit(Actions& out) {
  std::vector<uint64_t> matches{log_.last().seq};
  for (const auto& [node, progress] : progress_) matches.push_back(progress.match);
  for (size_t missing = matches.size(); missing < replicas_.size(); ++missing) {
    matches.push_back(0);
  }
  std::sort(matches.begin(), matches.end(), std::greater<>());
  uint64_t candidate = matches[quorum() - 1];
  // Only an entry of this epoch is committed by counting (see Entry::barrier).
  if (candidate <= hard_.commit || log_.epoch_at(candidate) != epoch_) return;
  if (!claimed_) {
    claim(out);  // a quorum of this set holds the barrier: claim the register first
    return;
  }
  advance_commit(out, candidate);
}

void ReplicaCore::claim(Actions& out) {
  if (claim_requested_ && now_ - claim_tick_ < options_.seal_retry_ticks) return;
  claim_requested_ = true;
  claim_tick_ = now_;
  out.claim_seal = SealClaim{{epoch_, replicas_}, sealed_->revision};
}

void ReplicaCore::hold_log(Progress& progress) {
  // A snapshot asked again: the first one's point stands. A hold that ran out
  // is not renewed by the resends to a follower still silent.
  if (progress.hold_from || progress.hold_spent || options_.log_hold_bytes == 0) return;
  progress.hold_from = log_.base().seq;
  progress.hold_tick = now_;
}

void ReplicaCore::review_holds() {
  const uint64_t retained = retained_from();
  for (auto& [node, progress] : progress_) {
    if (!progress.hold_from) continue;
    if (progress.match >= retained) {
      progress.hold_from.reset();  // caught up: the retention keeps what it needs
    } else if (now_ - progress.hold_tick >= options_.log_hold_ticks ||
               log_.memory_bytes_after(*progress.hold_from) > options_.log_hold_bytes) {
      progress.spend_hold();
    }
  }
}

uint64_t ReplicaCore::held_log_bytes() const {
  const uint64_t from = trim_limit();
  const uint64_t retained = retained_from();
  if (from >= retained) return 0;
  return log_.memory_bytes_after(from) - log_.memory_bytes_after(retained);
}

void ReplicaCore::release_log_holds() {
  for (auto& [node, progress] : progress_) {
    if (progress.hold_from) progress.spend_hold();
  }
}

void ReplicaCore::leader_tick(Actions& out) {
  review_holds();
  if (!claimed_) maybe_commit(out);  // retries an unanswered claim
  for (auto& [node, progress] : progress_) {
    const uint64_t wait = progress.retry_wait ? progress.retry_wait : options_.retry_ticks;
    if (progress.match < log_.last().seq && now_ - progress.last_progress_tick >= wait) {
      progress.next = progress.match + 1;  // something was lost: resend
      progress.snapshot_pending = false;
      progress.last_progress_tick = now_;
      // A follower that stays silent (down, cut off) is not sent its whole
      // window again every few ticks: each fruitless resend waits twice as long.
      progress.retry_wait = std::min(
          wait * 2, options_.retry_ticks * std::max<uint64_t>(options_.max_retry_backoff, 1));
      send_more(out, node);
    }
    const bool owes_read = !reads_.empty() && progress.round < reads_.front().round;
    if (now_ - progress.last_send_tick >= options_.heartbeat_ticks || owes_read) {
      send(out, node, heartbeat_to(progress));
      progress.last_send_tick = now_;
    }
  }
  std::erase_if(reads_, [&](const PendingRead& read) {
    if (now_ - read.since < options_.read_timeout_ticks) return false;
    out.reads_failed.push_back(read.id);
    return true;
  });
  if (round_wanted_) start_read_round(out);  // a shell that did not flush
}

Replicate ReplicaCore::replicate_after(uint64_t seq) const {
  return Replicate{epoch_, log_.position_of(seq), {}, hard_.commit, log_.last().seq, session_,
                   round_};
}

Replicate ReplicaCore::heartbeat_to(const Progress& progress) const {
  return replicate_after(std::max(progress.match, log_.base().seq));
}

Actions ReplicaCore::confirm_read(uint64_t id) {
  Actions out;
  if (!serves_reads()) {
    out.reads_failed.push_back(id);
  } else if (confirms_reads_alone()) {
    out.reads_confirmed.push_back(id);
  } else {
    // Rounds already out may have left before this read began: it waits for
    // the next, which flush_reads starts.
    reads_.push_back({id, round_ + 1, now_});
    round_wanted_ = true;
  }
  return out;
}

Actions ReplicaCore::flush_reads() {
  Actions out;
  if (round_wanted_ && role_ == Role::leader) start_read_round(out);
  return out;
}

void ReplicaCore::start_read_round(Actions& out) {
  ++round_;
  ++stats_.read_rounds;
  round_wanted_ = false;
  for (auto& [node, progress] : progress_) {
    send(out, node, heartbeat_to(progress));
    progress.last_send_tick = now_;
  }
}

void ReplicaCore::confirm_reads(Actions& out) {
  while (!reads_.empty()) {
    const uint64_t round = reads_.front().round;
    size_t answered = 1;  // this leader, which still serves its epoch
    for (const auto& [node, progress] : progress_) answered += progress.round >= round ? 1 : 0;
    if (answered < quorum()) return;
    while (!reads_.empty() && reads_.front().round == round) {
      out.reads_confirmed.push_back(reads_.front().id);
      reads_.erase(reads_.begin());
    }
  }
}

void ReplicaCore::fail_reads(Actions& out) {
  for (const auto& read : reads_) out.reads_failed.push_back(read.id);
  reads_.clear();
  round_wanted_ = false;
}

void ReplicaCore::sealing_tick(Actions& out) {
  if (now_ - seal_progress_tick_ < options_.seal_retry_ticks) return;
  seal_progress_tick_ = now_;
  if (adopting_from_ && ++adopt_retries_ <= 2) {
    // A chunk or its answer was lost (or is slow): ask for it again rather
    // than start the adoption over, which a slow link would never finish.
    send(out, *adopting_from_,
         SyncRequest{epoch_, adopt_next_ == 0 ? hard_.commit + 1 : adopt_next_, 0});
    return;
  }
  if (adopting_from_) {
    promises_.erase(*adopting_from_);  // it went quiet: choose again
    adopting_from_.reset();
  }
  out.read_seal = SealRead{epoch_};  // again: it may have moved (see seal_read)
  for (const auto& node : electorate()) {
    if (!promises_.contains(node)) send(out, node, BeginEpoch{epoch_});
  }
  evaluate_promises(out);
}

}  // namespace partid::replication::core
