// assignment: the successor rule. When a partition's leader has left the
// fleet, its new leader is the surviving replica of its previous list that is
// furthest along (WorkerInfo::progress, the application's measure), then the
// one whose process started first, then the lowest id. That survivor already
// holds the partition; the furthest along one leaves the least for the new
// leader to adopt when it seals its epoch, and the older process is the one
// less likely to be a fresh restart. Pure and deterministic.
#pragma once

#include "parti/assignment/strategy.h"

namespace parti {

// Reorders, in `placement`, the replica list of every partition whose
// previous leader is not among `workers` (sorted by id), so that the rule's
// choice among the previous replicas still listed comes first; the others keep
// their order. Partitions are matched to `previous` by id. Lists with no
// surviving previous replica, and partitions whose leader is alive, are left
// as they are.
void appoint_successors(Placement& placement, const std::vector<WorkerInfo>& workers,
                        const std::vector<Partition>& partitions, const Assignment& previous);

}  // namespace parti
