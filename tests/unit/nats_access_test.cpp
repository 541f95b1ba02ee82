// What may be printed of a NATS URL, and which access settings make sense
// together (parti/coord/nats_access.h).
#include <gtest/gtest.h>

#include "parti/coord/nats_access.h"

namespace parti::coord {
namespace {

TEST(NatsUrlTest, AListOfServersIsSplitAtItsCommasAndTrimmed) {
  EXPECT_EQ(split_urls("nats://h1:4222"), std::vector<std::string>{"nats://h1:4222"});
  EXPECT_EQ(split_urls("nats://h1:1, nats://a:b@h2:2 ,,tls://h3:3"),
            (std::vector<std::string>{"nats://h1:1", "nats://a:b@h2:2", "tls://h3:3"}));
  EXPECT_EQ(split_urls(""), std::vector<std::string>{""});  // refused by nats.c, with its reason
}

TEST(NatsUrlTest, CredentialsInAUrlAreNeverShown) {
  EXPECT_EQ(redact_urls("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
  EXPECT_EQ(redact_urls("nats://tok3n@db1:4222"), "nats://***@db1:4222");
  EXPECT_EQ(redact_urls("nats://alice:pw@db1:4222/x"), "nats://alice:***@db1:4222/x");
  EXPECT_EQ(redact_urls("tls://a:b@h1:1, nats://h2:2,c:p@d@h3"),
            "tls://a:***@h1:1, nats://h2:2,c:***@h3");
  EXPECT_EQ(redact_urls(""), "");
  EXPECT_TRUE(urls_carry_credentials("nats://h1,nats://x@h2"));
  EXPECT_FALSE(urls_carry_credentials("nats://h1:4222,tls://h2/path@x"));
}

TEST(NatsAccessSettingsTest, OnlyCombinationsThatMeanSomethingAreAccepted) {
  EXPECT_EQ(access_problem({}), "");
  EXPECT_EQ(access_problem({.user = "u", .password = "p"}), "");
  EXPECT_EQ(access_problem({.token = "t"}), "");
  EXPECT_NE(access_problem({.user = "u", .token = "t"}), "");
  EXPECT_NE(access_problem({.password = "p"}), "");
}

}  // namespace
}  // namespace parti::coord
