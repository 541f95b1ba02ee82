// replication::plan_handoff: how a replica takes a new appointment.
#include "partid/replication/handoff.h"

#include <gtest/gtest.h>

namespace partid::replication {
namespace {

HandoffInput input(std::optional<std::string> previous, bool alive, std::string next,
                   bool in_flight = false, bool heard = false) {
  return {"me", std::move(previous), alive, std::move(next), in_flight, heard};
}

TEST(HandoffTest, TheLeaderHandingOverDrainsWhatItHasInFlightFirst) {
  EXPECT_EQ(plan_handoff(input("me", true, "b", true)), HandoffPlan::DrainFirst);
  EXPECT_EQ(plan_handoff(input("me", true, "b", false)), HandoffPlan::HandOver);
  // A new set under the same leader: its followers must hear it too.
  EXPECT_EQ(plan_handoff(input("me", true, "me", true)), HandoffPlan::DrainFirst);
  EXPECT_EQ(plan_handoff(input("me", true, "me", false)), HandoffPlan::HandOver);
}

TEST(HandoffTest, OthersAwaitALiveLeadersHandoffButNotADeadOnes) {
  EXPECT_EQ(plan_handoff(input("a", true, "me")), HandoffPlan::AwaitHandoff);
  EXPECT_EQ(plan_handoff(input("a", true, "b")), HandoffPlan::AwaitHandoff);
  EXPECT_EQ(plan_handoff(input("a", true, "a")), HandoffPlan::AwaitHandoff);
  EXPECT_EQ(plan_handoff(input("a", false, "me")), HandoffPlan::AppointNow);
  EXPECT_EQ(plan_handoff(input("a", true, "me", false, true)), HandoffPlan::AppointNow);
}

TEST(HandoffTest, ANewLeaderWithoutAViewAsksTheRegisterAndAFollowerDoesNotWait) {
  EXPECT_EQ(plan_handoff(input(std::nullopt, false, "me")), HandoffPlan::LookUpLeader);
  EXPECT_EQ(plan_handoff(input(std::nullopt, false, "b")), HandoffPlan::AppointNow);
  EXPECT_EQ(plan_handoff(input(std::nullopt, false, "me", false, true)), HandoffPlan::AppointNow);
}

TakeoverInput takeover(bool heard, bool passes = false) {
  return {.leads_next = true,
          .was_replica = true,
          .led_before = false,
          .handoff_heard = heard,
          .handoff_passes_failover = passes};
}

TEST(HandoffTest, ALeadershipTakenWithoutAHandoffIsAFailover) {
  EXPECT_TRUE(counts_as_failover(takeover(false)));
  EXPECT_FALSE(counts_as_failover(takeover(true)));  // a planned move
}

TEST(HandoffTest, AFirstAppointmentAFollowerAndTheSameLeaderAreNoFailover) {
  TakeoverInput first = takeover(false);
  first.was_replica = false;
  EXPECT_FALSE(counts_as_failover(first));
  TakeoverInput follower = takeover(false);
  follower.leads_next = false;
  EXPECT_FALSE(counts_as_failover(follower));
  TakeoverInput again = takeover(false);
  again.led_before = true;  // a new epoch or set under the same leader
  EXPECT_FALSE(counts_as_failover(again));
}

// A dead leader's successor handing the partition on before it served: the
// failover is the next leader's to count, or nobody counts it.
TEST(HandoffTest, AHandoffFromAnUnservedFailoverPassesTheFailoverOn) {
  EXPECT_TRUE(counts_as_failover(takeover(true, true)));
  TakeoverInput follower = takeover(true, true);
  follower.leads_next = false;
  EXPECT_FALSE(counts_as_failover(follower));
}

}  // namespace
}  // namespace partid::replication
