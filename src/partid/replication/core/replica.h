// replication/core: one replica of one partition, as a deterministic state
// machine (sans-I/O). Events go in — an appointment from the coordinator, a
// client proposal, a peer message, a timer tick — and Actions come out.
//
// The protocol is a replicated log with externally appointed leaders. The
// epoch of a partition is the assignment version that appointed its leader.
// A new leader reads the partition's seal register (the set that last
// finished sealing, see SealRecord), seals its epoch on a quorum of its own
// set and of that one (BeginEpoch -> EpochPromise: each replica promises to
// refuse older epochs and reports its last position), adopts the most
// advanced log of those quorums (fetching it with SyncRequest), writes a
// barrier entry in its own epoch, and once a quorum of its set holds the
// barrier, claims the register for its set with compare-and-set. Only then
// does anything commit and does it take proposals.
// Followers append strictly in sequence order, buffer what arrives early and
// ask for a gap that does not fill in time; a follower whose entries were
// trimmed gets a snapshot first. An entry is committed (the watermark passes
// it) once a quorum holds it and the entry at the watermark is of the
// leader's own epoch.
//
// Reads: confirm_read is a read barrier (see there); with it a leader read is
// linearizable.
//
// Guarantees, given that the shell performs each step's persist ops durably
// before its sends and replies, that the seal register is linearizable, and
// that the coordinator never appoints two leaders with one epoch (it may move
// replica sets freely, even before a set finished sealing): an entry reported committed is held by
// a quorum and is never replaced, at any replica, by a different entry at its sequence; the
// watermark never moves back; replicas apply the same entries in the same order. Messages may be
// lost, duplicated, delayed and reordered.
#pragma once

#include <map>
#include <optional>
#include <set>

#include "partid/replication/core/gap_buffer.h"
#include "partid/replication/core/replica_log.h"
#include "partid/replication/core/types.h"

namespace partid::replication::core {

struct CoreOptions {
  size_t max_entries_per_message = 256;
  size_t max_bytes_per_message = 1u << 20;  // payload bytes; at least one entry
  uint64_t max_in_flight = 4096;            // entries sent past a follower's match
  size_t max_buffered_entries = 4096;       // a follower's gap buffer
  uint64_t heartbeat_ticks = 1;             // idle leader -> follower confirmation
  // Silent follower: resend from its match after this many ticks, then after
  // twice as many each time it stays silent, up to max_retry_backoff times.
  uint64_t retry_ticks = 4;
  uint64_t max_retry_backoff = 8;
  uint64_t gap_timeout_ticks = 2;  // unfilled gap: ask the leader
  uint64_t seal_retry_ticks = 4;   // sealing without progress: ask again
  uint64_t log_retention = 10000;  // entries kept behind the watermark
  // A follower being sent a snapshot holds the leader's log back until it has
  // caught up from it (Progress::hold_from), unless the entries held take
  // more than log_hold_bytes of memory (ReplicaLog::memory_bytes_after:
  // payloads and each entry's own size) or it makes no progress for
  // log_hold_ticks: then the log is trimmed as if it were not there.
  uint64_t log_hold_bytes = 64u << 20;
  uint64_t log_hold_ticks = 1200;
  uint64_t read_timeout_ticks = 100;  // unconfirmed read: give up
};

enum class Role { follower, sealing, leader };

struct CoreStats {
  uint64_t sync_requests = 0;  // catch-up requests sent
  uint64_t buffer_overflows = 0;
  uint64_t refused = 0;  // messages refused for an old epoch
  uint64_t snapshots_sent = 0;
  uint64_t seals = 0;          // epochs this replica sealed as leader
  uint64_t started_empty = 0;  // sealed with no replica holding history
  uint64_t read_rounds = 0;    // quorum rounds started to confirm reads
};

struct ProposeResult {
  bool accepted = false;  // false: not the sealed leader; nothing was written
  uint64_t first_seq = 0;
  Actions actions;
};

class ReplicaCore {
 public:
  // `session` must differ between incarnations of this replica (the shell:
  // random per process): it keeps a restarted leader from taking a follower's
  // answer to its previous incarnation as confirmation of a read.
  ReplicaCore(NodeId self, CoreOptions options = {}, uint64_t session = 0);

