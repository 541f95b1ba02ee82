// replication: the storage changes one step of a replication core asks for —
// its persist ops, the entries it committed (decoded into item ops) and its
// log trim — in the order the core's contract requires. Pure translation.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "partid/replication/core/replica.h"
#include "partid/storage/store_engine.h"

namespace partid::replication {

using SnapshotItems = std::shared_ptr<const storage::ItemSource>;
// The items of a snapshot already checked (off the loop, as it arrived), or
// null to check them here.
using CheckedSnapshot = std::function<SnapshotItems(const core::Snapshot&)>;

// `core` is the core after the step (its log base names a trim's position).
// Throws std::runtime_error on an entry or snapshot that does not decode:
// those are checked when they arrive (entries_decode, snapshot_items), so
// this is a bug.
std::vector<storage::ReplicaChange> storage_changes(uint32_t partition,
                                                    const core::Actions& actions,
                                                    const core::ReplicaCore& core,
                                                    const CheckedSnapshot& checked = {});

// Whether every log entry in a peer's message decodes; a message with one
// that does not is dropped before it reaches the core.
bool entries_decode(uint32_t partition, const core::Message& message);
// The snapshot a peer's message carries, if any (to be read through before the
// core sees the message: a snapshot that does not decode is dropped too).
const core::Snapshot* snapshot_in(const core::Message& message);
core::Snapshot* snapshot_in(core::Message& message);

}  // namespace partid::replication
