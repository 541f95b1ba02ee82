// storage: conversions between the engine's structs and their protobuf form
// on disk. Decoders return nullopt on bytes that do not parse (corruption is
// reported, never guessed around).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "partid/storage/store_engine.h"

namespace partid::storage {

std::string encode_item(const Item& item);
std::optional<Item> decode_item(std::string_view bytes);
std::string encode_log_record(const LogRecord& record);
std::optional<LogRecord> decode_log_record(std::string_view bytes);
// An op's effect on the items, the payload of a log entry (its version's
// sequence and epoch are the entry's, so they are not encoded).
std::string encode_item_op(const WriteOp& op);
std::optional<WriteOp> decode_item_op(uint32_t partition, const LogRecord& record);
std::string encode_txn_record(const TxnRecord& record);
std::optional<TxnRecord> decode_txn_record(std::string_view bytes);
std::string encode_split_rule(const SplitRule& rule);
std::optional<SplitRule> decode_split_rule(std::string_view bytes);
std::string encode_partition_meta(const PartitionMeta& meta);
std::optional<PartitionMeta> decode_partition_meta(std::string_view bytes);
std::string encode_node_metadata(const NodeMetadata& meta);
std::optional<NodeMetadata> decode_node_metadata(std::string_view bytes);

}  // namespace partid::storage
