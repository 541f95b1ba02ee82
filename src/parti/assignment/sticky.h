// assignment: the "keep as many placements as balance allows" pass for RF = 1.
// Every partition whose previous owner is still alive stays with it; the rest
// take the strategy's own choice. Then loads are repaired so that each worker
// carries between floor(fair x (1 - tolerance)) and ceil(fair x (1 + tolerance))
// of the partition weight (fair = its share by capacity weight), moving as few
// partitions as possible and preferring moves the strategy itself would make.
// Deterministic: the same inputs always give the same placement.
#pragma once

#include "parti/assignment/strategy.h"

namespace parti {

Placement sticky_balance(const Placement& preferred, const StrategyInput& in, double tolerance,
                         bool by_weight);

}  // namespace parti
