#include "parti/manager/manager_state.h"

namespace parti {

const char* to_string(ManagerState s) {
  switch (s) {
    case ManagerState::Init:
      return "Init";
    case ManagerState::ClaimingID:
      return "ClaimingID";
    case ManagerState::Election:
      return "Election";
    case ManagerState::WaitingAssignment:
      return "WaitingAssignment";
    case ManagerState::Stable:
      return "Stable";
    case ManagerState::Scaling:
      return "Scaling";
    case ManagerState::Rebalancing:
      return "Rebalancing";
    case ManagerState::Emergency:
      return "Emergency";
    case ManagerState::Degraded:
      return "Degraded";
    case ManagerState::Shutdown:
      return "Shutdown";
  }
  return "?";
}

bool is_valid_transition(ManagerState from, ManagerState to) {
  using S = ManagerState;
  if (from == to) return false;
  if (to == S::Shutdown) return true;  // stop() is allowed from anywhere
  if (from == S::Shutdown) return false;
  switch (from) {
    case S::Init:
      return to == S::ClaimingID;
    case S::ClaimingID:
      return to == S::Election || to == S::Degraded;
    case S::Election:
      return to == S::WaitingAssignment || to == S::ClaimingID || to == S::Degraded;
    case S::WaitingAssignment:
      return to == S::Stable || to == S::Scaling || to == S::Rebalancing || to == S::Emergency ||
             to == S::ClaimingID || to == S::Degraded;
    case S::Stable:
    case S::Scaling:
    case S::Rebalancing:
    case S::Emergency:
      // Leader states follow the calculator; a lost ID goes back to claiming.
      return to == S::Stable || to == S::Scaling || to == S::Rebalancing || to == S::Emergency ||
             to == S::Degraded || to == S::ClaimingID || to == S::WaitingAssignment;
    case S::Degraded:
      return to == S::Stable || to == S::WaitingAssignment || to == S::ClaimingID;
    case S::Shutdown:
      return false;
  }
  return false;
}

}  // namespace parti
