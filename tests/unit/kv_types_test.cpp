// Unit tests of how a KV create that failed without saying why is judged
// from a second read of its key (coord/kv_types.h).
#include <gtest/gtest.h>

#include "parti/coord/kv_types.h"

namespace parti::coord {
namespace {

const KvStatus kBare{KvErrc::Other, "Error"};

TEST(UnexplainedCreateTest, AKeyStillLiveIsExists) {
  const auto judged = judge_unexplained_create(kBare, KvStatus{});
  ASSERT_TRUE(judged);
  EXPECT_EQ(judged->code, KvErrc::Exists);
}

TEST(UnexplainedCreateTest, AKeyThatLapsedMeanwhileIsCreatedAgain) {
  EXPECT_FALSE(judge_unexplained_create(kBare, {KvErrc::NotFound, "deleted"}).has_value());
}

TEST(UnexplainedCreateTest, AReadThatFailsTooLeavesTheFailureAsItWas) {
  for (const KvErrc read : {KvErrc::Timeout, KvErrc::Unavailable, KvErrc::Other}) {
    const auto judged = judge_unexplained_create(kBare, {read, "read failed"});
    ASSERT_TRUE(judged);
    EXPECT_EQ(judged->code, KvErrc::Other) << to_string(read);
    EXPECT_EQ(judged->message, "Error");
  }
}

}  // namespace
}  // namespace parti::coord
