// replication: conversions between the core's messages and their protobuf
// form on the peer transport, and between a partition's items and a snapshot.
// Decoders return nullopt for a message that does not make sense (a missing
// body): the sender is a peer, not trusted to be correct.
#pragma once

#include <optional>
#include <vector>

#include "partid/replication/core/types.h"
#include "partid/replication/transfer_bytes.h"
#include "partid/storage/store_engine.h"
#include "proto/peer.pb.h"

namespace partid::replication {

void to_pb(const core::Message& message, pb::ReplMessage* out);
std::optional<core::Message> from_pb(const pb::ReplMessage& message);

// The messages of a transfer (a ReplicationBatch sent in fragments), each
// with its partition; nullopt when `bytes` do not parse or the batch is not
// from `from`. Handoffs never travel in fragments. A snapshot's bytes that
// end the transfer (as serialize_transfer writes it) become the snapshot's,
// in the very buffer of `bytes`: never copied, however large.
// The ReplicationBatch from `from` that carries `message` (of `partition`)
// alone, as sent in fragments. A snapshot's bytes are the tail, shared and
// not copied; the head holds everything else, the snapshot's fields without
// its bytes and then the fields that enclose them, which the parser merges
// into the ones before (protobuf merges repeated occurrences of a message
// field). Head and tail together parse as the batch that holds `message`.
TransferBytes serialize_transfer(const std::string& from, uint32_t partition,
                                 const core::Message& message);

using TransferMessages =
    std::optional<std::vector<std::pair<uint32_t, std::optional<core::Message>>>>;
TransferMessages parse_transfer(std::string&& bytes, const std::string& from);

// A partition's snapshot is the bytes of a PartitionSnapshot: its items, in
// order. SnapshotEncoder writes them one item at a time, so a partition can
// be encoded straight from a scan, with nothing beside the bytes as large as
// the partition (a vector of its items, or a PartitionSnapshot holding a
// copy of each). The bytes are those PartitionSnapshot::SerializeAsString
// writes for the same items.
class SnapshotEncoder {
 public:
  // Room for `bytes` more, so that the bytes grow in one allocation.
  void reserve(size_t bytes) { out_.reserve(out_.size() + bytes); }
  void add(const storage::Item& item);
  size_t size() const { return out_.size(); }
  std::string finish() && { return std::move(out_); }

 private:
  pb::SnapshotItem scratch_;
  std::string out_;
};

std::string encode_snapshot(const std::vector<storage::Item>& items);
// The items, read one at a time (no PartitionSnapshot copy of them beside
// the vector); nullopt when `data` is not a PartitionSnapshot.
std::optional<std::vector<storage::Item>> decode_snapshot(const std::string& data);
// The items of a snapshot read from its bytes, shared and not copied, as an
// install writes them (storage::ItemSource); nullptr when `data` is not a
// PartitionSnapshot. Reads the bytes once here, to check them and tally the
// items, and again at every for_each: a partition's items are never held
// decoded beside its bytes.
std::shared_ptr<const storage::ItemSource> snapshot_items(core::SnapshotBytes data);

}  // namespace partid::replication
