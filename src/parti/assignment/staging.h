// assignment: staged replica moves. A planned rebalance that replaced a
// majority of a partition's replicas at once, or made a replica that holds
// nothing its leader, would leave no quorum of the new set holding the
// partition: a replicated store on top (partid) must then copy the partition
// to the new replicas before that set can take a write, and writes pause for
// the copy. Staging takes such a move in steps instead: each step replaces at
// most a minority of the set ((RF - 1) / 2 replicas: one of three, two of
// five) and keeps the leader among the replicas the set had, so a quorum of
// every new set already holds the data and a step's write pause is a
// handoff, not a copy (DESIGN 4.4's aim). The calculator publishes the next
// step once the workers report no data moving (the resize guard) and the
// cooldown has passed, until the placement is reached.
//
// Not staged: RF 1 and 2 (no set of theirs can change and keep a quorum),
// partitions that are new, and partitions one of whose replicas is no longer
// a worker (something was lost or left: service first, in one step).
//
// Leaders that hold the data apply to every rebalance, those too: a replica
// that a partition did not have (a node that joined, or came back empty
// under a new id after losing its disk), or still takes in, does not lead it
// while a replica that holds it stays in the list. Leading
// something it holds nothing of, it would seal by copying the whole
// partition while that partition's writes wait (seconds per gigabyte), and
// a leadership moved on meanwhile would start the copy again. It leads from
// the next step on, once it has the data (the resize guard).
// Pure functions.
#pragma once

#include <cstdint>
#include <vector>

#include "parti/core/assignment.h"
#include "parti/core/types.h"

namespace parti {

// One partition: the next step from `old` towards `target` (worker indices,
// leader first, the same index space).
std::vector<uint32_t> stage_replicas(const std::vector<uint32_t>& old,
                                     const std::vector<uint32_t>& target);

// Holds every partition of `next` to the next step from `previous`, and
// stamps `since` again if it was stamped. True when any partition was held
// short of its placement in `next` (another step is due).
bool stage_moves(Assignment& next, const Assignment& previous);

// In every partition of `next` that `previous` had, its leader should hold
// the data: be a replica `previous` listed for it that is not importing it
// (WorkerInfo::importing). If it does not, the first replica of its list that
// does and may lead (not avoid_leading) leads instead, the others keeping
// their order; if none does, the list is left as it is. `workers` are those
// of `next`. `since` is stamped again if it was stamped. True when any leader
// was held back so (another step is due, in which that replica may lead).
bool keep_leaders_with_data(Assignment& next, const Assignment& previous,
                            const std::vector<WorkerInfo>& workers);

}  // namespace parti
