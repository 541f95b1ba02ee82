// replication: carrying one replication message that is too large for a peer
// frame (a partition snapshot) as a sequence of fragments.
//
// FragmentSender sends a transfer one fragment at a time, each as a request
// whose reply acknowledges it, and the next only after that reply: a transfer
// keeps at most one fragment in the peer connection's queue, so it neither
// overflows the queue's byte limit nor starves the ordinary replication
// traffic sharing the connection. A fragment that fails or times out
// abandons the transfer: the replication core asks again for what it still
// needs. At most one transfer per (peer, partition) and a few per peer run at
// once; the caller checks busy() before building a snapshot it could not send,
// and one built while others took the peer's room waits for a transfer there
// to end.
// A transfer that completed keeps its (peer, partition) busy while the peer
// decodes and installs it (as long as the transfer took, at least the
// fragment timeout): the core's resends meanwhile would otherwise build and
// send the whole partition again.
//
// FragmentAssembler (pure logic) rebuilds transfers on the receiving side:
// fragments in order, within a byte limit per transfer and a limit on
// transfers being assembled; a transfer that goes quiet is forgotten. A
// transfer starts only while the snapshots this node holds received (its
// receive budget: partial transfers and completed ones whose bytes are not
// dropped yet) are under the budget, or none is held: with 16 transfers of up
// to 1 GiB each from as many leaders, a node being rebuilt held whatever they
// sent at once. One turned away for room, or past the count of transfers, is
// answered `busy`, and its sender keeps the bytes and tries its first
// fragment again later instead of abandoning (a snapshot built again is
// seconds of a leader's work).
//
// The whole message is still held in memory on both sides (the snapshot is
// built as one value; the sender shares it, TransferBytes): fragments lift
// the frame limit, not the memory cost.
// Threading: FragmentSender on the loop (its serializations on the work
// executor); FragmentAssembler is not shared.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "parti/core/async.h"
#include "partid/peer/peer_client.h"
#include "partid/replication/snapshot_budget.h"
#include "partid/replication/transfer_bytes.h"

namespace partid::replication {

namespace asio = boost::asio;

class FragmentSender {
 public:
  struct Options {
    size_t fragment_bytes = 2u << 20;  // set from the frame limit (FrameBudget)
    size_t max_transfers_per_peer = 2;
    std::chrono::milliseconds fragment_timeout{10000};
    // The last fragment's answer waits for the receiver to parse the whole
    // transfer, queued behind the other snapshots it is parsing and decoding
    // (a rebuilt node receives one per partition at once).
    std::chrono::milliseconds last_fragment_timeout{60000};
    // A transfer the peer turns away as busy tries again after this, doubling
    // up to busy_retry_max, and is abandoned after busy_patience.
    std::chrono::milliseconds busy_retry{250};
    std::chrono::milliseconds busy_retry_max{4000};
    std::chrono::milliseconds busy_patience{120000};
  };
  using Serialize = std::function<TransferBytes()>;
  // Runs on `loop`; serializes each transfer's message on `work` (a
  // snapshot's message is as large as its partition).
  FragmentSender(peer::PeerClient& peers, asio::any_io_executor loop, asio::any_io_executor work,
                 Options options);
  FragmentSender(const FragmentSender&) = delete;
  FragmentSender& operator=(const FragmentSender&) = delete;
  ~FragmentSender();

  // Whether a transfer for `partition` to `address` could not start now.
  bool busy(const std::string& address, uint32_t partition) const;
  // Sends what `serialize` returns (a serialized ReplicationBatch from
  // `from`, made on the work executor) in fragments, once a transfer to the
  // peer ends if it has as many as it may. False, and nothing is serialized
  // or sent, while a transfer of `partition` to `address` runs, waits or
  // settles.
  bool start(const std::string& address, uint32_t partition, const std::string& from,
             Serialize serialize);
  // When the last transfer of `partition` to `address` was abandoned, if one was.
  std::optional<std::chrono::steady_clock::time_point> last_abandoned(const std::string& address,
                                                                      uint32_t partition) const;
  uint64_t started() const { return started_; }
  uint64_t completed() const { return completed_; }
  uint64_t abandoned() const { return abandoned_; }
  // First fragments the peer answered busy (each tried again later).
  uint64_t busy_refusals() const { return busy_refusals_; }

