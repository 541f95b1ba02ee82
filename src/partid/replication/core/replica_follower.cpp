// ReplicaCore, follower side: placing Replicate messages in sequence order,
// the gap buffer and catch-up, promises to new leaders, snapshots, and
// answering a new leader that adopts this replica's log.
#include <algorithm>

#include "partid/replication/core/replica.h"

namespace partid::replication::core {

void ReplicaCore::on_replicate(Actions& out, const NodeId& from, const Replicate& message) {
  if (message.epoch < hard_.promised_epoch) {
    ++stats_.refused;
    send(out, from, Refuse{hard_.promised_epoch});
    return;
  }
  if (message.epoch == hard_.promised_epoch && role_ != Role::follower) return;  // not ours
  raise_promise(out, message.epoch);
  if (epoch_ != message.epoch) {
    buffer_.clear();  // early arrivals of an older leader mean nothing now
    close_gap();
    catch_up_target_.reset();
  }
  epoch_ = message.epoch;
  leader_ = from;
  if (message.prev.seq > log_.last().seq) {
    if (!buffer_.add(message)) {
      ++stats_.buffer_overflows;
      lost_through_ = std::max(lost_through_, message.prev.seq + message.entries.size());
    }
    if (!gap_since_) gap_since_ = now_;
    if (!gap_opened_) gap_opened_ = now_;
    return;
  }
  apply_replicate(out, message);
  drain_buffer(out);
}

void ReplicaCore::apply_replicate(Actions& out, const Replicate& message) {
  if (hard_.rebuilding && !catch_up_target_) catch_up_target_ = message.leader_last;
  if (!append_matching(out, message)) {
    uint64_t shared = std::min(hard_.commit, log_.last().seq);
    send(out, *leader_,
         ReplicateAck{epoch_, false, shared, hard_.disk_id, message.session, message.round});
    return;
  }
  uint64_t matched = std::max(message.prev.seq + message.entries.size(), log_.base().seq);
  advance_commit(out, std::min(message.commit, matched));
  if (hard_.rebuilding && matched >= *catch_up_target_) finish_rebuilding(out);
  send(out, *leader_,
       ReplicateAck{epoch_, true, matched, hard_.disk_id, message.session, message.round});
}

// Appends the message's entries after its `prev`, replacing a divergent
// suffix; false when the log does not match the leader's at `prev`.
bool ReplicaCore::append_matching(Actions& out, const Replicate& message) {
  if (message.prev.seq >= log_.base().seq) {
    auto epoch = log_.epoch_at(message.prev.seq);
    if (!epoch || *epoch != message.prev.epoch) {
      // Never cut below the watermark: committed entries match every leader's.
      truncate_local(out, std::max(hard_.commit, message.prev.seq - 1));
      return false;
    }
  }
  for (const auto& entry : message.entries) {
    if (entry.seq <= log_.base().seq) continue;  // already in the state
    if (entry.seq <= log_.last().seq) {
      if (log_.at(entry.seq).epoch == entry.epoch) continue;  // a duplicate
      truncate_local(out, entry.seq - 1);
    }
    append_local(out, entry);
  }
  return true;
}

void ReplicaCore::drain_buffer(Actions& out) {
  while (auto next = buffer_.take_fitting(log_.last().seq)) {
    if (next->epoch == epoch_) apply_replicate(out, *next);
  }
  if (buffer_.empty() && log_.last().seq >= lost_through_) close_gap();
}

void ReplicaCore::close_gap() {
  gap_since_.reset();
  gap_opened_.reset();
  lost_through_ = 0;
}

void ReplicaCore::follower_tick(Actions& out) {
  if (!gap_since_ || !leader_ || now_ - *gap_since_ < options_.gap_timeout_ticks) return;
  ++stats_.sync_requests;
  // Up to the earliest message waiting, or through what the full buffer dropped.
  uint64_t to = buffer_.earliest_needed().value_or(std::max(lost_through_, log_.last().seq + 1));
  send(out, *leader_, SyncRequest{epoch_, log_.last().seq + 1, to});
  gap_since_ = now_;
}

void ReplicaCore::on_begin_epoch(Actions& out, const NodeId& from, const BeginEpoch& message) {
  if (message.epoch < hard_.promised_epoch) {
    ++stats_.refused;
    send(out, from, Refuse{hard_.promised_epoch});
    return;
  }
  if (message.epoch == hard_.promised_epoch && role_ != Role::follower) return;
  raise_promise(out, message.epoch);
  epoch_ = message.epoch;
  leader_ = from;
  buffer_.clear();
  close_gap();
  catch_up_target_.reset();
  send(out, from, EpochPromise{message.epoch, log_.last(), hard_.commit, hard_.rebuilding});
}

void ReplicaCore::on_install_snapshot(Actions& out, const NodeId& from,
                                      const InstallSnapshot& message) {
  Replicate as_heartbeat{
      message.epoch, message.snapshot.through, {}, message.commit, message.leader_last, 0, 0};
  if (message.epoch < hard_.promised_epoch ||
      (message.epoch == hard_.promised_epoch && role_ != Role::follower)) {
    on_replicate(out, from, as_heartbeat);  // refused the same way
    return;
  }
  raise_promise(out, message.epoch);
  epoch_ = message.epoch;
  leader_ = from;
  if (message.snapshot.through.seq > hard_.commit) install(out, message.snapshot);
  apply_replicate(out, as_heartbeat);
  drain_buffer(out);
}

void ReplicaCore::finish_rebuilding(Actions& out) {
  if (!hard_.rebuilding) return;
  hard_.rebuilding = false;
  save_hard_state(out);
}

void ReplicaCore::install(Actions& out, const Snapshot& snapshot) {
  // Entries this replica holds past the snapshot were acknowledged; keep them
  // when they continue the snapshot's history.
  bool keep_tail = log_.epoch_at(snapshot.through.seq) == snapshot.through.epoch;
  if (keep_tail) {
    log_.trim_through(snapshot.through.seq);
  } else {
    log_.reset(snapshot.through);
  }
  hard_.commit = snapshot.through.seq;
  out.persist.emplace_back(std::in_place_type<ReplaceWithSnapshot>,
                           ReplaceWithSnapshot{snapshot, keep_tail});
  save_hard_state(out);
}

void ReplicaCore::on_sync_request(Actions& out, const NodeId& from, const SyncRequest& message) {
  if (message.epoch < hard_.promised_epoch) {
    ++stats_.refused;
    send(out, from, Refuse{hard_.promised_epoch});
    return;
  }
  if (role_ == Role::leader && message.epoch == epoch_) {
    // A follower asks from its last entry on, so never past this log's end.
    if (message.from > log_.last().seq + 1) return;
    send_range(out, from, message.from, message.to == 0 ? log_.last().seq : message.to);
    return;
  }
  // A new leader adopting this log: everything from `from`, or a snapshot
  // when that part is trimmed away.
  if (role_ != Role::follower || message.epoch != hard_.promised_epoch) return;
  if (hard_.rebuilding) return;  // its log is not the one it may have promised
  if (message.from <= log_.base().seq) {
    out.snapshots.push_back({from, true});
    return;
  }
  SyncReply reply{message.epoch, message.from, {}, {}};
  reply.entries =
      log_.slice(message.from, log_.last().seq, SIZE_MAX, options_.max_bytes_per_message);
  send(out, from, std::move(reply));
}

}  // namespace partid::replication::core
