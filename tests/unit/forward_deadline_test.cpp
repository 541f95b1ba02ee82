// When a forwarded request is still worth serving: its asker's deadline,
// inherited along the hops, and the margin for clocks that differ.
#include "partid/api/forward_deadline.h"

#include <gtest/gtest.h>

namespace partid::api {
namespace {

using std::chrono::milliseconds;

TEST(ForwardDeadline, AForwardIsGivenUpAfterItsTimeoutOrItsRequestsDeadline) {
  EXPECT_EQ(forward_deadline(10'000, milliseconds(1'500), 0), 11'500u);
  EXPECT_EQ(forward_deadline(10'000, milliseconds(1'500), 11'000), 11'000u)
      << "a second hop waits no longer than the first asker";
  EXPECT_EQ(forward_deadline(10'000, milliseconds(1'500), 20'000), 11'500u);
}

TEST(ForwardDeadline, ARequestIsRefusedOnlyPastItsDeadlineAndTheClockMargin) {
  const milliseconds margin(500);
  EXPECT_FALSE(forward_expired(11'500, 11'000, margin));
  EXPECT_FALSE(forward_expired(11'500, 12'000, margin)) << "the deadline may be off by the margin";
  EXPECT_TRUE(forward_expired(11'500, 12'001, margin));
  EXPECT_TRUE(forward_expired(11'500, 60'000, milliseconds(0)));
}

TEST(ForwardDeadline, ARequestFromABuildThatSendsNoDeadlineIsServed) {
  EXPECT_FALSE(forward_expired(0, 1'000'000'000'000, milliseconds(0)));
}

TEST(ForwardDeadline, WallClockMillisecondsSinceTheEpoch) {
  EXPECT_EQ(unix_ms(std::chrono::system_clock::time_point(milliseconds(1'234))), 1'234u);
}

}  // namespace
}  // namespace partid::api
