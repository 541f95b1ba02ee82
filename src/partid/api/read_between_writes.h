// api: how the API reads what the group commit keeps rewriting (a
// partition's transaction space, its locks and records, and the partitions'
// metadata) without racing it.
#pragma once

#include <functional>
#include <type_traits>

#include "partid/async_bridge.h"
#include "partid/replication/replicator.h"

namespace partid::api {

// Runs `read` on the disk pool between two group-commit writes
// (GroupCommit::read_between_writes): nothing but that orders these reads
// after the writes they see in a way ThreadSanitizer can check (RocksDB's own
// ordering is invisible to it). A client's read of an item needs none of
// this: the write it reads was answered through the loop before.
template <class Read>
asio::awaitable<std::invoke_result_t<Read>> read_between_writes(replication::Replicator* replicator,
                                                                Read read) {
  std::invoke_result_t<Read> out{};
  auto* result = &out;
  co_await await_callback<bool>([replicator, read, result](std::function<void(bool)> done) {
    replicator->read_between_writes([read, result] { *result = read(); }, [done] { done(true); });
  });
  co_return out;
}

}  // namespace partid::api