  // Restores what a previous run persisted (before any other call).
  void restore(HardState hard, Position base, std::vector<Entry> log);

  // The coordinator's word: `leader` leads in `epoch` over `replicas` (which
  // include the leader). Older epochs than this replica promised are ignored.
  Actions appoint(uint64_t epoch, const NodeId& leader, std::vector<NodeId> replicas);
  ProposeResult propose(std::vector<std::string> payloads);
  // The shell's answers about the seal register (Actions::read_seal and
  // Actions::claim_seal). Answers for another epoch, or late, are ignored.
  Actions seal_read(uint64_t epoch, const SealRecord& record);
  // `won`: the register now holds the claim. Otherwise `current` is what it
  // holds (someone else's claim came first).
  Actions seal_claimed(uint64_t epoch, bool won, const SealRecord& current);
  Actions receive(const NodeId& from, const Message& message);
  Actions tick();
  // The shell's answer to a SnapshotRequest; `snapshot` must be the applied
  // state at this replica's watermark.
  Actions snapshot_ready(const SnapshotRequest& request, Snapshot snapshot);

  // Read barrier (the read-index idea): read `id` is confirmed, in
  // Actions::reads_confirmed, once a quorum of the replica set has answered,
  // in this epoch, a message this leader sent after the call. No later epoch
  // can have finished sealing before then (sealing needs a quorum of this
  // set, and a replica that promised a later epoch answers no more), so no
  // write this leader does not hold was acknowledged before the read began:
  // the shell may answer from its applied state once everything this core
  // has committed so far is applied. The read waits for the next round, which flush_reads starts
  // (the shell calls it once per loop turn, so every read of a turn shares one
  // round; rounds already out do not delay it). Failed (reads_failed) when
  // it does not serve reads (serves_reads), on stepping down, or after
  // read_timeout_ticks.
  Actions confirm_read(uint64_t id);
  // Starts the round the reads since the last flush wait for, if any.
  Actions flush_reads();

  // Operator actions (admin routes); each returns what to do, like a step.
  // force_watermark: moves the watermark to `seq` (at most the last entry)
  // without a quorum — for recovery only: it can commit what no quorum holds.
  Actions force_watermark(uint64_t seq);
  // catch_up: a follower asks its leader for everything after its last
  // entry; with `skip_buffered`, what waits in its gap buffer is dropped first.
  Actions catch_up(bool skip_buffered);
  // reseal: the leader (or a leader still sealing) starts sealing its epoch
  // again — the failover procedure (register read, promises, adoption of the
  // most advanced log, truncation of divergent suffixes) without a
  // coordinator change.
  Actions reseal();

