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
