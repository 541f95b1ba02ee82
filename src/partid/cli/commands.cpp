#include "partid/cli/commands.h"

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "partid/cli/output.h"

namespace partid::cli {

using nlohmann::json;

std::string node_url(const Globals& g) {
  if (!g.url.empty()) return g.url;
  if (const char* env = std::getenv("PARTICTL_URL")) return env;
  ClusterState s;
  std::string error;
  if (load_cluster_state(g.dir, &s, &error) && !s.nodes.empty()) return s.nodes.front().api_url;
  return "http://127.0.0.1:8080";
}

void print_cluster(const Globals& g, const ClusterState& s, const std::string& headline) {
  if (g.json_out) {
    json nodes = json::array();
    for (const auto& n : s.nodes) nodes.push_back({{"id", n.id}, {"api", n.api_url}});
    std::cout << json{{"nats", s.nats_url}, {"nodes", nodes}}.dump() << "\n";
    return;
  }
  std::cout << headline << " (nats " << s.nats_url << ")\n";
  for (const auto& n : s.nodes) std::cout << "  " << n.id << "  " << n.api_url << "\n";
}

int report(const Globals& g, const HttpResult& r, Render render) {
  if (r.status < 200 || r.status >= 300) {
    std::cerr << render_error(r.status, r.body, r.error);
    return r.status == 0 ? 3 : (r.status == 404 ? 4 : 1);
  }
  if (g.json_out) {
    std::cout << r.body << "\n";
    return 0;
  }
  json j = json::parse(r.body, nullptr, false);
  std::cout << (j.is_discarded() ? r.body + "\n" : render(j));
  return 0;
}

int call(const Globals& g, const std::string& method, const std::string& target,
         const std::string& body, Render render, const std::string& authorization,
         std::string* answer) {
  auto r = http_request(node_url(g), method, target, body, std::chrono::milliseconds(10000),
                        authorization);
  if (answer) *answer = r.body;
  return report(g, r, render);
}

}  // namespace partid::cli
