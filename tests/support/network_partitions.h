// tests: network partitions between partid nodes on one machine. Every node
// reaches NATS through a proxy of its own, is reached by its peers through a
// proxy in front of its peer port (--peer-advertise), and connects to its
// peers from an address of its own, 127.0.0.(2 + i) (--peer-source), so the
// proxies can tell its connections from the others'. isolate(i, cut) stalls
// what crosses between node i and the rest: its NATS link, or the peer
// connections to it and from it (both directions of each, closes included),
// or both; or, one way only, the connections it opened (what it sends to its
// peers, and their replies to its requests) or those its peers opened (what
// they send it). A node sends its replication messages on connections it
// opens, so a one-way cut is a one-way partition for them. heal(i) delivers
// what was held, as TCP does when a partition heals within its
// retransmission timeouts. split(side) cuts the cluster in two: the nodes of
// `side` reach each other but none of the rest, and NATS (a single server)
// stays on one side, the other loses it; heal_split() joins them again.
// Clients still reach every node's API: they may be on either side.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "support/nats_server.h"
#include "support/partid_cluster.h"
#include "support/tcp_proxy.h"

namespace parti::testing {

class NetworkPartitions {
 public:
  enum class Cut { everything, nats_only, peers_only, from_node_only, to_node_only };
  NetworkPartitions(const NatsServer& nats, size_t nodes);

  // Options for node i's first start (a restart keeps them): its NATS URL,
  // peer port and addresses, routed through its proxies.
  PartidOptions route(size_t i, PartidOptions options) const;
  void isolate(size_t i, Cut cut);
  void heal(size_t i);
  enum class NatsSide { with_side, with_rest };
  void split(const std::set<size_t>& side, NatsSide nats);
  void heal_split();
  static const char* name_of(Cut cut);

 private:
  struct Links {
    std::unique_ptr<TcpProxy> nats;
    int peer_port = 0;
    std::unique_ptr<TcpProxy> peer;
    std::string source;
  };
  // Stalls (or delivers) what crosses between the nodes of `side` and the
  // rest; NATS for the nodes on `cut_from_nats`.
  void set_split(const std::set<size_t>& side, const std::set<size_t>& cut_from_nats, bool stall);

  std::vector<Links> links_;
  std::set<size_t> split_side_, split_without_nats_;
};

}  // namespace parti::testing
