// partid_keymap: for a leader-aware load client. Reads a node's
// /cluster/topology JSON on stdin and prints, for keys PREFIX0..PREFIX<N-1>,
// "host:port key" with the API address of the node leading the key's
// partition (xxhash64(key) % P, exactly as partid routes).
//   curl -s http://node/cluster/topology | partid_keymap key- 10000
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "partid/routing/topology.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: partid_keymap PREFIX COUNT < topology.json\n";
    return 2;
  }
  const auto topo = nlohmann::json::parse(std::cin, nullptr, false);
  if (!topo.is_object() || !topo.contains("assignment")) {
    std::cerr << "stdin is not a /cluster/topology answer\n";
    return 1;
  }
  std::map<std::string, std::string> api_of;
  for (const auto& n : topo["nodes"]) api_of[n["id"]] = n["api"];
  const uint32_t partitions = topo["partitions"];
  const long count = std::stol(argv[2]);
  for (long k = 0; k < count; ++k) {
    const std::string key = argv[1] + std::to_string(k);
    const uint32_t p = partid::routing::partition_of(key, partitions);
    std::cout << api_of[topo["assignment"][p]["replicas"][0]] << " " << key << "\n";
  }
  return 0;
}
