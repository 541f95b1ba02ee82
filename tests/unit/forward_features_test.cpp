// What a forwarded request relies on that an older build ignores, and the
// refusal of a reply from a node that does not understand it.
#include "partid/api/forward_features.h"

#include <gtest/gtest.h>

namespace partid::api {
namespace {

TEST(ForwardFeatures, APageAfterACursorReliesOnTheCursor) {
  EXPECT_EQ(relied_on("GET", "/items/k?after=r5"), kUnderstandsCursor);
  EXPECT_EQ(relied_on("GET", "/items/a%2Fb?limit=3&after=%C3%A9"), kUnderstandsCursor);
  EXPECT_EQ(relied_on("GET", "/items/k?after="), kUnderstandsCursor) << "present, even if empty";
}

TEST(ForwardFeatures, WhatEveryBuildAnswersReliesOnNothing) {
  EXPECT_EQ(relied_on("GET", "/items/k"), 0u);
  EXPECT_EQ(relied_on("GET", "/items/k?limit=3"), 0u);
  EXPECT_EQ(relied_on("GET", "/items/k/r?after=x"), 0u) << "a single item ignores the cursor";
  EXPECT_EQ(relied_on("POST", "/items"), 0u);
  EXPECT_EQ(relied_on("DELETE", "/items/k?after=x"), 0u);
  EXPECT_EQ(relied_on("GET", "/nowhere?after=x"), 0u) << "the node asked answers the 404";
}

TEST(ForwardFeatures, AReplyLackingWhatTheRequestReliedOnIsRefused) {
  const auto refused = outdated_reply(kUnderstandsCursor, 0, "node-b");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->code, "peer_outdated");
  EXPECT_NE(refused->message.find("node-b"), std::string::npos);
  EXPECT_NE(refused->message.find("?after="), std::string::npos);
  EXPECT_GT(refused->retry_after_s, 0);
}

TEST(ForwardFeatures, AReplyUnderstandingWhatTheRequestReliedOnPasses) {
  EXPECT_FALSE(outdated_reply(kUnderstandsCursor, kUnderstoodHere, "node-b"));
  EXPECT_FALSE(outdated_reply(0, 0, "node-b")) << "an older build answers the rest correctly";
  EXPECT_FALSE(outdated_reply(0, kUnderstoodHere, "node-b"));
}

}  // namespace
}  // namespace partid::api