 private:
  using Clock = std::chrono::steady_clock;
  using Key = std::pair<std::string, uint32_t>;  // (address, partition)
  struct Transfer;
  struct Waiting {
    std::shared_ptr<Transfer> transfer;
    Serialize serialize;
  };
  bool settling(const Key& key) const;
  void launch(std::shared_ptr<Transfer> t, Serialize serialize);
  void send_first(std::shared_ptr<Transfer> t, TransferBytes batch);
  void send_next(std::shared_ptr<Transfer> t);
  // The peer had no room for `t`: tries its first fragment again later, or
  // abandons it once it has waited busy_patience.
  void retry_when_busy(std::shared_ptr<Transfer> t);
  void finish(const Transfer& t, bool ok);

  peer::PeerClient& peers_;
  asio::any_io_executor loop_;
  asio::any_io_executor work_;
  Options options_;
  uint64_t next_id_;
  std::set<Key> running_;                               // and waiting
  std::map<std::string, std::deque<Waiting>> waiting_;  // per address, in order
  std::map<Key, Clock::time_point> settling_;           // completed: busy until then
  std::map<Key, Clock::time_point> abandoned_at_;       // the last abandoned, per pair
  std::map<std::string, size_t> per_peer_;
  uint64_t started_ = 0;
  uint64_t completed_ = 0;
  uint64_t abandoned_ = 0;
  uint64_t busy_refusals_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

struct AssemblerLimits {
  uint64_t max_transfer_bytes = 1ull << 30;
  size_t max_transfers = 16;
  std::chrono::milliseconds idle_timeout{30000};
  uint64_t budget_bytes = UINT64_MAX;  // the receive budget (see above)
};

class FragmentAssembler {
 public:
  using Clock = std::chrono::steady_clock;
  struct Result {
    bool accepted = false;
    std::string error;                   // why, when not accepted
    bool busy = false;                   // not accepted for now: no room; try later
    std::optional<std::string> message;  // the whole message, once complete
    // The completed message's count in the receive budget: whoever keeps its
    // bytes keeps this, and the budget counts them until it is dropped.
    std::shared_ptr<void> held;
  };
  explicit FragmentAssembler(AssemblerLimits limits = {})
      : limits_(limits), budget_(limits.budget_bytes) {}
  Result add(const pb::ReplFragment& fragment, Clock::time_point now);
  // Forgets the transfers quiet for longer than idle_timeout, releasing their
  // count in the receive budget. add() does it first; the owner calls it on
  // a timer as well, or a transfer whose sender gave up after the last
  // fragment anyone sent would be held until the next transfer began.
  void forget_idle(Clock::time_point now);
  size_t in_progress() const { return transfers_.size(); }
  // The bytes the receive budget counts now (transfers under way and
  // completed ones not dropped yet).
  uint64_t held_bytes() const { return budget_.held(); }
  // The receive budget itself, for what else counts in it (decoded items).
  const SnapshotBudget& budget() const { return budget_; }

 private:
  struct Partial {
    uint32_t count = 0;
    uint32_t next = 0;
    std::string bytes;
    Clock::time_point last_seen;
    std::shared_ptr<void> held;  // the whole transfer's expected bytes, counted
  };
  Result start(const pb::ReplFragment& fragment, Clock::time_point now);

  AssemblerLimits limits_;
  SnapshotBudget budget_;
  std::map<std::pair<std::string, uint64_t>, Partial> transfers_;  // (from, transfer)
};

}  // namespace partid::replication
