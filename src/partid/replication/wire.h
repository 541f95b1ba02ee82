// replication: conversions between the core's messages and their protobuf
// form on the peer transport, and between a partition's items and a snapshot.
// Decoders return nullopt for a message that does not make sense (a missing
// body): the sender is a peer, not trusted to be correct.
#pragma once

#include <optional>
#include <vector>

#include "partid/replication/core/types.h"
#include "partid/storage/store_engine.h"
#include "proto/peer.pb.h"

namespace partid::replication {

void to_pb(const core::Message& message, pb::ReplMessage* out);
std::optional<core::Message> from_pb(const pb::ReplMessage& message);

// The messages of a transfer (a ReplicationBatch sent in fragments), each
// with its partition, their snapshots' bytes moved out of the parsed form
// rather than copied; nullopt when `bytes` do not parse or the batch is not
// from `from`. Handoffs never travel in fragments.
using TransferMessages =
    std::optional<std::vector<std::pair<uint32_t, std::optional<core::Message>>>>;
TransferMessages parse_transfer(const std::string& bytes, const std::string& from);

std::string encode_snapshot(const std::vector<storage::Item>& items);
std::optional<std::vector<storage::Item>> decode_snapshot(const std::string& data);

}  // namespace partid::replication
