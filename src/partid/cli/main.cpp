// partictl: the command line for a partid cluster — items (put, get, delete,
// list, and transactions across partitions: txn, txn-status), the cluster's shape (topology,
// status, resize progress), operator actions on one node's replica of a partition (admin), and a
// local cluster on loopback (cluster up, cluster down). The commands live in
// cli/*_commands.cpp, one group each (commands.h).
#include <CLI/CLI.hpp>

#include "partid/cli/commands.h"

int main(int argc, char** argv) {
  using namespace partid::cli;
  CLI::App app{"partictl: command line for Parti's item store (partid)"};
  app.require_subcommand(1);
  Globals g;
  app.add_option("--url", g.url, "node API URL (default: $PARTICTL_URL, or the local cluster)");
  app.add_option("--dir", g.dir, "local cluster directory")->capture_default_str();
  app.add_flag("--json", g.json_out, "print the server's JSON answer");
  int rc = 0;
  add_item_commands(app, g, rc);
  add_cluster_commands(app, g, rc);
  add_local_cluster_commands(app, g, rc);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return rc;
}
