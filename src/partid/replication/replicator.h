// replication: Replicator is the I/O shell around the per-partition
// replication cores (replication/core). It owns one ReplicaCore per partition
// this node holds and drives it: appointments from the routing Topology,
// client writes (proposals), peer messages (ReplicationBatch), a tick timer.
// What a core asks for is delegated: storage changes to GroupCommit (durable
// before anything is said), messages to Outbox, snapshots to their own pool,
// seal register reads and claims to SealRegister. Clients' writes wait in
// PendingWrites, snapshots received in SnapshotInbox; the register changes
// of leaving nodes and operators are RegisterSweeps'.
//
// Guarantees to the API: a write's callback runs once, on the loop; "ok" means
// a quorum of the partition's replicas has the write durably and this node
// has applied it (a read here sees it). A failed write says why: not_leader /
// partition_not_ready (nothing was written), leadership_lost or
// quorum_timeout (the outcome is unknown: it may still commit, or be
// truncated by the next epoch; it never blocks later writes).
// Threading: loop only (load() excepted).
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "parti/core/hlc.h"
#include "parti/core/periodic.h"
#include "partid/peer/peer_client.h"
#include "partid/replication/core/replica.h"
#include "partid/replication/core_changes.h"
#include "partid/replication/epoch_gate.h"
#include "partid/replication/group_commit.h"
#include "partid/replication/handoff.h"
#include "partid/replication/hold_budget.h"
#include "partid/replication/outbox.h"
#include "partid/replication/pending_writes.h"
#include "partid/replication/register_sweeps.h"
#include "partid/replication/running_time.h"
#include "partid/replication/seal_register.h"
#include "partid/replication/slow_disk.h"
#include "partid/replication/snapshot_budget.h"
#include "partid/replication/snapshot_inbox.h"
#include "partid/replication/snapshots_out.h"
#include "partid/replication/stall_clock.h"
#include "partid/routing/topology.h"
#include "partid/storage/store_engine.h"

namespace partid::replication {

using storage::hlc_physical_ms;

struct ReplicatorOptions {
  core::CoreOptions core;
  std::chrono::milliseconds tick{50};
  std::chrono::milliseconds write_timeout{5000};
  // A storage write in flight this long is a stalled disk: fatal (0: never).
  std::chrono::milliseconds max_disk_stall{20000};
  // What the logs this node leads may keep for followers being sent
  // snapshots, all partitions together (hold_budget.h); per partition,
  // core.log_hold_bytes.
  uint64_t log_hold_budget_bytes = 512u << 20;
  // A disk whose writes have been this slow asks libparti not to make this
  // node a leader (SlowDiskJudge; threshold 0: never).
  SlowDiskOptions slow_disk;
  // How long a leader handing a partition over lets its writes in flight
  // commit; the other replicas wait twice as long for its Handoff.
  std::chrono::milliseconds handoff_timeout{1000};
  size_t max_pending_writes = 100000;
  // The peer transport's frame limit; catch-up messages are capped to fit
  // (FrameBudget).
  uint32_t max_frame_bytes = peer::kDefaultMaxFrameBytes;
  // The largest snapshot built for a follower or taken in: both sides hold
  // one whole in memory. A larger partition is not copied (a build stops at
  // the bound, is reported, and is not tried again for
  // Replicator::kSnapshotTooLargeRetry).
  uint64_t max_snapshot_bytes = uint64_t{1} << 30;
  // Snapshots built for followers and not yet delivered, together
  // (SnapshotBudget): past it, builds wait for the core's next resend.
  uint64_t snapshot_budget_bytes = uint64_t{512} << 20;
  // Snapshots received and not yet installed or dropped, together
  // (FragmentAssembler): past it, a peer's next transfer is answered busy.
  uint64_t snapshot_receive_budget_bytes = uint64_t{512} << 20;
  CommitDelay commit_delay;
};

// A follower as its leader sees it (seed 004's "replica synchronization status").
struct FollowerStatus {
  std::string node;
  uint64_t match = 0;  // its log is known to match the leader's through here
  // What it lacks: the payload bytes of the leader's log after its match and,
  // when that log no longer reaches back to the match, a snapshot first.
  uint64_t log_bytes_behind = 0;
  bool needs_snapshot = false;
  // How long it has lacked entries without acknowledging any (StallClock).
  double stalled_seconds = 0;
};

// One partition as this node sees it (for /status, /metrics and admin).
struct ReplicaStatus {
  uint32_t partition = 0;
  bool active = false;  // this node is one of its replicas now
  core::Role role = core::Role::follower;
  uint64_t epoch = 0;
  uint64_t promised_epoch = 0;
  uint64_t watermark = 0;
  uint64_t last = 0;
  uint64_t lag = 0;  // leader: entries its slowest follower lacks
  size_t buffered = 0;
  bool rebuilding = false;
  // A follower waiting for data it asked its leader for (a snapshot or a
  // catch-up): core::ReplicaCore::waits_for_data.
  bool waits_for_data = false;
  std::string leader;
  bool serving = false;  // leads, takes writes, and its reads are current
  // How long it has had work it cannot finish (StallClock); 0 when none.
  double stalled_seconds = 0;
  std::vector<FollowerStatus> followers;  // when it leads
  // An appointment held (handoff.h): "draining" (this node's writes in flight
  // commit first), "awaiting" (the previous leader's Handoff, from `from`) or
  // "looking_up" (the previous leader, in the seal register); empty: none.
  std::string handoff;
  uint64_t handoff_epoch = 0;
  std::string handoff_from;

