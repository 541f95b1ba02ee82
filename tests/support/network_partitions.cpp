#include "support/network_partitions.h"

namespace parti::testing {

NetworkPartitions::NetworkPartitions(const NatsServer& nats, size_t nodes) {
  for (size_t i = 0; i < nodes; ++i) {
    Links l;
    l.nats = std::make_unique<TcpProxy>(nats.port());
    l.peer_port = free_port();
    l.peer = std::make_unique<TcpProxy>(l.peer_port);
    l.source = "127.0.0." + std::to_string(2 + i);
    links_.push_back(std::move(l));
  }
}

PartidOptions NetworkPartitions::route(size_t i, PartidOptions options) const {
  const Links& l = links_.at(i);
  options.nats_url = l.nats->url();
  options.peer_listen = "127.0.0.1:" + std::to_string(l.peer_port);
  options.extra_args.insert(options.extra_args.end(),
                            {"--peer-advertise", "127.0.0.1:" + std::to_string(l.peer->port()),
                             "--peer-source", l.source});
  return options;
}

void NetworkPartitions::isolate(size_t i, Cut cut) {
  Links& l = links_.at(i);
  if (cut == Cut::everything || cut == Cut::nats_only) l.nats->stall();
  if (cut == Cut::everything || cut == Cut::peers_only || cut == Cut::to_node_only) {
    l.peer->stall();
  }
  if (cut == Cut::everything || cut == Cut::peers_only || cut == Cut::from_node_only) {
    for (size_t j = 0; j < links_.size(); ++j) {
      if (j != i) links_[j].peer->stall_from(l.source);
    }
  }
}

void NetworkPartitions::heal(size_t i) {
  Links& l = links_.at(i);
  l.nats->unstall();
  l.peer->unstall();
  for (size_t j = 0; j < links_.size(); ++j) {
    if (j != i) links_[j].peer->unstall_from(l.source);
  }
}

void NetworkPartitions::split(const std::set<size_t>& side, NatsSide nats) {
  std::set<size_t> without_nats;
  for (size_t i = 0; i < links_.size(); ++i) {
    if (side.contains(i) == (nats == NatsSide::with_rest)) without_nats.insert(i);
  }
  split_side_ = side;
  split_without_nats_ = without_nats;
  set_split(side, without_nats, true);
}

void NetworkPartitions::heal_split() {
  set_split(split_side_, split_without_nats_, false);
  split_side_.clear();
  split_without_nats_.clear();
}

void NetworkPartitions::set_split(const std::set<size_t>& side,
                                  const std::set<size_t>& cut_from_nats, bool stall) {
  for (size_t i : cut_from_nats) {
    stall ? links_.at(i).nats->stall() : links_.at(i).nats->unstall();
  }
  // Each node's peer proxy holds the connections that come from the other
  // side's addresses, so the two directions of every link across are cut.
  for (size_t to = 0; to < links_.size(); ++to) {
    for (size_t from = 0; from < links_.size(); ++from) {
      if (side.contains(to) == side.contains(from)) continue;
      TcpProxy& proxy = *links_[to].peer;
      stall ? proxy.stall_from(links_[from].source) : proxy.unstall_from(links_[from].source);
    }
  }
}

const char* NetworkPartitions::name_of(Cut cut) {
  switch (cut) {
    case Cut::everything:
      return "isolated";
    case Cut::nats_only:
      return "cut from NATS";
    case Cut::peers_only:
      return "cut from its peers";
    case Cut::from_node_only:
      return "unheard by its peers";
    case Cut::to_node_only:
      return "deaf to its peers";
  }
  return "?";
}

}  // namespace parti::testing
