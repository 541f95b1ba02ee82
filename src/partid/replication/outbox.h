// replication: Outbox gathers the replication messages of one loop turn by
// destination and sends each destination one ReplicationBatch envelope, so a
// flush of many partitions costs one frame per peer, not one per message.
// Messages to a node with no known peer address, or to a peer that is down,
// are dropped: the replication core resends what it needs. An envelope is cut
// at a quarter of the peer transport's frame limit; a single
// message larger than that (a snapshot) travels alone, in fragments
// (FragmentSender), converted and serialized off the loop: a snapshot is
// dropped, before any of that, when its transfer could not start.
// Threading: loop only.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "parti/core/async.h"
#include "partid/peer/peer_client.h"
#include "partid/replication/core/types.h"
#include "partid/replication/fragments.h"

namespace partid::replication {

namespace asio = boost::asio;

// How replication divides the peer transport's frame limit: envelopes are
// cut at a quarter of it (an envelope may pass that by its last message, so
// it stays under half), snapshot fragments and catch-up messages take an
// eighth at most, leaving room for the framing and what shares the envelope.
struct FrameBudget {
  size_t envelope_bytes;
  size_t fragment_bytes;
  static FrameBudget of(size_t max_frame_bytes) {
    return {max_frame_bytes / 4, max_frame_bytes / 8};
  }
};

class Outbox {
 public:
  using AddressOf = std::function<const std::string*(const core::NodeId&)>;
  // `self` is read at every send (its owner learns it after construction).
  // `max_frame_bytes`: the peer transport's frame limit.
  // `work`: where a message sent in fragments is converted and serialized.
  Outbox(asio::any_io_executor loop, asio::any_io_executor work, peer::PeerClient& peers,
         const core::NodeId& self, AddressOf address_of, size_t max_frame_bytes);
  void add(const core::NodeId& to, uint32_t partition, const core::Message& message);
  // A Handoff (handoff.h), in the same per-turn batch as the messages.
  void add_handoff(const core::NodeId& to, uint32_t partition, uint64_t epoch,
                   bool passes_failover);
  // Whether a fragmented message for `partition` to `to` could not go now: a
  // snapshot built for it would be dropped (this partition's transfer there
  // runs, waits or settles) or wait (the peer has all the transfers it may).
  bool transferring(const core::NodeId& to, uint32_t partition) const;
  // A snapshot of this many bytes goes as a transfer in fragments.
  bool fragmented(uint64_t snapshot_bytes) const { return snapshot_bytes > max_envelope_bytes_; }
  // When the last fragmented transfer of `partition` to `to` was abandoned.
  std::optional<std::chrono::steady_clock::time_point> abandoned_at(const core::NodeId& to,
                                                                    uint32_t partition) const;
  // `to` has an address and its connection is not known down.
  bool reachable(const core::NodeId& to) const;
  const FragmentSender& fragments() const { return fragments_; }
  uint64_t sent_messages() const { return sent_; }
  uint64_t dropped_messages() const { return dropped_; }

 private:
  pb::ReplicationBatch& batch_for(const core::NodeId& to);
  void schedule_flush();
  void flush();
  void send(const core::NodeId& to, pb::Envelope envelope);
  void send_fragmented(const core::NodeId& to, uint32_t partition,
                       FragmentSender::Serialize serialize);

  asio::any_io_executor loop_;
  peer::PeerClient& peers_;
  const core::NodeId& self_;
  AddressOf address_of_;
  size_t max_envelope_bytes_;
  FragmentSender fragments_;
  struct Pending {
    pb::Envelope envelope;
    size_t bytes = 0;
  };
  std::map<core::NodeId, Pending> pending_;
  bool scheduled_ = false;
  uint64_t sent_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace partid::replication
