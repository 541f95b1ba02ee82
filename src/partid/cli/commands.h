// cli: partictl's subcommands, one group per file: items and transactions
// (item_commands.cpp), the cluster's shape and operator actions
// (cluster_commands.cpp), a local cluster on loopback
// (local_cluster_commands.cpp). Each add_*_commands registers its group on
// `app`; the callbacks run from app.parse, set `rc` (the process's exit
// code) and own what their options parse into, so nothing they use is a
// local of a function that has returned.
#pragma once

#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>
#include <string>

#include "partid/cli/http_client.h"
#include "partid/cli/local_cluster.h"

namespace partid::cli {

// The options every subcommand shares.
struct Globals {
  std::string url;
  std::string dir = "parti-cluster";
  bool json_out = false;
};

void add_item_commands(CLI::App& app, const Globals& g, int& rc);
void add_cluster_commands(CLI::App& app, const Globals& g, int& rc);
void add_local_cluster_commands(CLI::App& app, const Globals& g, int& rc);

// The node to talk to: --url, else $PARTICTL_URL, else the first node of the
// local cluster in --dir.
std::string node_url(const Globals& g);
// A local cluster's nodes: JSON with --json, else `headline` and one line each.
void print_cluster(const Globals& g, const ClusterState& s, const std::string& headline);
using Render = std::string (*)(const nlohmann::json&);
// An answer as the exit code and what is printed: the error on stderr, else
// the body (with --json) or `render` of it. Exit codes: 0 ok, 1 refused,
// 3 no answer, 4 not found.
int report(const Globals& g, const HttpResult& r, Render render);
// One request to node_url(g), reported; `answer`, if given, gets the body.
int call(const Globals& g, const std::string& method, const std::string& target,
         const std::string& body, Render render, const std::string& authorization = {},
         std::string* answer = nullptr);

}  // namespace partid::cli
