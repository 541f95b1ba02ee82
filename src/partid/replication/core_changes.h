// replication: the storage changes one step of a replication core asks for —
// its persist ops, the entries it committed (decoded into item ops) and its
// log trim — in the order the core's contract requires. Pure translation.
#pragma once

#include <vector>

#include "partid/replication/core/replica.h"
#include "partid/storage/store_engine.h"

namespace partid::replication {

// `core` is the core after the step (its log base names a trim's position).
// Throws std::runtime_error on an entry or snapshot that does not decode:
// those are checked when they arrive (valid_from_peer), so this is a bug.
std::vector<storage::ReplicaChange> storage_changes(uint32_t partition,
                                                    const core::Actions& actions,
                                                    const core::ReplicaCore& core);

// Whether a peer's message carries only entries and snapshots this node can
// decode; anything else is dropped before it reaches the core.
bool valid_from_peer(uint32_t partition, const core::Message& message);

}  // namespace partid::replication
