#include "parti/assignment/calculator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "parti/source/partition_source.h"

namespace parti {

class CalculatorTest : public ::testing::Test {
 protected:
  CalculatorConfig cfg() {
    CalculatorConfig c;
    c.cold_start_window = Millis(3000);
    c.planned_scale_window = Millis(1000);
    c.emergency_grace = Millis(500);
    c.cooldown = Millis(2000);
    c.restart_ratio = 0.5;
    c.resize_hold_max = Millis(20000);
    return c;
  }
  // `ids`, of which those in `moving` still move data for the last assignment.
  std::vector<WorkerInfo> ws_moving(std::initializer_list<const char*> ids,
                                    std::set<std::string> moving) {
    auto out = ws(ids);
    for (auto& w : out) w.moving_data = moving.contains(w.id);
    return out;
  }
  std::vector<WorkerInfo> ws(std::initializer_list<const char*> ids) {
    std::vector<WorkerInfo> out;
    for (auto id : ids) out.push_back({id, 1, 0, {}});
    return out;
  }
  // Publishes whatever `out` asks for and returns the calculator's follow-up.
  CalcOutput settle(Calculator& c, CalcOutput out, TimePoint now) {
    while (out.publish) out = c.on_published(*out.publish, now);
    return out;
  }
  // Assignment v1 placed on a, b, c and d at t0 + 3 s; a rejoin window of
  // 4 s, longer than the cold-start window (3 s).
  std::unique_ptr<Calculator> settled_on_four_with_a_rejoin_window() {
    CalculatorConfig config = cfg();
    config.rejoin_window = Millis(4000);
    auto c = std::make_unique<Calculator>(config, *strategy);
    c->begin({}, numbered_partitions(10), t0);
    c->on_workers(ws({"a", "b", "c", "d"}), t0);
    settle(*c, c->on_timer(t0 + Millis(3000)), t0 + Millis(3000));
    return c;
  }
  // RF 3, 60 partitions, assignment v1 placed on a, b, c and d at t0 + 3 s.
  std::unique_ptr<Calculator> settled_rf3_on_four() {
    CalculatorConfig config = cfg();
    config.replication_factor = 3;
    auto c = std::make_unique<Calculator>(config, *strategy);
    c->begin({}, numbered_partitions(60), t0);
    c->on_workers(ws({"a", "b", "c", "d"}), t0);
    settle(*c, c->on_timer(t0 + Millis(3000)), t0 + Millis(3000));
    return c;
  }
  // `after` has the replica sets of `before`: only leadership moved.
  static void expect_only_leadership_moved(const Assignment& before, const Assignment& after) {
    ASSERT_EQ(before.replicas.size(), after.replicas.size());
    for (size_t p = 0; p < before.replicas.size(); ++p) {
      auto was = before.replicas[p], is = after.replicas[p];
      std::sort(was.begin(), was.end());
      std::sort(is.begin(), is.end());
      EXPECT_EQ(was, is) << "only leadership moves, partition " << p;
    }
  }
  std::unique_ptr<Strategy> strategy = make_consistent_hash();
  TimePoint t0 = TimePoint{} + std::chrono::hours(1);
};

TEST_F(CalculatorTest, ColdStartWaitsForTheWindowThenPublishesAll) {
  Calculator c(cfg(), *strategy);
  c.begin({}, numbered_partitions(10), t0);
  auto out = c.on_workers(ws({"a"}), t0);
  EXPECT_EQ(c.state(), CalcState::Scaling);
  EXPECT_EQ(c.reason(), RebalanceReason::ColdStart);
  EXPECT_FALSE(out.publish);
  c.on_workers(ws({"a", "b", "c"}), t0 + Millis(1000));
  EXPECT_EQ(c.next_deadline(), t0 + Millis(3000));  // the window runs from first sight
  EXPECT_FALSE(c.on_timer(t0 + Millis(2999)).publish);
  out = c.on_timer(t0 + Millis(3000));
  ASSERT_TRUE(out.publish);
  EXPECT_EQ(c.state(), CalcState::Rebalancing);
  EXPECT_EQ(out.publish->version, 1u);
  EXPECT_EQ(out.publish->workers.size(), 3u);
  c.on_published(*out.publish, t0 + Millis(3001));
  EXPECT_EQ(c.state(), CalcState::Idle);
}

TEST_F(CalculatorTest, PlannedScaleUsesTheShorterWindow) {
  Calculator c(cfg(), *strategy);
  c.begin({}, numbered_partitions(10), t0);
  c.on_workers(ws({"a", "b"}), t0);
  settle(c, c.on_timer(t0 + Millis(3000)), t0 + Millis(3000));
  const TimePoint t1 = t0 + Millis(10000);
  c.on_workers(ws({"a", "b", "c"}), t1);
  EXPECT_EQ(c.state(), CalcState::Scaling);
  EXPECT_EQ(c.reason(), RebalanceReason::PlannedScale);
  EXPECT_EQ(c.next_deadline(), t1 + Millis(1000));
  auto out = c.on_timer(t1 + Millis(1000));
  ASSERT_TRUE(out.publish);
  EXPECT_EQ(out.publish->version, 2u);
}

TEST_F(CalculatorTest, ShortAbsenceWithinGraceNeverRebalances) {
  Calculator c(cfg(), *strategy);
  c.begin({}, numbered_partitions(10), t0);
  c.on_workers(ws({"a", "b", "c"}), t0);
  settle(c, c.on_timer(t0 + Millis(3000)), t0 + Millis(3000));
  const TimePoint t1 = t0 + Millis(20000);
  EXPECT_FALSE(c.on_workers(ws({"a", "b"}), t1).publish);
  EXPECT_EQ(c.state(), CalcState::Idle);
  // Back after 450 ms: the grace period (500 ms) absorbs it.
  EXPECT_FALSE(c.on_workers(ws({"a", "b", "c"}), t1 + Millis(450)).publish);
  EXPECT_FALSE(c.on_timer(t1 + Millis(600)).publish);
  EXPECT_EQ(c.state(), CalcState::Idle);
  EXPECT_EQ(c.published().version, 1u);
}

TEST_F(CalculatorTest, AbsenceBeyondGraceIsAnEmergencyThatIgnoresCooldown) {
  Calculator c(cfg(), *strategy);
  c.begin({}, numbered_partitions(10), t0);
  c.on_workers(ws({"a", "b", "c"}), t0);
  settle(c, c.on_timer(t0 + Millis(3000)), t0 + Millis(3000));
  const TimePoint t1 = t0 + Millis(3100);  // well inside the 2 s cooldown
  c.on_workers(ws({"a", "b"}), t1);
  EXPECT_EQ(c.next_deadline(), t1 + Millis(500));
  auto out = c.on_timer(t1 + Millis(500));
  ASSERT_TRUE(out.publish);
  EXPECT_EQ(c.state(), CalcState::Emergency);
  EXPECT_EQ(out.publish->workers, (std::vector<std::string>{"a", "b"}));
}

// How many partitions each worker leads.
std::map<std::string, int> leads(const Assignment& a) {
  std::map<std::string, int> n;
  for (const auto& replicas : a.replicas) ++n[a.workers[replicas.front()]];
  return n;
}

// DESIGN 4.2: the successor rule picks a dead leader's successors for
// survival (the one furthest along, whoever leads most already); a planned
// rebalance a cooldown later restores balanced leadership.
TEST_F(CalculatorTest, AnEmergencyIsFollowedByALeaderBalanceOnceTheCooldownHasPassed) {
  auto settled = settled_rf3_on_four();
  Calculator& c = *settled;
  // Equally far along and started together: the lowest id, "a", succeeds "d"
  // wherever it was a replica.
  const auto survivors = ws({"a", "b", "c"});
  const TimePoint t1 = t0 + Millis(10000);
  c.on_workers(survivors, t1);
  auto emergency = c.on_timer(t1 + Millis(500));
  ASSERT_TRUE(emergency.publish);
  const auto skewed = leads(*emergency.publish);
  EXPECT_GT(skewed.at("a"), 20) << "the successor rule alone leaves leadership uneven";
  const TimePoint published = t1 + Millis(510);
  EXPECT_FALSE(c.on_published(*emergency.publish, published).publish);
  EXPECT_EQ(c.state(), CalcState::Rebalancing);
  EXPECT_EQ(c.reason(), RebalanceReason::LeaderBalance);
  EXPECT_EQ(c.next_deadline(), published + Millis(2000));
  // Heartbeats (progress changes) meanwhile do not cancel it.
  EXPECT_FALSE(c.on_workers(survivors, published + Millis(1000)).publish);
  EXPECT_EQ(c.reason(), RebalanceReason::LeaderBalance);
  EXPECT_FALSE(c.on_timer(published + Millis(1999)).publish);
  auto balance = c.on_timer(published + Millis(2000));
  ASSERT_TRUE(balance.publish);
  EXPECT_EQ(balance.publish->workers, emergency.publish->workers);
  for (const auto& [worker, n] : leads(*balance.publish)) EXPECT_EQ(n, 20) << worker;
  expect_only_leadership_moved(*emergency.publish, *balance.publish);
  c.on_published(*balance.publish, published + Millis(2010));
  EXPECT_EQ(c.state(), CalcState::Idle);
}

TEST_F(CalculatorTest, AnEmergencyThatLeavesLeadershipBalancedPublishesNothingMore) {
  Calculator c(cfg(), *strategy);  // RF 1: no successor to choose
  c.begin({}, numbered_partitions(10), t0);
  c.on_workers(ws({"a", "b", "c"}), t0);
  settle(c, c.on_timer(t0 + Millis(3000)), t0 + Millis(3000));
  const TimePoint t1 = t0 + Millis(10000);
  c.on_workers(ws({"a", "b"}), t1);
  auto emergency = c.on_timer(t1 + Millis(500));
  ASSERT_TRUE(emergency.publish);
  c.on_published(*emergency.publish, t1 + Millis(500));
  EXPECT_FALSE(c.on_timer(t1 + Millis(2500)).publish);
  EXPECT_EQ(c.state(), CalcState::Idle);
  EXPECT_EQ(c.published().version, 2u);
}

// `ids` (RF 3 placements), of which those in `asking` ask not to lead.
std::vector<WorkerInfo> asking(std::vector<WorkerInfo> workers, std::set<std::string> ids) {
  for (auto& w : workers) w.avoid_leading = ids.contains(w.id);
  return workers;
}

TEST_F(CalculatorTest, AWorkerAskingNotToLeadHasItsLeadershipsMovedAndBackOnceItStops) {
  auto settled = settled_rf3_on_four();
  Calculator& c = *settled;
  const auto four = ws({"a", "b", "c", "d"});
  const Assignment v1 = c.published();
  ASSERT_EQ(leads(v1).at("b"), 15);

  const TimePoint t1 = t0 + Millis(4000);  // within the cooldown of v1
  EXPECT_FALSE(c.on_workers(asking(four, {"b"}), t1).publish);
  EXPECT_EQ(c.state(), CalcState::Rebalancing);
  EXPECT_EQ(c.reason(), RebalanceReason::LeaderBalance);
  EXPECT_FALSE(c.on_timer(t1).publish);
  EXPECT_EQ(c.next_deadline(), t0 + Millis(5000)) << "a planned rebalance waits the cooldown";
  auto moved = c.on_timer(t0 + Millis(5000));
  ASSERT_TRUE(moved.publish);
  EXPECT_FALSE(leads(*moved.publish).contains("b"));
  expect_only_leadership_moved(v1, *moved.publish);
  EXPECT_FALSE(c.on_published(*moved.publish, t0 + Millis(5000)).publish);
  EXPECT_EQ(c.state(), CalcState::Idle);
  // Heartbeats that say the same thing decide nothing more.
  EXPECT_FALSE(c.on_workers(asking(four, {"b"}), t0 + Millis(9000)).publish);
  EXPECT_EQ(c.state(), CalcState::Idle);

  const TimePoint t2 = t0 + Millis(10000);
  c.on_workers(four, t2);
  auto back = c.on_timer(t2);
  ASSERT_TRUE(back.publish);
  for (const auto& [worker, n] : leads(*back.publish)) EXPECT_EQ(n, 15) << worker;
}

TEST_F(CalculatorTest, ACoordinatorJustBegunMovesLeadershipsOffAWorkerAskingAndOnlyOnce) {
  auto first = settled_rf3_on_four();
  const auto four = ws({"a", "b", "c", "d"});
  CalculatorConfig config = cfg();
  config.replication_factor = 3;
  Calculator next(config, *strategy);  // a new coordinator, b now asking
  next.begin(first->published(), numbered_partitions(60), t0 + Millis(4000));
  next.on_workers(asking(four, {"b"}), t0 + Millis(4000));
  auto moved = next.on_timer(t0 + Millis(4000));
  ASSERT_TRUE(moved.publish);
  EXPECT_FALSE(leads(*moved.publish).contains("b"));
  next.on_published(*moved.publish, t0 + Millis(4000));

  Calculator third(config, *strategy);  // and another, which finds it done
  third.begin(next.published(), numbered_partitions(60), t0 + Millis(5000));
  third.on_workers(asking(four, {"b"}), t0 + Millis(5000));
  EXPECT_FALSE(third.on_timer(t0 + Millis(5000)).publish) << "nothing to move: no new version";
  EXPECT_EQ(third.state(), CalcState::Idle);
  EXPECT_FALSE(third.on_workers(asking(four, {"b"}), t0 + Millis(6000)).publish);
  EXPECT_EQ(third.state(), CalcState::Idle);
}

TEST_F(CalculatorTest, LosingHalfOrMoreIsARestartWithTheColdWindow) {
  Calculator c(cfg(), *strategy);
  c.begin({}, numbered_partitions(10), t0);
  c.on_workers(ws({"a", "b", "c", "d"}), t0);
  settle(c, c.on_timer(t0 + Millis(3000)), t0 + Millis(3000));
  const TimePoint t1 = t0 + Millis(10000);
  c.on_workers(ws({"a"}), t1);
  EXPECT_EQ(c.state(), CalcState::Scaling);
  EXPECT_EQ(c.reason(), RebalanceReason::Restart);
  EXPECT_EQ(c.next_deadline(), t1 + Millis(3000));
  // Everyone is back before the window ends: nothing to publish.
  c.on_workers(ws({"a", "b", "c", "d"}), t1 + Millis(2000));
  EXPECT_EQ(c.state(), CalcState::Idle);
  EXPECT_EQ(c.published().version, 1u);
}

// NATS comes back after an outage that lapsed every record: the workers
// return one by one, and one that has not yet been heard again is not
// declared lost before the rejoin window has passed.
TEST_F(CalculatorTest, AfterNatsComesBackAWorkerNotYetHeardHasTheRejoinWindow) {
  auto settled = settled_on_four_with_a_rejoin_window();
  Calculator& c = *settled;
  const TimePoint down = t0 + Millis(10000);
  EXPECT_FALSE(c.on_hearing(std::nullopt, down).publish);
  // Deaf, the records lapse one by one: nothing is decided, no deadline armed.
  EXPECT_FALSE(c.on_workers(ws({"a", "b", "c"}), down + Millis(600)).publish);
  EXPECT_FALSE(c.on_workers(ws({}), down + Millis(700)).publish);
  EXPECT_FALSE(c.next_deadline());
  const TimePoint back = down + Millis(5000);
  EXPECT_FALSE(c.on_hearing(back, back).publish);
  EXPECT_FALSE(c.on_workers(ws({"a"}), back + Millis(100)).publish);
  EXPECT_FALSE(c.on_workers(ws({"a", "b", "c"}), back + Millis(200)).publish);
  // The grace (500 ms) alone would end at back + 700 ms.
  EXPECT_EQ(c.next_deadline(), back + Millis(4000));
  EXPECT_FALSE(c.on_timer(back + Millis(3999)).publish);
  EXPECT_FALSE(c.on_workers(ws({"a", "b", "c", "d"}), back + Millis(2500)).publish);
  EXPECT_FALSE(c.on_timer(back + Millis(4000)).publish);
  EXPECT_EQ(c.state(), CalcState::Idle);
  EXPECT_EQ(c.published().version, 1u);
}

TEST_F(CalculatorTest, AWorkerThatDiedDuringTheOutageIsReplacedOnceTheRejoinWindowEnds) {
  auto settled = settled_on_four_with_a_rejoin_window();
  Calculator& c = *settled;
  const TimePoint down = t0 + Millis(10000);
  c.on_hearing(std::nullopt, down);
  c.on_workers(ws({"a"}), down + Millis(600));  // a Restart-sized loss, while deaf
  const TimePoint back = down + Millis(5000);
  c.on_hearing(back, back);
  c.on_workers(ws({"a", "b", "c"}), back + Millis(300));
  ASSERT_TRUE(c.next_deadline());
  EXPECT_EQ(*c.next_deadline(), back + Millis(4000));
  EXPECT_FALSE(c.on_timer(back + Millis(3999)).publish);
  auto out = c.on_timer(back + Millis(4000));
  ASSERT_TRUE(out.publish);
  EXPECT_EQ(out.publish->workers, (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(CalculatorTest, AWorkerHeardToLeaveRightAfterNatsComesBackIsReplacedAfterTheGraceOnly) {
  auto settled = settled_on_four_with_a_rejoin_window();
  Calculator& c = *settled;
  const TimePoint back = t0 + Millis(10000);
  c.on_hearing(back, back);
  c.on_workers(ws({"a", "b", "c"}), back + Millis(100), {"d"});  // its Delete was seen
  EXPECT_EQ(c.next_deadline(), back + Millis(600));
  auto out = c.on_timer(back + Millis(600));
  ASSERT_TRUE(out.publish);
  EXPECT_EQ(out.publish->workers, (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(CalculatorTest, ARestartSizedLossAfterNatsComesBackWaitsForTheRejoinWindowToo) {
  auto settled = settled_on_four_with_a_rejoin_window();
  Calculator& c = *settled;
  const TimePoint back = t0 + Millis(10000);
  c.on_hearing(back, back);
  c.on_workers(ws({"a"}), back + Millis(100));
  EXPECT_EQ(c.reason(), RebalanceReason::Restart);
  EXPECT_EQ(c.next_deadline(), back + Millis(4000));
  EXPECT_FALSE(c.on_timer(back + Millis(3100)).publish);
}

TEST_F(CalculatorTest, CooldownDefersPlannedScale) {
  Calculator c(cfg(), *strategy);
  c.begin({}, numbered_partitions(10), t0);
  c.on_workers(ws({"a"}), t0);
  const TimePoint p = t0 + Millis(3000);
  settle(c, c.on_timer(p), p);
  c.on_workers(ws({"a", "b"}), p + Millis(100));
  auto out = c.on_timer(p + Millis(1100));  // window over, cooldown (2 s) not
  EXPECT_FALSE(out.publish);
  EXPECT_EQ(c.next_deadline(), p + Millis(2000));
  EXPECT_TRUE(c.on_timer(p + Millis(2000)).publish);
}

TEST_F(CalculatorTest, RefreshBypassesCooldownAndPublishesNewPartitions) {
  Calculator c(cfg(), *strategy);
  c.begin({}, numbered_partitions(10), t0);
  c.on_workers(ws({"a", "b"}), t0);
  const TimePoint p = t0 + Millis(3000);
  settle(c, c.on_timer(p), p);
  c.on_partitions(numbered_partitions(12), p + Millis(10), /*bypass_cooldown=*/true);
  EXPECT_EQ(c.reason(), RebalanceReason::PartitionsChanged);
  auto out = c.on_timer(p + Millis(10));
  ASSERT_TRUE(out.publish);
  EXPECT_EQ(out.publish->partitions.size(), 12u);
}

TEST_F(CalculatorTest, UnchangedTopologyPublishesNothing) {
  Calculator c(cfg(), *strategy);
  c.begin({}, numbered_partitions(10), t0);
  c.on_workers(ws({"a", "b"}), t0);
  settle(c, c.on_timer(t0 + Millis(3000)), t0 + Millis(3000));
  for (int i = 1; i <= 10; ++i) {
    EXPECT_FALSE(c.on_workers(ws({"a", "b"}), t0 + Millis(3000 + i * 1000)).publish);
    EXPECT_FALSE(c.on_timer(t0 + Millis(3000 + i * 1000)).publish);
  }
  EXPECT_EQ(c.published().version, 1u);
}

TEST_F(CalculatorTest, NewLeaderAdoptsPublishedAssignmentWithoutRepublishing) {
  Calculator first(cfg(), *strategy);
  first.begin({}, numbered_partitions(10), t0);
  first.on_workers(ws({"a", "b", "c"}), t0);
  auto out = first.on_timer(t0 + Millis(3000));
  ASSERT_TRUE(out.publish);
  Calculator second(cfg(), *strategy);
  second.begin(*out.publish, numbered_partitions(10), t0 + Millis(5000));
  EXPECT_FALSE(second.on_workers(ws({"a", "b", "c"}), t0 + Millis(5000)).publish);
  EXPECT_EQ(second.state(), CalcState::Idle);
}

TEST_F(CalculatorTest, FailedPublishIsRetried) {
  Calculator c(cfg(), *strategy);
  c.begin({}, numbered_partitions(10), t0);
  c.on_workers(ws({"a"}), t0);
  ASSERT_TRUE(c.on_timer(t0 + Millis(3000)).publish);
  c.on_publish_failed(t0 + Millis(3001));
  ASSERT_TRUE(c.next_deadline());
  auto again = c.on_timer(*c.next_deadline());
  ASSERT_TRUE(again.publish);
  EXPECT_EQ(again.publish->version, 1u);
}

// The resize guard: a join due while a worker still copies data for the
// last change waits until it is done, then goes at once.
TEST_F(CalculatorTest, APlannedScaleWaitsWhileDataMovesAndGoesWhenItStops) {
  Calculator c(cfg(), *strategy);
  c.begin({}, numbered_partitions(10), t0);
  c.on_workers(ws({"a", "b"}), t0);
  settle(c, c.on_timer(t0 + Millis(3000)), t0 + Millis(3000));
  const TimePoint t1 = t0 + Millis(10000);
  c.on_workers(ws_moving({"a", "b", "c"}, {"b"}), t1);
  EXPECT_FALSE(c.on_timer(t1 + Millis(1000)).publish);  // window over, b still copying
  EXPECT_EQ(c.state(), CalcState::Scaling);
  EXPECT_EQ(c.reason(), RebalanceReason::PlannedScale);
  EXPECT_EQ(c.next_deadline(), t1 + Millis(21000));  // held at most resize_hold_max
  EXPECT_FALSE(c.on_workers(ws_moving({"a", "b", "c"}, {"a", "b"}), t1 + Millis(5000)).publish);
  auto out = c.on_workers(ws({"a", "b", "c"}), t1 + Millis(7000));
  ASSERT_TRUE(out.publish);
  EXPECT_EQ(out.publish->workers.size(), 3u);
  settle(c, out, t1 + Millis(7000));
  EXPECT_EQ(c.state(), CalcState::Idle);
}

TEST_F(CalculatorTest, APlannedScaleHeldLongerThanTheLimitGoesAnyway) {
  Calculator c(cfg(), *strategy);
  c.begin({}, numbered_partitions(10), t0);
  c.on_workers(ws({"a", "b"}), t0);
  settle(c, c.on_timer(t0 + Millis(3000)), t0 + Millis(3000));
  const TimePoint t1 = t0 + Millis(10000);
  c.on_workers(ws_moving({"a", "b", "c"}, {"a"}), t1);
  EXPECT_FALSE(c.on_timer(t1 + Millis(1000)).publish);
  EXPECT_FALSE(c.on_timer(t1 + Millis(20999)).publish);
  auto out = c.on_timer(t1 + Millis(21000));
  ASSERT_TRUE(out.publish);
  EXPECT_EQ(out.publish->workers.size(), 3u);
}

TEST_F(CalculatorTest, AnEmergencyIsNeverHeldByMovingData) {
  Calculator c(cfg(), *strategy);
  c.begin({}, numbered_partitions(10), t0);
  c.on_workers(ws({"a", "b", "c"}), t0);
  settle(c, c.on_timer(t0 + Millis(3000)), t0 + Millis(3000));
  const TimePoint t1 = t0 + Millis(10000);
  c.on_workers(ws_moving({"a", "b"}, {"a", "b"}), t1);
  auto out = c.on_timer(t1 + Millis(500));
  ASSERT_TRUE(out.publish);
  EXPECT_EQ(c.state(), CalcState::Emergency);
  EXPECT_EQ(out.publish->workers, (std::vector<std::string>{"a", "b"}));
}

TEST_F(CalculatorTest, ARefreshIsNeverHeldButAPartitionChangeWithoutOneIs) {
  Calculator c(cfg(), *strategy);
  c.begin({}, numbered_partitions(10), t0);
  c.on_workers(ws({"a", "b"}), t0);
  const TimePoint p = t0 + Millis(3000);
  settle(c, c.on_timer(p), p);
  c.on_workers(ws_moving({"a", "b"}, {"b"}), p + Millis(5000));
  c.on_partitions(numbered_partitions(11), p + Millis(5000), /*bypass_cooldown=*/false);
  EXPECT_FALSE(c.on_timer(p + Millis(5000)).publish);
  EXPECT_EQ(c.reason(), RebalanceReason::PartitionsChanged);
  c.on_partitions(numbered_partitions(12), p + Millis(6000), /*bypass_cooldown=*/true);
  auto out = c.on_timer(p + Millis(6000));
  ASSERT_TRUE(out.publish);
  EXPECT_EQ(out.publish->partitions.size(), 12u);
}

TEST_F(CalculatorTest, AZeroHoldLimitTurnsTheGuardOff) {
  CalculatorConfig config = cfg();
  config.resize_hold_max = Millis(0);
  Calculator c(config, *strategy);
  c.begin({}, numbered_partitions(10), t0);
  c.on_workers(ws({"a", "b"}), t0);
  settle(c, c.on_timer(t0 + Millis(3000)), t0 + Millis(3000));
  const TimePoint t1 = t0 + Millis(10000);
  c.on_workers(ws_moving({"a", "b", "c"}, {"a"}), t1);
  EXPECT_TRUE(c.on_timer(t1 + Millis(1000)).publish);
}

}  // namespace parti
