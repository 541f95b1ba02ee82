#include "partid/cli/output.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace partid::cli
