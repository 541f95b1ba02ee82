// replication/core: the values the per-partition replication protocol is made
// of — log entries, positions, the persistent state, the peer messages and the
// actions a step returns. Plain data only: no I/O, no clocks, no threads, so
// the same protocol runs in the node's I/O shell and in the deterministic
// simulator of the tests.
#pragma once

#include <compare>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace partid::replication::core {

using NodeId = std::string;

// An entry's place in the history: the epoch of the leader that wrote it, then
// its sequence. Logs compare by their last position (epoch first), which is
// what makes "the most advanced log" well defined.
struct Position {
  uint64_t epoch = 0;
  uint64_t seq = 0;
  auto operator<=>(const Position&) const = default;
};

struct Entry {
  uint64_t seq = 0;
  uint64_t epoch = 0;
  // A barrier is the empty entry a new leader writes in its own epoch: once it
  // commits, everything before it is committed too (entries of older epochs are
  // never committed by counting replicas alone).
  bool barrier = false;
  std::string payload;
  bool operator==(const Entry&) const = default;
};

// A snapshot's bytes, shared and never changed: a snapshot is as large as
// its partition, and it passes through the core, the shell's queues and the
// wire on the event loop, where a copy would hold up everything else.
using SnapshotBytes = std::shared_ptr<const std::string>;
inline SnapshotBytes snapshot_bytes(std::string data) {
  return std::make_shared<const std::string>(std::move(data));
}

// The applied state of a partition through `through`, opaque to the core.
struct Snapshot {
  Position through;
  SnapshotBytes data = snapshot_bytes({});
  size_t size() const { return data->size(); }
};

// A replica set and the epoch that appointed it.
struct Config {
  uint64_t epoch = 0;
  std::vector<NodeId> members;
  bool operator==(const Config&) const = default;
};

// The seal register of a partition: the replica set whose leader last
// finished sealing. Every committed entry is held by a quorum of that set
// (its leader adopted all earlier ones before claiming it), so it is the one
// set, besides its own, a new leader must seal on. It lives outside the
// replicas, in a compare-and-set register (the shell: a NATS KV key), because
// replicas alone cannot know it: the members of a set whose sealing never
// finished may know nothing of the data.
struct SealRecord {
  Config config;          // epoch 0 and no members: never sealed
  uint64_t revision = 0;  // the register's version; 0: absent
  bool operator==(const SealRecord&) const = default;
};

// What must survive a crash besides the log.
struct HardState {
  uint64_t promised_epoch = 0;  // never accept anything older
  uint64_t commit = 0;          // the watermark: highest committed sequence
  // Names this replica's disk; a replica that lost its disk comes back with a
  // larger one, so its leader forgets what the old disk acknowledged.
  uint64_t disk_id = 0;
  // Set by the shell when a replica with a new, empty disk joins a partition
  // that has history; until it has caught up with a leader's log its
  // promises do not count (an empty log from a lost disk says nothing about
  // what the old disk acknowledged). Cleared by the core.
  bool rebuilding = false;
  bool operator==(const HardState&) const = default;
};

// ---- messages between the replicas of one partition ----

// Leader -> follower: entries after `prev` (empty: a heartbeat), and the
// leader's watermark. `session` and `round` name the leader's latest read
// round (see ReplicaCore::confirm_read); the follower's ack echoes them.
struct Replicate {
  uint64_t epoch = 0;
  Position prev;
  std::vector<Entry> entries;
  uint64_t commit = 0;
  uint64_t leader_last = 0;  // how far a rebuilt replica must catch up
  uint64_t session = 0;
  uint64_t round = 0;
};
// Follower -> leader. ok: the follower's log matches the leader's through
// `last`. !ok: the follower could not place the message; `last` is a sequence
// it is known to share with the leader (its watermark), to resend from.
struct ReplicateAck {
  uint64_t epoch = 0;
  bool ok = false;
  uint64_t last = 0;
  uint64_t disk_id = 0;
  uint64_t session = 0;  // echoed from the Replicate this answers
  uint64_t round = 0;
};
// New leader -> replicas: promise to refuse older epochs, report your log.
struct BeginEpoch {
  uint64_t epoch = 0;
};
struct EpochPromise {
  uint64_t epoch = 0;
  Position last;
  uint64_t commit = 0;
  // A rebuilding replica promises too (it fences older epochs) but its log
  // is no evidence: it does not count toward the quorum that chooses the log.
  bool rebuilding = false;
};
// Any -> sender of an older epoch: "I have promised `epoch`".
struct Refuse {
  uint64_t epoch = 0;
};
// Follower -> leader (catch-up of a gap), and new leader -> the replica with
// the most advanced log (adoption). to == 0 means "to your last entry".
struct SyncRequest {
  uint64_t epoch = 0;
  uint64_t from = 0;
  uint64_t to = 0;
};
// Leader -> replica whose needed entries were trimmed: the applied state,
// followed by the log tail in ordinary Replicate messages.
struct InstallSnapshot {
  uint64_t epoch = 0;
  Snapshot snapshot;
  uint64_t commit = 0;
  uint64_t leader_last = 0;
};
// Answer to an adoption SyncRequest: the sender's entries from `from`.
struct SyncReply {
  uint64_t epoch = 0;
  uint64_t from = 0;
  std::vector<Entry> entries;
  std::optional<Snapshot> snapshot;  // set when `from` was trimmed away
};