  Role role() const { return role_; }
  // Leads with its set claimed in the seal register: takes proposals.
  bool serving() const { return role_ == Role::leader && claimed_; }
  // Serving, and its watermark is at an entry of its own epoch (the
  // barrier or later): only then does the watermark cover every write an
  // earlier leader committed. A leader can serve before that: the answer to
  // a claim made before it restarted may arrive while its new barrier is not
  // yet on a quorum (found by the simulator, seed 99281 of three nodes).
  bool serves_reads() const { return serving() && log_.epoch_at(hard_.commit) == epoch_; }
  // Serves reads for a set of one (RF 1): confirm_read confirms at once,
  // since no other replica can seal a newer epoch without this one.
  bool confirms_reads_alone() const { return serves_reads() && quorum() == 1; }
  uint64_t epoch() const { return epoch_; }
  uint64_t promised_epoch() const { return hard_.promised_epoch; }
  uint64_t commit() const { return hard_.commit; }
  Position last() const { return log_.last(); }
  const ReplicaLog& log() const { return log_; }
  const std::optional<NodeId>& leader() const { return leader_; }
  const std::vector<NodeId>& replicas() const { return replicas_; }
  bool rebuilding() const { return hard_.rebuilding; }
  // A follower whose log has had a gap for at least the gap timeout: its
  // leader's messages start past what it holds, so it has asked for what it
  // lacks (a catch-up or a snapshot) and waits for it. Not a replica to make
  // a leader yet: it would seal by fetching the partition while its writes
  // waited. A gap the next message fills (reordering) never counts.
  bool waits_for_data() const {
    return role_ == Role::follower && gap_opened_ &&
           now_ - *gap_opened_ >= options_.gap_timeout_ticks;
  }
  size_t buffered_entries() const { return buffer_.entries(); }
  size_t pending_proposals() const { return pending_.size(); }
  const CoreStats& stats() const { return stats_; }
  // Per follower: how far it is known to match this leader.
  std::map<NodeId, uint64_t> follower_matches() const;
  // The memory this log keeps only for followers being sent a
  // snapshot (Progress::hold_from), past what the retention keeps anyway:
  // what a node-wide budget for held logs counts. 0 on a follower.
  uint64_t held_log_bytes() const;
  // Ends every hold as a hold's own limits do (none again for a follower
  // before it progresses); the log is trimmed at the next commit. For the
  // shell, when the node's held logs together pass its budget.
  void release_log_holds();
  // While this replica is appointed leader but not serving yet (sealing, or
  // claiming the register): its own replica set or the
  // sealed set (once the register is read) if fewer than a quorum of it are
  // in `alive` (this replica always counts), so sealing cannot finish before
  // more of them return. nullopt otherwise. Liveness is the shell's view, so
  // this only explains a wait; sealing itself still decides on promises.
  std::optional<std::vector<NodeId>> set_out_of_reach(const std::set<NodeId>& alive) const;

 private:
  struct Progress {
    uint64_t match = 0;
    uint64_t next = 1;
    uint64_t last_progress_tick = 0;  // when its match last moved
    uint64_t last_send_tick = 0;
    bool snapshot_pending = false;
    uint64_t disk_id = 0;
    uint64_t round = 0;       // the latest read round of this session it answered
    uint64_t retry_wait = 0;  // ticks before the next resend; 0: retry_ticks
    // The log after this entry is kept for this follower: it was asked a
    // snapshot, which is built at the watermark of its hour, and then needs
    // the entries after that. Trimmed past them while it installs (seconds for
    // a large partition), it would need another snapshot, and under steady
    // writes another after that one, for ever. Follows its match as it catches
    // up; released once the retention covers it or at the hold's limits.
    std::optional<uint64_t> hold_from;
    uint64_t hold_tick = 0;   // when the hold began or the follower last progressed
    bool hold_spent = false;  // released at a limit: none again before it progresses
    void spend_hold() {
      hold_from.reset();
      hold_spent = true;
    }
  };
  struct PendingRead {
    uint64_t id = 0;
    uint64_t round = 0;  // confirmed by a quorum answering this round
    uint64_t since = 0;
  };

  size_t quorum() const { return replicas_.size() / 2 + 1; }
  std::vector<NodeId> others() const;
  // Everyone sealing talks to: the replicas and the sealed set.
  std::vector<NodeId> electorate() const;
  bool has_quorum_of(const std::vector<NodeId>& set, const std::set<NodeId>& voters) const;
  void send(Actions& out, const NodeId& to, Message message);
  void save_hard_state(Actions& out);
  void raise_promise(Actions& out, uint64_t epoch);
  void step_down(Actions& out);
  void advance_commit(Actions& out, uint64_t commit);
  // The last entry the retention alone lets the log drop: the watermark less
  // log_retention (0 while the log is shorter).
  uint64_t retained_from() const;
  // The last entry the log may drop: retained_from(), or less while a
  // follower holds the log.
  uint64_t trim_limit() const;
  void append_local(Actions& out, Entry entry);
  void truncate_local(Actions& out, uint64_t after);

