#include "partid/cli/output.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

namespace partid::cli {
namespace {

std::string refusal(const std::string& code) {
  return nlohmann::json{{"error", {{"code", code}, {"message", "m"}}}, {"txn", "T1"}}.dump();
}

TEST(RenderError, ARefusalByAnOlderLockSaysTheSameWritesCanBeRetriedInTheirTurn) {
  const std::string out = render_error(409, refusal("txn_conflict"), "");
  EXPECT_EQ(out,
            "error: 409 txn_conflict: m\n"
            "  transaction T1 (txn --retry-of T1 retries it in its turn)\n");
}

TEST(RenderError, AFailedConditionSaysToReReadBeforeRetrying) {
  const std::string out = render_error(409, refusal("txn_condition_failed"), "");
  EXPECT_NE(out.find("re-read the items; txn --retry-of T1 with new conditions"), std::string::npos)
      << out;
  EXPECT_EQ(out.find("retries it in its turn"), std::string::npos) << out;
}

TEST(RenderError, AnExpiredOrAbortedTransactionIsNamedWithoutARetryHint) {
  for (const char* code : {"txn_expired", "txn_aborted", "txn_outcome_unknown"}) {
    const std::string out = render_error(409, refusal(code), "");
    EXPECT_NE(out.find("  transaction T1\n"), std::string::npos) << out;
    EXPECT_EQ(out.find("--retry-of"), std::string::npos) << out;
  }
}

TEST(RenderError, AnAnswerThatIsNotTheErrorShapeIsShownAsReceived) {
  EXPECT_EQ(render_error(502, "<html>bad gateway</html>", ""),
            "error: HTTP 502: <html>bad gateway</html>\n");
  EXPECT_EQ(render_error(0, "", "connection refused"), "error: connection refused\n");
}

TEST(RenderStatus, ASettledNodeIsOneLine) {
  const nlohmann::json status = {
      {"node", "node-0"},
      {"state", "Stable"},
      {"assignment_version", 4},
      {"partitions", {{{"partition", 1}, {"role", "leader"}, {"serving", true}}}},
      {"replication", {{"snapshot_bytes_held", 0}, {"snapshot_bytes_receiving", 0}}}};
  const std::string out = render_status(status);
  EXPECT_EQ(out.find("node-0: Stable (assignment v4), 1 partition(s) held, 1 led, 1 serving"), 0u)
      << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
}

// A node being rebuilt says which partitions still wait for their data and
// what its snapshots hold: what an operator watching a rebuild asks.
TEST(RenderStatus, ANodeBeingRebuiltNamesThePartitionsWaitingAndItsSnapshotBytes) {
  const nlohmann::json status = {
      {"node", "node-3"},
      {"state", "Stable"},
      {"partitions",
       {{{"partition", 2}, {"role", "follower"}, {"waits_for_data", true}},
        {{"partition", 5}, {"role", "follower"}, {"waits_for_data", false}},
        {{"partition", 7}, {"role", "follower"}, {"waits_for_data", true}}}},
      {"replication",
       {{"snapshot_bytes_held", 0}, {"snapshot_bytes_receiving", 3 * 1048576 + 524288}}}};
  const std::string out = render_status(status);
  EXPECT_NE(out.find("\n  waiting for data (a catch-up or a snapshot asked for): [2,7]\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\n  snapshots: 0 B built and not yet delivered, 3.5 MiB being received\n"),
            std::string::npos)
      << out;
}

// Coordination trouble since the node started gets a line of its own; a
// node that met none stays one line (RenderStatus.ASettledNodeIsOneLine, with
// zero counters here).
TEST(RenderStatus, ANodeWhoseCoordinationMetTroubleSaysWhat) {
  nlohmann::json status = {{"node", "node-1"},
                           {"state", "Stable"},
                           {"coordination",
                            {{"errors", 0},
                             {"heartbeats_failed", 0},
                             {"heartbeat_lapses", 0},
                             {"id_reclaims", 0},
                             {"watch_renewals", 0}}}};
  const std::string calm = render_status(status);
  EXPECT_EQ(std::count(calm.begin(), calm.end(), '\n'), 1) << calm;
  status["coordination"]["heartbeats_failed"] = 7;
  status["coordination"]["heartbeat_lapses"] = 1;
  status["coordination"]["watch_renewals"] = 2;
  const std::string out = render_status(status);
  EXPECT_NE(out.find("\n  coordination since start: 7 heartbeat(s) NATS did not take, 1 lapse(s) "
                     "of a whole TTL, 0 stable-ID reclaim(s), 2 stuck watch(es) made again\n"),
            std::string::npos)
      << out;
}

TEST(RenderTopology, ShowsTheLayoutAndASplitOrMergeUnderWay) {
  const nlohmann::json t = {{"version", 7},
                            {"partitions", 5},
                            {"replication_factor", 3},
                            {"layout",
                             {{"base", 4},
                              {"count", 4},
                              {"split", {{"source", 0}, {"target", 4}, {"phase", "copying"}}}}},
                            {"nodes", nlohmann::json::array()}};
  const std::string out = render_topology(t);
  EXPECT_NE(out.find("layout: 4 partitions over base 4 (linear hashing); splitting 0 into 4 "
                     "(copying)\n"),
            std::string::npos)
      << out;
  nlohmann::json merging = t;
  merging["layout"]["count"] = 5;
  merging["layout"]["split"] = {
      {"kind", "merge"}, {"source", 4}, {"target", 0}, {"phase", "freezing"}};
  const std::string merge_out = render_topology(merging);
  EXPECT_NE(merge_out.find("layout: 5 partitions over base 4 (linear hashing); merging 4 into 0 "
                           "(freezing)\n"),
            std::string::npos)
      << merge_out;
}

TEST(RenderTopology, MarksANodeThatAsksNotToLead) {
  const nlohmann::json t = {
      {"version", 3},
      {"partitions", 4},
      {"replication_factor", 3},
      {"nodes",
       {{{"id", "node-0"}, {"api", "127.0.0.1:1"}, {"state", "Active"}, {"leads", 4}},
        {{"id", "node-1"},
         {"api", "127.0.0.1:2"},
         {"state", "Active"},
         {"avoids_leading", true}}}}};
  const std::string out = render_topology(t);
  const auto slow = out.find("node-1");
  ASSERT_NE(slow, std::string::npos) << out;
  const auto mark = out.find("disk slow: asks not to lead\n");
  ASSERT_NE(mark, std::string::npos) << out;
  EXPECT_GT(mark, slow) << "on node-1's line, not node-0's: " << out;
  EXPECT_EQ(mark, out.rfind("disk slow")) << "marked once: " << out;
}

}  // namespace
}  // namespace partid::cli