using Message = std::variant<Replicate, ReplicateAck, BeginEpoch, EpochPromise, Refuse, SyncRequest,
                             InstallSnapshot, SyncReply>;

struct Outgoing {
  NodeId to;
  Message message;
};

// ---- actions ----

// Storage changes, applied durably and in order before any send or reply of
// the same step (persist, then talk: an acknowledgement is never ahead of the
// disk).
struct TruncateAfter {
  uint64_t seq = 0;  // drop every log entry with a larger sequence
};
struct AppendEntries {
  std::vector<Entry> entries;
};
struct SaveHardState {
  HardState state;
};
// The state becomes exactly the snapshot; log entries through it go, and the
// entries after it stay only when `keep_tail` (they continue its history).
struct ReplaceWithSnapshot {
  Snapshot snapshot;
  bool keep_tail = false;
};
using PersistOp = std::variant<TruncateAfter, AppendEntries, SaveHardState, ReplaceWithSnapshot>;

// Asks the shell for a snapshot of its applied state (at its watermark),
// handed back through ReplicaCore::snapshot_ready.
struct SnapshotRequest {
  NodeId to;
  bool for_adoption = false;  // answers a new leader's SyncRequest
  bool operator==(const SnapshotRequest&) const = default;
};

// Asks the shell to read the seal register, answered through
// ReplicaCore::seal_read. Repeated while sealing makes no progress (the
// register may have moved); an answer may come twice.
struct SealRead {
  uint64_t epoch = 0;  // the epoch being sealed
  bool operator==(const SealRead&) const = default;
};
// Asks the shell to set the seal register to `config` if it still holds
// revision `expected_revision` (0: absent), answered through
// ReplicaCore::seal_claimed. Repeated until answered.
struct SealClaim {
  Config config;
  uint64_t expected_revision = 0;
  bool operator==(const SealClaim&) const = default;
};

// What one step asks of its shell, in this order: persist, apply, trim, send,
// answer clients. Seal register calls may run at any time after the persist.
struct Actions {
  std::vector<PersistOp> persist;
  std::vector<Entry> apply;  // newly committed entries, in order
  // Log entries through here may go (after applying: the state keeps them).
  std::optional<uint64_t> trim_through;
  std::vector<Outgoing> send;
  std::vector<SnapshotRequest> snapshots;  // build one each, at the watermark
  std::vector<uint64_t> committed;         // sequences of this leader's proposals now committed
  std::vector<uint64_t> abandoned;         // proposals whose fate this node no longer decides
  std::optional<SealRead> read_seal;
  std::optional<SealClaim> claim_seal;
  // Reads (ReplicaCore::confirm_read) whose leadership is now confirmed, or
  // can no longer be. A confirmed read may be answered from the state once
  // everything committed so far is applied.
  std::vector<uint64_t> reads_confirmed;
  std::vector<uint64_t> reads_failed;

  bool empty() const {
    return persist.empty() && apply.empty() && !trim_through && send.empty() && snapshots.empty() &&
           committed.empty() && abandoned.empty() && !read_seal && !claim_seal &&
           reads_confirmed.empty() && reads_failed.empty();
  }
};

}  // namespace partid::replication::core