  // follower side (replica_follower.cpp)
  void on_replicate(Actions& out, const NodeId& from, const Replicate& message);
  void apply_replicate(Actions& out, const Replicate& message);
  bool append_matching(Actions& out, const Replicate& message);
  void drain_buffer(Actions& out);
  void close_gap();
  void on_begin_epoch(Actions& out, const NodeId& from, const BeginEpoch& message);
  void on_install_snapshot(Actions& out, const NodeId& from, const InstallSnapshot& message);
  void on_sync_request(Actions& out, const NodeId& from, const SyncRequest& message);
  void follower_tick(Actions& out);
  void install(Actions& out, const Snapshot& snapshot);
  void finish_rebuilding(Actions& out);

  // leader side (replica_leader.cpp)
  void start_sealing(Actions& out);
  void on_promise(Actions& out, const NodeId& from, const EpochPromise& message);
  void evaluate_promises(Actions& out);
  void on_sync_reply(Actions& out, const NodeId& from, const SyncReply& message);
  void finish_sealing(Actions& out);
  void on_ack(Actions& out, const NodeId& from, const ReplicateAck& message);
  void send_more(Actions& out, const NodeId& follower);
  // Sends entries [from, to_seq] (as many as one message takes); returns the
  // last sequence sent.
  uint64_t send_range(Actions& out, const NodeId& to, uint64_t from, uint64_t to_seq);
  void maybe_commit(Actions& out);
  void claim(Actions& out);
  void leader_tick(Actions& out);
  // Keeps the log from its base on for a follower asked a snapshot
  // (Progress::hold_from); review_holds ends the holds past their limits.
  void hold_log(Progress& progress);
  void review_holds();
  void sealing_tick(Actions& out);
  void maybe_trim(Actions& out);
  // An empty Replicate after `seq`, with the watermark and the read round.
  Replicate replicate_after(uint64_t seq) const;
  Replicate heartbeat_to(const Progress& progress) const;
  void start_read_round(Actions& out);
  void confirm_reads(Actions& out);
  void fail_reads(Actions& out);

  NodeId self_;
  CoreOptions options_;
  HardState hard_;
  ReplicaLog log_;
  Role role_ = Role::follower;
  uint64_t epoch_ = 0;  // the epoch this replica leads or follows
  std::optional<NodeId> leader_;
  std::vector<NodeId> replicas_;
  uint64_t now_ = 0;

  // follower
  std::optional<uint64_t> catch_up_target_;
  GapBuffer buffer_;
  std::optional<uint64_t> gap_since_;   // the gap's last catch-up request (or its opening)
  std::optional<uint64_t> gap_opened_;  // when the gap opened
  // The last entry of a message the full buffer dropped (0: none since the
  // gap opened). The gap lasts until the log reaches it, not merely until the
  // buffer drains: a follower whose buffer overflowed and then emptied is
  // still behind, and reopening the gap at the next message hid that it
  // waits for data for one gap timeout.
  uint64_t lost_through_ = 0;

  // sealing
  std::optional<SealRecord> sealed_;  // the register as read for this epoch
  std::map<NodeId, EpochPromise> promises_;
  std::optional<NodeId> adopting_from_;
  uint64_t adopt_next_ = 0;     // next chunk's first sequence; 0: the first chunk
  uint64_t adopt_retries_ = 0;  // requests of the current chunk left unanswered
  std::vector<Entry> adopted_;  // chunks received so far
  std::optional<Snapshot> adopted_snapshot_;
  uint64_t seal_progress_tick_ = 0;

  // leader
  bool claimed_ = false;  // the register holds this epoch's set
  bool claim_requested_ = false;
  uint64_t claim_tick_ = 0;
  std::map<NodeId, Progress> progress_;
  std::set<uint64_t> pending_;  // proposed by this leader, not yet committed
  uint64_t session_ = 0;
  uint64_t round_ = 0;         // the latest read round started; never reused in a session
  bool round_wanted_ = false;  // some read waits for round_ + 1 (flush_reads)
  std::vector<PendingRead> reads_;

  CoreStats stats_;
};

}  // namespace partid::replication::core
