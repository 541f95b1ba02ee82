// api: what the API needs to know about its own node, provided by the node
// (which owns the libparti Manager and the topology). Loop thread only.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>

#include "parti/manager/coordination_stats.h"
#include "parti/manager/manager_state.h"
#include "partid/routing/topology.h"

namespace partid::api {

class ClusterView {
 public:
  virtual ~ClusterView() = default;
  virtual const std::string& self() const = 0;
  virtual std::shared_ptr<const routing::Topology> topology() const = 0;
  virtual bool locked(uint32_t partition) const = 0;
  // True while the node serves requests (it has an assignment, is not stopping).
  virtual bool serving() const = 0;
  // Node facts for /health and /cluster/status: state, leadership, sets.
  virtual nlohmann::json describe() const = 0;
  // This node's coordination, for /metrics and /cluster/status: cheap (no
  // per-partition work, unlike describe()).
  struct Coordination {
    parti::CoordinationStats counters;  // libparti's, the layout watch's renewals added
    parti::ManagerState state = parti::ManagerState::Init;
    bool coordinator = false;  // this node computes the assignments
    uint64_t assignment_version = 0;
  };
  virtual Coordination coordination() const = 0;
  // The highest data format this node may write now (upgrade/formats.h).
  virtual uint32_t writable_format() const = 0;
  // Raises the cluster's active format as far as the live nodes allow;
  // `done` runs on the loop once the server answered (at once when there is
  // nothing to raise).
  virtual void raise_format(std::function<void()> done) = 0;
  // Records that the next partition of the layout is to split, or its last
  // to merge back (the source's leader carries it out, partid/split); `done`
  // runs on the loop with the record written, or why not (one is under way
  // already, the layout cannot merge, NATS).
  using SplitBegun = std::function<void(std::variant<routing::LayoutRecord, std::string>)>;
  virtual void begin_split(routing::SplitPlan::Kind kind, SplitBegun done) = 0;
};

}  // namespace partid::api