  // A follower of this leader must get the partition as a snapshot first: the
  // one test the drain guard and libparti's rebalance guard both read.
  bool follower_needs_snapshot() const {
    for (const auto& f : followers) {
      if (f.needs_snapshot) return true;
    }
    return false;
  }
  // A follower of this leader lacks more than `bytes` of the log, or needs a
  // snapshot: data is still moving to it (libparti's rebalance guard waits).
  bool follower_far_behind(uint64_t bytes) const {
    for (const auto& f : followers) {
      if (f.needs_snapshot || f.log_bytes_behind > bytes) return true;
    }
    return false;
  }
};

struct AdminResult {
  std::optional<std::string> error;  // refused, or failed: nothing changed
  bool conflict = false;             // failed on concurrent changes; retry
  std::vector<std::string> dropped;  // drop-lost-replicas: taken out of the register
};

struct ReplicatorStats {
  uint64_t committed_writes = 0;
  uint64_t failed_writes = 0;
  uint64_t leaderships_taken = 0;  // epochs this node sealed as leader, for whatever reason
  // Of those, the ones taken over from another leader that handed nothing
  // over (it died, or its Handoff never came): not a first appointment, not
  // a planned move, unless the move passed on a failover that its sender
  // never served (replication::counts_as_failover): each failover is counted
  // once, by the node that served it.
  uint64_t failovers = 0;
  // Appointment -> leading on this node, the latest failover (for one passed
  // on, from this node's own appointment).
  double last_failover_seconds = 0;
  double failover_seconds_sum = 0;
  uint64_t sync_requests = 0;
  uint64_t snapshots_sent = 0;
  // Builds stopped at --max-snapshot-mib: a partition too large to copy whole.
  uint64_t snapshots_too_large = 0;
  // Builds turned away while the snapshots held passed their budget, and
  // what those hold now.
  uint64_t snapshot_builds_deferred = 0;
  uint64_t snapshot_bytes_held = 0;
  uint64_t transfers_started = 0;  // messages sent in fragments (large snapshots)
  uint64_t transfers_abandoned = 0;
  // Sent: first fragments a peer answered busy, each sent again later.
  // Received: transfers turned away as busy (the receive budget, or too many
  // at once), and the bytes the receive budget counts now.
  uint64_t transfers_waited_busy = 0;
  uint64_t transfers_turned_away = 0;
  uint64_t snapshot_bytes_receiving = 0;
  // Logs kept for followers being sent snapshots (hold_budget.h): their
  // bytes now, and the holds ended because the node's budget was spent.
  uint64_t log_held_bytes = 0;
  uint64_t log_holds_released = 0;
  uint64_t buffer_overflows = 0;
  uint64_t refused = 0;
  uint64_t messages_sent = 0;
  uint64_t messages_dropped = 0;
  uint64_t bad_messages = 0;  // malformed, or a snapshot that does not decode
  // Well formed but for a partition this node's topology does not have: before
  // its first topology, or while a split or merge reaches nodes one by one.
  // Dropped; the sender repeats them. Not an operator's alarm, unlike the above.
  uint64_t messages_outside_topology = 0;
  // From a node this one does not know (yet): dropped, the sender retries. At
  // start-up a peer's first messages can beat its record to this node's view.
  uint64_t unknown_sender_messages = 0;
  // Dropped by the EpochGate: an epoch this node's topology does not know
  // (yet, or ever) for the partition, or a leader's message from another node.
  uint64_t messages_ahead_of_topology = 0;
  uint64_t messages_not_from_leader = 0;
  // BeginEpochs that came ahead of this node's topology, kept and delivered
  // once it had their epoch.
  uint64_t early_seals_delivered = 0;
  uint64_t disk_writes = 0;
  // SlowDiskJudge: this node asks not to lead; the median write it judged on.
  bool disk_slow = false;
  double disk_write_median_seconds = 0;
  uint64_t disk_write_steps = 0;   // the cores' steps those writes held (GroupCommit)
  uint64_t installs_ingested = 0;  // snapshot installs written as ingested files
  uint64_t installs_sorted = 0;    // of those, sorted in memory (StoreEngine)
  size_t pending_writes = 0;
  uint64_t read_rounds = 0;  // quorum rounds that confirmed leader reads
  uint64_t reads_unconfirmed = 0;
  // Replicas stalled for longer than a write may wait (write_timeout).
  size_t stalled_partitions = 0;
  // Followers of partitions this node leads that lacked entries without
  // acknowledging any for longer than write_timeout: degraded replicas.
  size_t lagging_followers = 0;
  // Planned leadership changes (handoff.h): Handoffs this node sent as the
  // leader handing over, appointments it took on a Handoff, and waits that
  // ran out (the appointment was taken anyway).
  uint64_t handoffs_sent = 0;
  uint64_t handoffs_received = 0;
  uint64_t handoffs_timed_out = 0;
};

class Replicator {
 public:
  using Done = PendingWrites::Done;
  using ReadDone = std::function<void(bool confirmed)>;
  using OnFatal = std::function<void(const std::string& why)>;

