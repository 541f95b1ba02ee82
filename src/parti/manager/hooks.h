// manager: callbacks a Manager makes. They run on the manager's event loop:
// keep them short and never call blocking Manager methods (start/stop/wait_state)
// from inside one.
#pragma once

#include <functional>
#include <string>

#include "parti/core/assignment.h"
#include "parti/core/node_record.h"
#include "parti/manager/manager_state.h"

namespace parti {

struct Hooks {
  // Called once per new assignment version that changes this worker's set;
  // `delta` holds only what was really added and removed.
  std::function<void(const AssignmentDelta& delta, const Assignment& now)> on_assignment_changed;
  std::function<void(ManagerState from, ManagerState to)> on_state_changed;
  std::function<void(bool is_leader)> on_leadership_changed;
  std::function<void(const std::string& what)> on_error;
  // On the leader: the resize guard holds a planned rebalance back (`why`
  // names it and the workers still moving data). Once per hold.
  std::function<void(const std::string& why)> on_rebalance_held;
  // Called before every periodic heartbeat to refresh fields of this worker's
  // record that change too often to publish on their own (NodeRecord::progress).
  // A change rides on that heartbeat: no extra write to NATS.
  std::function<void(NodeRecord& record)> refresh_record;
};

}  // namespace parti
