// node: keeps the node's routing Topology current. libparti tells a worker
// only about changes to its own partitions, but routing needs everyone's, so
// the keeper samples the Manager's assignment and member list on a short
// timer and swaps in a new immutable Topology when either changed, or the
// layout did. While the assignment and the layout disagree on the partition
// count (a split has just begun or ended), it keeps the topology it has.
// Threading: loop only; the Manager calls it makes are brief and lock-only.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "parti/core/periodic.h"
#include "parti/manager/manager.h"
#include "partid/routing/topology.h"

namespace partid::node {

namespace asio = boost::asio;

class TopologyKeeper {
 public:
  using OnChange = std::function<void(const routing::Topology&)>;
  // `on_change` sees every new topology, on the loop, as it is swapped in.
  TopologyKeeper(asio::any_io_executor loop, parti::Manager& manager, routing::LayoutRecord layout,
                 std::chrono::milliseconds interval, OnChange on_change);
  void start();
  void stop();
  std::shared_ptr<const routing::Topology> current() const { return current_; }
  // The cluster's layout changed (a split went on): routing follows once an
  // assignment covers its partitions.
  void set_layout(routing::LayoutRecord layout);
  // Calls `then` once, on the loop, as soon as a topology reaches every
  // worker (Topology::every_worker_addressable): at once if this one does.
  void when_every_worker_addressable(std::function<void()> then);

 private:
  void refresh();

  parti::Manager& manager_;
  routing::LayoutRecord layout_;
  OnChange on_change_;
  std::function<void()> on_addressable_;
  std::shared_ptr<const routing::Topology> current_;
  parti::Periodic refresher_;  // last: its callback uses the members above
};

}  // namespace partid::node
