// manager: the ten lifecycle states of a worker and the transitions allowed
// between them. Any transition not listed is a bug and is refused.
#pragma once

namespace parti {

enum class ManagerState {
  Init,
  ClaimingID,
  Election,
  WaitingAssignment,
  Stable,
  Scaling,
  Rebalancing,
  Emergency,
  Degraded,
  Shutdown,
};

const char* to_string(ManagerState s);
bool is_valid_transition(ManagerState from, ManagerState to);

}  // namespace parti
