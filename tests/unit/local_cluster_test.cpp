// A local cluster's node command line: what `partictl cluster up` was asked
// for reaches every node it starts, fast timings or not.
#include "partid/cli/local_cluster.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "support/temp_dir.h"

namespace partid::cli {
namespace {

// The value that follows `flag` in `argv`, or "" when the flag is absent.
std::string value_of(const std::vector<std::string>& argv, const std::string& flag) {
  auto it = std::find(argv.begin(), argv.end(), flag);
  return it == argv.end() || std::next(it) == argv.end() ? "" : *std::next(it);
}

ClusterState state_with(bool fast_timings) {
  ClusterState s;
  s.nats_url = "nats://127.0.0.1:4222";
  s.spec.partitions = 8;
  s.spec.replication_factor = 3;
  s.spec.sync = false;
  s.spec.fast_timings = fast_timings;
  return s;
}

TEST(LocalCluster, ANodeRunsOnTheTimingsTheClusterWasStartedWith) {
  EXPECT_EQ(value_of(node_command(state_with(true), "partid", "/c/node-0"), "--fast-timings"),
            "true");
  EXPECT_EQ(value_of(node_command(state_with(false), "partid", "/c/node-0"), "--fast-timings"),
            "false");
}

TEST(LocalCluster, ANodeGetsTheClustersShapeAndItsOwnDirectory) {
  const auto argv = node_command(state_with(true), "/bin/partid", "/c/node-2");
  EXPECT_EQ(argv.front(), "/bin/partid");
  EXPECT_EQ(value_of(argv, "--nats-url"), "nats://127.0.0.1:4222");
  EXPECT_EQ(value_of(argv, "--partitions"), "8");
  EXPECT_EQ(value_of(argv, "--replication-factor"), "3");
  EXPECT_EQ(value_of(argv, "--sync"), "false");
  EXPECT_EQ(value_of(argv, "--data-dir"), "/c/node-2/data");
  EXPECT_EQ(value_of(argv, "--ready-file"), "/c/node-2/ready.json");
  EXPECT_EQ(value_of(argv, "--ephemeral"), "false");
}

// Nodes a resize adds later get the same timings: the choice is kept in the
// cluster's file, and a file from before it had none means fast ones.
TEST(LocalCluster, TheTimingsAreKeptInTheClustersFile) {
  parti::testing::TempDir dir;
  auto load = [&](const std::string& spec) {
    std::ofstream(dir.sub("cluster.json"))
        << R"({"nats": {"url": "nats://x", "pid": 1}, "nodes": [], "spec": )" << spec << "}";
    ClusterState s;
    std::string error;
    EXPECT_TRUE(load_cluster_state(dir.path(), &s, &error)) << error;
    return s.spec.fast_timings;
  };
  EXPECT_FALSE(load(R"({"partitions": 8, "replication_factor": 3, "fast_timings": false})"));
  EXPECT_TRUE(load(R"({"partitions": 8, "replication_factor": 3})"));
}

}  // namespace
}  // namespace partid::cli