  // `disk` commits (GroupCommit); `snapshots` builds, serializes, parses and
  // decodes partition snapshots: seconds of work each for a large partition,
  // which on the disk pool would hold the threads every commit waits for.
  Replicator(asio::any_io_executor loop, asio::thread_pool& disk, asio::thread_pool& snapshots,
             storage::StoreEngine& store, peer::PeerClient& peers, uint64_t disk_id,
             ReplicatorOptions options, OnFatal on_fatal);
  ~Replicator();

  // Reads every partition this node has data for (blocking: not on the loop).
  static std::map<uint32_t, storage::ReplicaRecord> load(const storage::StoreEngine& store);
  // Takes this node's ID, its restored partitions and the cluster's seal
  // register, and starts ticking.
  void start(core::NodeId self, std::map<uint32_t, storage::ReplicaRecord> restored,
             std::unique_ptr<SealRegister> seals);
  void stop();

  void on_topology(const routing::Topology& topology);
  void on_peer_batch(const pb::ReplicationBatch& batch);
  // One fragment of a message too large for a frame; `answer` (on the loop,
  // once) goes back to its sender. The whole message, once complete, is
  // parsed off the loop and handled like a batch; its last fragment is
  // answered after the parse, with an error when it does not decode.
  using FragmentAnswer = std::function<void(pb::ReplFragmentAck)>;
  void on_fragment(const pb::ReplFragment& fragment, FragmentAnswer answer);
  void submit(std::vector<storage::WriteOp> ops, Done done);

