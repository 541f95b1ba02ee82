#include "partid/node/topology_keeper.h"

#include <spdlog/spdlog.h>

#include <utility>

namespace partid::node {

TopologyKeeper::TopologyKeeper(asio::any_io_executor loop, parti::Manager& manager,
                               routing::LayoutRecord layout, std::chrono::milliseconds interval,
                               OnChange on_change)
    : manager_(manager),
      layout_(std::move(layout)),
      on_change_(std::move(on_change)),
      current_(std::make_shared<routing::Topology>()),
      refresher_(loop, interval, [this] { refresh(); }) {}

void TopologyKeeper::start() {
  refresh();
  refresher_.start();
}

void TopologyKeeper::stop() { refresher_.stop(); }

void TopologyKeeper::set_layout(routing::LayoutRecord layout) {
  if (layout == layout_) return;
  layout_ = std::move(layout);
  refresh();
}

void TopologyKeeper::when_every_worker_addressable(std::function<void()> then) {
  if (current_->every_worker_addressable()) {
    then();
    return;
  }
  on_addressable_ = std::move(then);
}

void TopologyKeeper::refresh() {
  const parti::Assignment assignment = manager_.current_assignment();
  if (assignment.empty()) return;
  const auto members = manager_.members();
  std::map<std::string, routing::NodeAddress> nodes;
  for (const auto& m : members) {
    nodes[m.id] = {m.api_address, m.peer_address, m.state, m.format, m.avoid_leading};
  }
  const auto& cur = *current_;
  const bool same_nodes =
      nodes.size() == cur.nodes.size() &&
      std::equal(nodes.begin(), nodes.end(), cur.nodes.begin(), [](const auto& a, const auto& b) {
        return a.first == b.first && a.second.api == b.second.api &&
               a.second.peer == b.second.peer && a.second.state == b.second.state &&
               a.second.avoids_leading == b.second.avoids_leading;
      });
  if (assignment.version == cur.version && same_nodes && layout_ == cur.layout) return;
  // A split changes the partition count in the layout first, then libparti
  // covers it: until the two agree, the current topology stands.
  if (assignment.partitions.size() != layout_.partitions()) return;
  std::string error;
  auto next = routing::build_topology(assignment, members, layout_, &cur, &error);
  if (!next) {
    spdlog::error("cannot route with assignment v{}: {}", assignment.version, error);
    return;
  }
  if (assignment.version != cur.version) {
    spdlog::info("topology v{}: {} nodes", next->version, next->nodes.size());
  }
  current_ = std::make_shared<const routing::Topology>(std::move(*next));
  if (on_change_) on_change_(*current_);
  if (on_addressable_ && current_->every_worker_addressable()) std::exchange(on_addressable_, {})();
}

}  // namespace partid::node
