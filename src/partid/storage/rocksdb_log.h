// storage: where RocksDB's own log lines go. By default RocksDB writes them
// to a LOG file in the data directory, through the same kind of file writer
// as its data, and keeps up to a thousand old ones (one per start). On a full
// disk that file failed with the write it reported, and the Debian build of
// RocksDB (assertions on) aborted the node at its next log line, before the
// failed write reached partid: the node died of SIGABRT with a RocksDB
// assertion as its last word instead of stopping with the reason. Its lines
// go to the node's own log instead (spdlog): warnings and errors always,
// the chatter of flushes and compactions only at debug level.
#pragma once

#include <rocksdb/env.h>

#include <memory>

namespace partid::storage {

// A logger for rocksdb::Options::info_log; thread-safe, as RocksDB needs.
std::shared_ptr<rocksdb::Logger> rocksdb_to_node_log();

}  // namespace partid::storage