  // Leads `partition` in its current epoch with that epoch's barrier
  // committed: its applied state holds every write it acknowledged.
  bool serves_reads(uint32_t partition) const;
  // Why this node, appointed to lead `partition`, cannot serve it until
  // replicas come back: a replica set that has fewer than a quorum alive (see
  // ReplicaCore::set_out_of_reach), as a message for the client; nullopt when
  // it serves, is merely sealing, or does not lead it.
  std::optional<std::string> quorum_lost(uint32_t partition) const;
  // Confirms, with one quorum round shared by this loop turn's reads, that
  // no newer leader can have acknowledged a write when the call was made
  // (ReplicaCore::confirm_read). `done(true)`: this node's applied state was
  // current at the call, so a read answered from it is linearizable.
  // `done(false)`: leadership moved, or no quorum answered in time. Runs
  // once, on the loop, never inside this call.
  void confirm_read(uint32_t partition, ReadDone done);
  // What confirm_read would answer at once, asked without the trip through
  // the loop: true when this node serves `partition` in a set of one
  // (ReplicaCore::confirms_reads_alone) and every entry its core counts
  // committed is applied in storage; false when a read must ask (and be
  // settled behind the commits in flight).
  bool confirms_reads_alone(uint32_t partition) const;
  // One of the partition's replicas now (its state is a committed prefix).
  bool serves_replica_reads(uint32_t partition) const;
  std::vector<ReplicaStatus> statuses() const;
  // This node holds an appointment for `partition` (DESIGN 4.3's lock): it
  // was appointed to lead it and waits for the previous leader's Handoff or
  // looks that leader up, or it is draining its writes in flight to hand over.
  bool held_for_handoff(uint32_t partition) const;
  // Runs an operator action on this node's replica of `partition`:
  // "force-watermark" (to `seq`), "sync", "skip", "failover" (see
  // core::ReplicaCore), "drop-lost-replicas" (removes the replicas that are
  // no longer in the cluster from the partition's seal register, then
  // reseals: recovery when the sealed set lost a majority for good; the new
  // leader then adopts the most advanced log of the survivors, and what only
  // the lost replicas held is gone). `done` runs once, on the loop, when the
  // operation has taken effect (for drop-lost-replicas: the register is
  // rewritten and resealing has begun) or with why it was refused or failed.
  using AdminDone = std::function<void(AdminResult)>;
  void admin(uint32_t partition, const std::string& operation, uint64_t seq, AdminDone done);
  ReplicatorStats stats() const;
  // The disk has been slow (SlowDiskJudge): this node should not lead.
  bool disk_slow() const { return slow_disk_.slow(); }
  // GroupCommit::read_between_writes: a disk read that must not overlap a
  // write (TxnRecovery's scan of prepared transactions).
  void read_between_writes(std::function<void()> job, std::function<void()> done) {
    commit_.read_between_writes(std::move(job), std::move(done));
  }
  // The partitions this node holds data of whose seal register still names
  // it: a later sealing may need to hear from it, so a node that leaves waits
  // until none is left (Node::drain). `done` runs on the loop once every
  // register read was answered, and never if one was lost (the caller asks
  // again).
  void sealed_with_self(std::function<void(std::vector<uint32_t>)> done);
  // For a node whose data is about to be deleted (an ephemeral node leaving
  // last, with nobody to hand its partitions to): takes this node out of
  // every seal register that names it, by compare-and-set, so that a later
  // node is not kept waiting for a quorum of data that no longer exists.
  // `done` gets the partitions withdrawn from, as sealed_with_self.
  void withdraw_from_registers(std::function<void(std::vector<uint32_t>)> done);

 private:
  struct Replica;
  struct Queued;
  struct Effects;

