// routing: who holds which partition, and where to reach them. A Topology is
// an immutable snapshot built from one libparti assignment and the live node
// records; the node swaps in a new one whenever either changes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "parti/core/assignment.h"
#include "parti/core/node_record.h"
#include "partid/routing/layout.h"

namespace partid::routing {

struct NodeAddress {
  std::string api;   // host:port of the HTTP API
  std::string peer;  // host:port of the peer transport
  parti::NodeState state = parti::NodeState::Active;
  uint32_t format = 0;          // the highest data format its build writes (0: not said)
  bool avoids_leading = false;  // its disk is slow (parti::NodeRecord::avoid_leading)
};

struct Topology {
  uint64_t version = 0;  // the assignment version it was built from
  // Where keys go (layout.partition_of), and a split under way: the record
  // this topology was built with.
  LayoutRecord layout;
  uint32_t partitions = 0;  // layout.partitions(): the assignment covers these
  uint32_t replication_factor = 1;
  std::vector<std::vector<std::string>> replicas;  // per partition, leader first
  // Per partition: the assignment version that appointed its current leader
  // and replica set (the epoch; unchanged while both stay the same): the
  // assignment's `since`, the same on every node.
  std::vector<uint64_t> leader_epoch;
  // The epochs came from the assignment (its `since`), so every node has the
  // same ones; false for an assignment without it (see build_topology).
  bool epochs_agreed = false;
  std::map<std::string, NodeAddress> nodes;
  // Nodes the assignment names whose records this node no longer sees (their
  // heartbeats lapsed in its own view: NATS out of its reach, or the node
  // dead and not replaced yet), at their last known addresses. The
  // assignment is kept while NATS is away, and so are the ways to its
  // leaders: without them every forward failed `leader_unreachable` during a
  // NATS outage, though the leaders were a peer connection away. A node that
  // is really gone then fails its forwards as unreachable peers do.
  std::map<std::string, NodeAddress> last_known;
  // The assignment's workers: the nodes its coordinator counted alive. A
  // node that has just joined may still list dead nodes' records in `nodes`
  // (their heartbeats have not expired in its own view yet).
  std::vector<std::string> workers;
  // The assignment is a step of a staged move: more steps follow (a resize
  // is under way even while every partition looks settled between two).
  bool interim = false;

  bool ready() const { return version > 0 && replicas.size() == partitions; }
  uint32_t partition_of(std::string_view partition_key) const {
    return layout.layout.partition_of(partition_key);
  }
  // Where to reach `node`: its record, else its last known address.
  const NodeAddress* address_of(const std::string& node) const;
  // The nodes of the records held here and the assignment's workers: a
  // worker whose record was lost (NATS down past the heartbeat TTL) still
  // holds partitions, at the address it had.
  std::set<std::string> known_nodes() const;
  // Every worker of a ready assignment can be reached: its record, or the one
  // last seen, gives an address. False on a node just started whose
  // membership watch has not delivered every record yet.
  bool every_worker_addressable() const;
  // The lowest data format among the assignment's workers (0 when one has no
  // record here, or did not say): what every live node can read.
  uint32_t lowest_format() const;
  // The same, judging a worker whose record this node lost (a NATS outage
  // longer than the heartbeat TTL loses them all) by the record it saw last:
  // a node's format changes only when it restarts, and publishes it again.
  uint32_t lowest_known_format() const;
};

// Builds the topology for `assignment` under `layout`; partition ids must be
// "0".."P-1" with P = layout.partitions(). Epochs come from the assignment's
// `since`; for an assignment without it (see parti::Assignment::since),
// `previous` carries epochs forward for partitions whose replicas (leader
// first) did not change. nullopt and
// *error when the assignment does not cover exactly those P partitions.
std::optional<Topology> build_topology(const parti::Assignment& assignment,
                                       const std::vector<parti::NodeRecord>& members,
                                       const LayoutRecord& layout, const Topology* previous,
                                       std::string* error);

}  // namespace partid::routing
