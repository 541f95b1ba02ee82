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
// under a new id after losing its disk) does not lead it in the assignment
// that adds it while a replica that had it stays in the list. Leading
// something it holds nothing of, it would seal by copying the whole
// partition while that partition's writes wait (seconds per gigabyte), and
// a leadership moved on meanwhile would start the copy again. It leads from
// the next step on, once it has the data (the resize guard).
// Pure functions.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "parti/core/assignment.h"

namespace parti {

// One partition: the next step from `old` towards `target` (worker indices,
// leader first, the same index space).
std::vector<uint32_t> stage_replicas(const std::vector<uint32_t>& old,
                                     const std::vector<uint32_t>& target);

// Holds every partition of `next` to the next step from `previous`, and
// stamps `since` again if it was stamped. True when any partition was held
// short of its placement in `next` (another step is due).
bool stage_moves(Assignment& next, const Assignment& previous);

// In every partition of `next` that `previous` had: if its leader is a
// replica `previous` did not list for it, the first replica of its list that
// `previous` did list and that is not in `avoiders` (workers that asked not
// to lead) leads instead, the others keeping their order; `since` is stamped
// again if it was stamped. True when any leader was held back so (another
// step is due, in which the arrival may lead).
bool keep_leaders_with_data(Assignment& next, const Assignment& previous,
                            const std::set<std::string>& avoiders);

}  // namespace parti