  Replica& ensure(uint32_t partition);
  // A partition gone from the layout (merged away), or a replica of an
  // earlier incarnation of one made again (LayoutRecord::seal_floors): its
  // replica goes, writes waiting on it fail, and its data is dropped.
  void retire(uint32_t partition);
  bool earlier_incarnation(uint32_t partition, const Replica& r) const;
  // The seal register as the current incarnation of `partition` sees it: a
  // record below its floor says nothing about it (kept only its revision,
  // for the next claim).
  core::SealRecord incarnation_view(uint32_t partition, core::SealRecord record) const;
  // The appointment path (handoff.h): take() plans, appoint() acts on it.
  void take(uint32_t partition, Replica& r, Appointment next);
  void appoint(uint32_t partition, Replica& r, const Appointment& next);
  void hand_over(uint32_t partition, Replica& r, const Appointment& next);
  void look_up_leader(uint32_t partition, Appointment next);
  void on_handoff(const std::string& from, const pb::Handoff& handoff);
  struct HeardHandoff {
    uint64_t epoch = 0;            // the latest Handoff's
    bool passes_failover = false;  // one for that epoch did (pb::Handoff)
  };
  // The latest Handoff heard for `partition`, if it is for `epoch` or later.
  const HeardHandoff* heard_handoff(uint32_t partition, uint64_t epoch) const;
  bool handoff_heard(uint32_t partition, uint64_t epoch) const {
    return heard_handoff(partition, epoch) != nullptr;
  }
  void settle_held(uint32_t partition, Replica& r, std::chrono::steady_clock::time_point now);
  void deactivate(Replica& r);
  // A peer's message, converted: checked, gated, a snapshot decoded off the
  // loop, then delivered.
  void on_peer_message(const std::string& from, uint32_t partition,
                       std::optional<core::Message> message);
  void deliver(const std::string& from, uint32_t partition, const core::Message& message);
  // The EpochGate's verdict, counted when it drops the message.
  bool admitted(const std::string& from, uint32_t partition, const core::Message& message);
  void park_early_seal(const std::string& from, uint32_t partition, const core::BeginEpoch& seal);
  void deliver_early_seals();
  void step(uint32_t partition, Replica& r, core::Actions actions);
  void settle_read(Replica& r, uint64_t id, bool confirmed);
  void run(const Effects& effects);
  void after_step(uint32_t partition, Replica& r);
  // Logs a snapshot install the step makes (GroupCommit's install observer
  // logs its end).
  static void log_install(uint32_t partition, const core::Actions& actions);
  void clock_past_log(uint32_t partition, const Replica& r);
  void clock_past_snapshot(uint64_t newest_hlc);
  void watch_stall(Replica& r);
  void watch_followers(Replica& r, std::chrono::steady_clock::time_point now);
  void schedule_turn_end();
  void propose_all();
  void flush_reads();
  void propose(uint32_t partition, Replica& r);
  void finish(Replica& r, uint64_t seq, bool ok, const std::string& code, const std::string& why);
  void on_refused(const std::vector<storage::Refusal>& refused);
  void take_snapshot(uint32_t partition, const core::SnapshotRequest& request);
  // A build stopped at max_snapshot_bytes: said once per pair and retry window.
  void snapshot_too_large(uint32_t partition, const core::NodeId& to);
  bool recently_too_large(uint32_t partition, const core::NodeId& to);
  // The follower was sent a snapshot of `partition` it has not acknowledged
  // past, within its patience (SnapshotsOut): no new one is built.
  bool still_installing(uint32_t partition, const core::SnapshotRequest& request);
  void read_seal(uint32_t partition, const core::SealRead& read);
  void claim_seal(uint32_t partition, const core::SealClaim& claim);
  void drop_lost_replicas(uint32_t partition, AdminDone done);
  std::vector<uint32_t> held_partitions() const;
  // Checks an operation (an error message when refused) and runs it if it is
  // synchronous; drop-lost-replicas is only checked.
  std::optional<std::string> admin_now(uint32_t partition, const std::string& operation,
                                       uint64_t seq);
  // Runs `f(replica)` on the loop if the partition still has one.
  template <class F>
  void with_replica(uint32_t partition, F f);
  void tick();
  // Ends the largest holds while the node's held logs pass their budget
  // (hold_budget.h).
  void bound_held_logs();
  void judge_disk_speed(std::chrono::steady_clock::time_point now,
                        std::chrono::steady_clock::duration waiting);
  void watch_disk(std::chrono::steady_clock::time_point now);
  const std::string* address_of(const core::NodeId& node) const;

  // False from stop(): nothing posted earlier acts after it. Before the
  // members below, which take it at their construction.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  asio::any_io_executor loop_;
  asio::thread_pool& snapshot_pool_;
  storage::StoreEngine& store_;
  core::NodeId self_;
  uint64_t disk_id_;
  ReplicatorOptions options_;
  OnFatal on_fatal_;
  bool disk_stalled_ = false;  // on_fatal_ said so once
  SlowDiskJudge slow_disk_;
  GroupCommit commit_;
  Outbox outbox_;
  SnapshotInbox inbox_;
  PendingWrites writes_;
  parti::Periodic ticker_;
  RunningTime running_;              // the disk watch's waits, without the process's pauses
  parti::HybridLogicalClock clock_;  // item versions' HLC, stamped at proposal
  std::map<uint32_t, std::unique_ptr<Replica>> replicas_;
  uint64_t holds_released_ = 0;                        // by bound_held_logs
  std::map<std::string, std::string> peer_addresses_;  // node -> host:port
  // P, from the topology. 0 until the first topology: until then every
  // message waits (is dropped; its sender repeats it), as a restored replica
  // may be an earlier incarnation of its partition.
  uint32_t partitions_ = 0;
  std::map<uint32_t, uint64_t> starts_;       // partitions made by splits (LayoutRecord::starts)
  std::map<uint32_t, uint64_t> seal_floors_;  // LayoutRecord::seal_floors
  EpochGate gate_;
  struct EarlySeal {
    std::string from;
    uint32_t partition = 0;
    core::BeginEpoch seal;
  };
  static constexpr size_t kMaxEarlySeals = 4096;
  static constexpr std::chrono::seconds kSnapshotTooLargeRetry{60};
  std::deque<EarlySeal> early_seals_;     // BeginEpochs ahead of this node's topology
  std::set<std::string> live_nodes_;      // the latest assignment's workers with a node record
  std::set<std::string> recorded_nodes_;  // nodes with a record (Leaving ones too)
  std::map<uint32_t, HeardHandoff> handoffs_heard_;
  bool turn_end_scheduled_ = false;
  std::set<uint32_t> read_flushes_;  // partitions with reads since the last round
  std::set<std::pair<uint32_t, core::NodeId>> snapshots_building_;  // (partition, follower)
  SnapshotBudget snapshot_budget_;
  // Builds that passed max_snapshot_bytes, and when: none again for that pair
  // within kSnapshotTooLargeRetry (each would read the partition again).
  std::map<std::pair<uint32_t, core::NodeId>, std::chrono::steady_clock::time_point>
      snapshots_too_large_;
  SnapshotsOut snapshots_out_;  // sent to followers, not yet installed
  ReplicatorStats stats_;
  uint64_t session_;  // this process's read rounds (ReplicaCore's session)
  uint64_t next_read_id_ = 0;
  std::unique_ptr<RegisterSweeps> sweeps_;  // on seals_, from start()
  std::unique_ptr<SealRegister> seals_;     // first to go: its pool may still answer
};

// Replicator::submit as a coroutine: resumes on the caller's executor with
// one result per op. Loop only, like submit.
asio::awaitable<std::vector<WriteResult>> replicate(Replicator* replicator,
                                                    std::vector<storage::WriteOp> ops);

}  // namespace partid::replication
