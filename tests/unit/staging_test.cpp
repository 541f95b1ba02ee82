// Staged replica moves: each step replaces at most a minority of a
// partition's replicas and keeps its leader among the replicas it had, and
// repeated steps reach the placement; and the calculator publishes the steps
// one after another under the cooldown and the resize guard.
#include "parti/assignment/staging.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <random>
#include <set>

#include "parti/assignment/calculator.h"
#include "parti/source/partition_source.h"

namespace parti {
namespace {

using V = std::vector<uint32_t>;

size_t arriving(const V& old, const V& next) {
  return static_cast<size_t>(std::count_if(next.begin(), next.end(), [&](uint32_t w) {
    return std::find(old.begin(), old.end(), w) == old.end();
  }));
}

bool leader_had_it(const V& old, const V& next) {
  return std::find(old.begin(), old.end(), next.front()) != old.end();
}

// Steps from `old` until `target`, checking every step keeps a quorum.
size_t steps_to(V old, const V& target) {
  size_t steps = 0;
  while (old != target) {
    V next = stage_replicas(old, target);
    EXPECT_NE(next, old) << "no progress";
    if (next == old) return steps;
    EXPECT_EQ(next.size(), target.size());
    EXPECT_EQ(std::set<uint32_t>(next.begin(), next.end()).size(), next.size()) << "duplicates";
    EXPECT_LE(arriving(old, next), (old.size() - 1) / 2);
    EXPECT_TRUE(leader_had_it(old, next));
    old = next;
    ++steps;
  }
  return steps;
}

TEST(StageReplicas, AMoveThatKeepsAQuorumAndItsLeaderGoesInOneStep) {
  EXPECT_EQ(stage_replicas({0, 1, 2}, {0, 1, 3}), (V{0, 1, 3}));
  EXPECT_EQ(stage_replicas({0, 1, 2}, {1, 3, 0}), (V{1, 3, 0}));
  EXPECT_EQ(stage_replicas({0, 1, 2}, {2, 0, 1}), (V{2, 0, 1}));  // leadership only
}

TEST(StageReplicas, ReplacingTwoOfThreeTakesTwoStepsEachKeepingAQuorum) {
  const V first = stage_replicas({0, 1, 2}, {3, 4, 0});
  EXPECT_EQ(first, (V{0, 3, 1}));  // the leader stays, one arrives, one of the leaving stays
  EXPECT_EQ(steps_to({0, 1, 2}, {3, 4, 0}), 2u);
  EXPECT_EQ(steps_to({0, 1, 2}, {3, 4, 5}), 3u);
}

TEST(StageReplicas, ANewLeaderThatHoldsNothingJoinsFirstAndLeadsInTheNextStep) {
  const V first = stage_replicas({0, 1, 2}, {3, 0, 1});
  EXPECT_EQ(first.front(), 0u);
  EXPECT_EQ(std::set<uint32_t>(first.begin(), first.end()), (std::set<uint32_t>{0, 1, 3}));
  EXPECT_EQ(stage_replicas(first, {3, 0, 1}), (V{3, 0, 1}));
}

TEST(StageReplicas, ALeavingLeaderHandsOverToOneThatStaysToMakeRoom) {
  // 2 leaves, 3 arrives and is to lead: 1 (it stays) leads while 3 arrives.
  EXPECT_EQ(stage_replicas({2, 1, 0}, {3, 1, 0}), (V{1, 0, 3}));
  EXPECT_EQ(steps_to({2, 1, 0}, {3, 1, 0}), 2u);
  EXPECT_EQ(steps_to({2, 1, 0}, {3, 4, 0}), 2u);
  EXPECT_EQ(steps_to({2, 1, 0}, {3, 4, 5}), 3u);
}

TEST(StageReplicas, FiveReplicasAdmitTwoAtATime) {
  EXPECT_EQ(arriving({0, 1, 2, 3, 4}, stage_replicas({0, 1, 2, 3, 4}, {5, 6, 7, 8, 9})), 2u);
  EXPECT_EQ(steps_to({0, 1, 2, 3, 4}, {5, 6, 7, 8, 9}), 3u);
  EXPECT_EQ(steps_to({0, 1, 2, 3, 4}, {0, 1, 2, 5, 6}), 1u);
}

// Every move between two sets of 3 (and of 5) of 8 workers, in steps that
// each keep a quorum and a leader that had the data, ends at the target.
TEST(StageReplicas, AnyMoveReachesItsTargetInStepsThatKeepAQuorum) {
  std::mt19937 rng(20261203);
  for (size_t rf : {3u, 5u}) {
    for (int trial = 0; trial < 2000; ++trial) {
      V workers{0, 1, 2, 3, 4, 5, 6, 7};
      std::shuffle(workers.begin(), workers.end(), rng);
      const V old(workers.begin(), workers.begin() + rf);
      std::shuffle(workers.begin(), workers.end(), rng);
      const V target(workers.begin(), workers.begin() + rf);
      const size_t steps = steps_to(old, target);
      EXPECT_LE(steps, rf) << "trial " << trial;
      if (HasFailure()) return;
    }
  }
}

TEST(StageReplicas, OneOrTwoReplicasAreNeverStaged) {
  EXPECT_EQ(stage_replicas({0}, {1}), (V{1}));
  EXPECT_EQ(stage_replicas({0, 1}, {2, 3}), (V{2, 3}));
  EXPECT_EQ(stage_replicas({0, 1}, {2, 3, 4}), (V{2, 3, 4}));  // RF 3 reached by growing
}

Assignment assignment(uint64_t version, std::vector<std::string> workers, std::vector<V> replicas) {
  Assignment a;
  a.version = version;
  a.replication_factor = static_cast<uint32_t>(replicas.front().size());
  a.workers = std::move(workers);
  a.partitions = numbered_partitions(replicas.size());
  a.replicas = std::move(replicas);
  return a;
}

TEST(StageMoves, HoldsOnlyPartitionsWhoseReplicasAreAllStillWorkers) {
  const Assignment previous = assignment(1, {"a", "b", "c", "d"}, {{0, 1, 2}, {0, 1, 3}});
  // "d" left: partition 1 moves in one step; partition 0 is staged.
  Assignment next = assignment(2, {"a", "b", "c", "e", "f"}, {{3, 4, 0}, {3, 4, 0}});
  EXPECT_TRUE(stage_moves(next, previous));
  EXPECT_EQ(next.replicas[0].front(), 0u);
  EXPECT_EQ(arriving({0, 1, 2}, next.replicas[0]), 1u);
  EXPECT_EQ(next.replicas[1], (V{3, 4, 0}));
}

TEST(StageMoves, NewPartitionsAndMovesThatKeepAQuorumAreLeftAlone) {
  const Assignment previous = assignment(1, {"a", "b", "c", "d"}, {{0, 1, 2}});
  Assignment next = assignment(2, {"a", "b", "c", "d"}, {{0, 1, 3}, {3, 2, 1}});
  const auto placed = next.replicas;
  EXPECT_FALSE(stage_moves(next, previous));
  EXPECT_EQ(next.replicas, placed);
}

TEST(StageMoves, SinceIsStampedForTheStepNotThePlacement) {
  Assignment previous = assignment(1, {"a", "b", "c", "d", "e"}, {{0, 1, 2}, {0, 1, 2}});
  previous.since = {1, 1};
  Assignment next = assignment(2, {"a", "b", "c", "d", "e"}, {{0, 1, 2}, {3, 4, 0}});
  next.stamp_since(&previous);
  ASSERT_TRUE(stage_moves(next, previous));
  EXPECT_EQ(next.since, (std::vector<uint64_t>{1, 2}));
}

// "c" was lost and "d" came in its place (an empty disk under a new id):
// "d" leads nothing it does not hold while a replica that holds it stays.
// Workers `ids`; `avoiding` ask not to lead; `importing[id]`: partitions it takes in.
std::vector<WorkerInfo> workers(std::vector<std::string> ids, std::set<std::string> avoiding = {},
                                std::map<std::string, std::set<uint32_t>> importing = {}) {
  std::vector<WorkerInfo> out;
  for (auto& id : ids) {
    WorkerInfo w;
    w.id = id;
    w.avoid_leading = avoiding.contains(id);
    w.importing = importing[id];
    out.push_back(w);
  }
  return out;
}

TEST(KeepLeadersWithData, AnArrivalDoesNotLeadWhileAReplicaThatHadThePartitionIsListed) {
  const Assignment previous = assignment(1, {"a", "b", "c"}, {{0, 1, 2}, {2, 0, 1}, {1, 2, 0}});
  Assignment next = assignment(2, {"a", "b", "d"}, {{2, 0, 1}, {0, 2, 1}, {2, 1, 0}});
  EXPECT_TRUE(keep_leaders_with_data(next, previous, workers({"a", "b", "d"})));
  EXPECT_EQ(next.replicas, (std::vector<V>{{0, 2, 1}, {0, 2, 1}, {1, 2, 0}}));
}

TEST(KeepLeadersWithData, AHolderThatAsksNotToLeadIsPassedOver) {
  const Assignment previous = assignment(1, {"a", "b"}, {{0, 1}});
  Assignment next = assignment(2, {"a", "b", "c"}, {{2, 0, 1}});
  EXPECT_TRUE(keep_leaders_with_data(next, previous, workers({"a", "b", "c"}, {"a"})));
  EXPECT_EQ(next.replicas.front(), (V{1, 2, 0}));
  next = assignment(2, {"a", "b", "c"}, {{2, 0}});
  EXPECT_FALSE(keep_leaders_with_data(next, previous, workers({"a", "b", "c"}, {"a"})))
      << "no holder may lead";
  EXPECT_EQ(next.replicas.front(), (V{2, 0}));
}

// Listed before is not enough: a replica still taking the partition in
// (a new disk being rebuilt) holds none of it yet.
TEST(KeepLeadersWithData, AReplicaStillTakingThePartitionInDoesNotLeadIt) {
  const Assignment previous = assignment(1, {"a", "b", "d"}, {{0, 1, 2}, {0, 1, 2}});
  Assignment next = assignment(2, {"a", "b", "d"}, {{2, 0, 1}, {2, 0, 1}});
  EXPECT_TRUE(keep_leaders_with_data(next, previous, workers({"a", "b", "d"}, {}, {{"d", {1}}})));
  EXPECT_EQ(next.replicas, (std::vector<V>{{2, 0, 1}, {0, 1, 2}}))
      << "held back, a partition keeps the list it had";
  next = assignment(2, {"a", "b", "d"}, {{2, 0, 1}});
  EXPECT_FALSE(keep_leaders_with_data(
      next, previous, workers({"a", "b", "d"}, {}, {{"a", {0}}, {"b", {0}}, {"d", {0}}})))
      << "every replica takes it in: the leader stays";
}

TEST(KeepLeadersWithData, NewPartitionsAndListsWithNoHolderKeepTheirLeader) {
  const Assignment previous = assignment(1, {"a", "b"}, {{0}});
  Assignment next = assignment(2, {"a", "b", "c"}, {{2}, {2}});
  EXPECT_FALSE(keep_leaders_with_data(next, previous, workers({"a", "b", "c"})));
  EXPECT_EQ(next.replicas, (std::vector<V>{{2}, {2}}));
}

TEST(KeepLeadersWithData, SinceIsStampedForTheLeaderThatStays) {
  Assignment previous = assignment(1, {"a", "b", "c"}, {{0, 1}, {1, 0}});
  previous.since = {1, 1};
  Assignment next = assignment(2, {"a", "b", "c"}, {{2, 0}, {1, 0}});
  next.stamp_since(&previous);
  ASSERT_TRUE(keep_leaders_with_data(next, previous, workers({"a", "b", "c"})));
  EXPECT_EQ(next.since, (std::vector<uint64_t>{2, 1}));
}

class StagedCalculatorTest : public ::testing::Test {
 protected:
  CalculatorConfig cfg() {
    CalculatorConfig c;
    c.cold_start_window = Millis(3000);
    c.planned_scale_window = Millis(1000);
    c.cooldown = Millis(2000);
    c.resize_hold_max = Millis(20000);
    c.replication_factor = 3;
    return c;
  }
  std::vector<WorkerInfo> ws(size_t n, std::set<std::string> moving = {}) {
    std::vector<WorkerInfo> out;
    for (size_t i = 0; i < n; ++i) {
      WorkerInfo w{"w" + std::to_string(i), 1, 0, {}};
      w.moving_data = moving.contains(w.id);
      out.push_back(w);
    }
    return out;
  }
  // `c` begins with `partitions` partitions and `n` workers and publishes
  // its cold start at t0 + 3 s: what it published.
  Assignment cold_start(Calculator& c, size_t n, size_t partitions) {
    c.begin({}, numbered_partitions(partitions), t0);
    c.on_workers(ws(n), t0);
    auto out = c.on_timer(t0 + Millis(3000));
    if (!out.publish) {
      ADD_FAILURE() << "nothing published at the cold start";
      return {};
    }
    c.on_published(*out.publish, t0 + Millis(3000));
    return *out.publish;
  }
  // Three workers placed and published, then two more join: what `c` does
  // once the scale window has passed (at t0 + 11 s).
  CalcOutput grow_three_to_five(Calculator& c) {
    cold_start(c, 3, 64);
    c.on_workers(ws(5), t0 + Millis(10000));
    return c.on_timer(t0 + Millis(11000));
  }
  std::unique_ptr<Strategy> strategy = make_rendezvous();
  TimePoint t0 = TimePoint{} + std::chrono::hours(1);
};

// Per partition of `next`: how many replicas `previous` did not have, at most.
size_t most_arriving(const Assignment& previous, const Assignment& next) {
  size_t most = 0;
  const auto before = previous.positions();
  for (size_t p = 0; p < next.partitions.size(); ++p) {
    const auto old = previous.replica_ids(before.at(next.partitions[p].id));
    size_t n = 0;
    for (const auto& id : next.replica_ids(p)) n += std::count(old.begin(), old.end(), id) ? 0 : 1;
    most = std::max(most, n);
    EXPECT_TRUE(std::count(old.begin(), old.end(), next.replica_ids(p).front())) << p;
  }
  return most;
}

TEST_F(StagedCalculatorTest, GrowingThreeToFivePublishesStepsUntilThePlacementUnderTheGuard) {
  Calculator c(cfg(), *strategy);
  Assignment published = cold_start(c, 3, 64);

  TimePoint now = t0 + Millis(10000);
  c.on_workers(ws(5), now);
  auto out = c.on_timer(now + Millis(1000));
  ASSERT_TRUE(out.publish);
  EXPECT_EQ(most_arriving(published, *out.publish), 1u);
  EXPECT_TRUE(out.publish->interim) << "a step short of the placement says so";
  now += Millis(1000);
  published = *out.publish;
  c.on_published(published, now);
  EXPECT_EQ(c.reason(), RebalanceReason::StagedMove);
  EXPECT_EQ(c.next_deadline(), now + Millis(2000));  // the cooldown

  // The next step waits while a new replica still takes its data.
  c.on_workers(ws(5, {"w3"}), now + Millis(100));
  out = c.on_timer(now + Millis(2000));
  EXPECT_FALSE(out.publish);
  EXPECT_EQ(out.held_by, std::vector<std::string>{"w3"});
  out = c.on_workers(ws(5), now + Millis(2500));
  ASSERT_TRUE(out.publish);
  EXPECT_EQ(most_arriving(published, *out.publish), 1u);
  now += Millis(2500);
  published = *out.publish;
  out = c.on_published(published, now);

  // Steps go on until the placement is reached; then nothing more.
  for (int step = 0; step < 5 && c.reason() == RebalanceReason::StagedMove; ++step) {
    now += Millis(2000);
    out = c.on_timer(now);
    if (!out.publish) break;
    EXPECT_EQ(most_arriving(published, *out.publish), 1u);
    published = *out.publish;
    c.on_published(published, now);
  }
  EXPECT_EQ(c.state(), CalcState::Idle);
  EXPECT_FALSE(published.interim) << "the last step is final";
  Assignment placement = build_assignment(*strategy, ws(5), numbered_partitions(64), 3, &published,
                                          published.version + 1);
  EXPECT_EQ(placement.replicas, published.replicas);
}

// A coordinator that takes over between two steps goes on with them; if the
// placement was already reached, it publishes it once more as final, so no
// reader waits for a step that never comes. Its inputs come in the leader
// role's order: whether it hears NATS, before the workers it sees.
TEST_F(StagedCalculatorTest, ANewCoordinatorFinishesAStagedMoveItFindsUnderWay) {
  Calculator first(cfg(), *strategy);
  auto out = grow_three_to_five(first);
  ASSERT_TRUE(out.publish && out.publish->interim);
  const Assignment step = *out.publish;  // published; then its coordinator goes away

  TimePoint now = t0 + Millis(20000);
  Calculator next(cfg(), *strategy);
  next.begin(step, numbered_partitions(64), now);
  EXPECT_FALSE(next.on_hearing(now - Millis(60000), now).publish);
  next.on_workers(ws(5), now);
  EXPECT_EQ(next.reason(), RebalanceReason::StagedMove);
  out = next.on_timer(now + Millis(2000));
  ASSERT_TRUE(out.publish) << "the next step, a cooldown after taking over";
  EXPECT_GT(out.publish->version, step.version);
  EXPECT_EQ(most_arriving(step, *out.publish), 1u);

  Assignment placement =
      build_assignment(*strategy, ws(5), numbered_partitions(64), 3, &step, step.version + 1);
  placement.interim = true;  // as if the last step had been mislabelled, or cut off
  Calculator last(cfg(), *strategy);
  last.begin(placement, numbered_partitions(64), now);
  last.on_hearing(now - Millis(60000), now);
  last.on_workers(ws(5), now);
  out = last.on_timer(now + Millis(2000));
  ASSERT_TRUE(out.publish) << "published again, as final";
  EXPECT_FALSE(out.publish->interim);
  EXPECT_EQ(out.publish->replicas, placement.replicas);
  last.on_published(*out.publish, now + Millis(2000));
  EXPECT_EQ(last.state(), CalcState::Idle);
}

// Who leads each partition.
std::vector<std::string> leaders(const Assignment& a) {
  std::vector<std::string> out;
  for (size_t p = 0; p < a.partitions.size(); ++p) out.push_back(a.replica_ids(p).front());
  return out;
}

// A node that lost its disk comes back under a new id while its old id is
// still listed: the emergency that drops the old id places the new one
// everywhere but makes it lead nothing; it leads its share in the next step,
// once it no longer takes data in.
TEST_F(StagedCalculatorTest, ANodeBackEmptyUnderANewIdLeadsOnlyOnceItHasTheData) {
  Calculator c(cfg(), *strategy);
  cold_start(c, 3, 30);

  auto rebuilt = ws(4, {"w3"});
  rebuilt.erase(rebuilt.begin() + 2);  // "w2" lost its disk and came back as "w3"
  TimePoint now = t0 + Millis(10000);
  c.on_workers(rebuilt, now);
  auto out = c.on_timer(now + Millis(1500));  // the emergency grace
  ASSERT_TRUE(out.publish);
  EXPECT_EQ(c.state(), CalcState::Emergency);
  const Assignment emergency = *out.publish;
  for (size_t p = 0; p < emergency.partitions.size(); ++p) {
    const auto ids = emergency.replica_ids(p);
    EXPECT_NE(std::find(ids.begin(), ids.end(), "w3"), ids.end()) << p;
    EXPECT_NE(ids.front(), "w3") << "partition " << p << " led by a replica that holds nothing";
  }
  EXPECT_TRUE(emergency.interim) << "a step follows, in which w3 may lead";
  now += Millis(1500);
  c.on_published(emergency, now);

  out = c.on_timer(now + Millis(2000));
  EXPECT_FALSE(out.publish) << "w3 still takes its data in";
  EXPECT_EQ(out.held_by, std::vector<std::string>{"w3"});
  // The guard gives up (resize_hold_max) while w3 still takes every
  // partition in: leadership may be evened out among the others, but w3
  // leads none of them yet, and once that is out, nothing more is published.
  for (uint32_t p = 0; p < 30; ++p) rebuilt.back().importing.insert(p);
  c.on_workers(rebuilt, now + Millis(2100));
  now += Millis(2000 + 20000);
  out = c.on_timer(now);
  if (out.publish) {
    const auto led = leaders(*out.publish);
    EXPECT_EQ(std::count(led.begin(), led.end(), "w3"), 0);
    EXPECT_TRUE(out.publish->interim);
    c.on_published(*out.publish, now);
    EXPECT_FALSE(c.on_timer(now + Millis(2000)).publish);  // the guard holds again
    now += Millis(2000 + 20000);
    out = c.on_timer(now);  // and gives up again
  }
  EXPECT_FALSE(out.publish) << "published again while every leader stays where it is";
  EXPECT_EQ(c.reason(), RebalanceReason::StagedMove);
  // The wait has no bound: the shell is told once who it waits for.
  EXPECT_EQ(out.leaders_wait_for, std::vector<std::string>{"w3"});

  rebuilt.back().moving_data = false;
  rebuilt.back().importing.clear();
  EXPECT_FALSE(c.on_workers(rebuilt, now + Millis(1000)).publish);
  out = c.on_timer(now + Millis(2000));  // the cooldown
  ASSERT_TRUE(out.publish);
  const auto led = leaders(*out.publish);
  EXPECT_EQ(std::count(led.begin(), led.end(), "w3"), 10);
  EXPECT_FALSE(out.publish->interim);
  EXPECT_EQ(out.publish->workers, emergency.workers);
}

TEST_F(StagedCalculatorTest, WithoutStagingTheMoveGoesInOneStep) {
  auto config = cfg();
  config.staged_moves = false;
  Calculator c(config, *strategy);
  auto out = grow_three_to_five(c);
  ASSERT_TRUE(out.publish);
  c.on_published(*out.publish, t0 + Millis(11000));
  EXPECT_EQ(c.state(), CalcState::Idle);
}

// Whatever step of a move a coordinator takes over, and in whichever order
// its first inputs come (whether it hears NATS, the workers, the partitions),
// it publishes steps until the placement and then one that is final: no
// interim step is ever the last word. Seeded sweep; each seed is reproducible.
TEST_F(StagedCalculatorTest, ACoordinatorTakingOverAnyStepInAnyInputOrderFinishesTheMove) {
  for (uint32_t seed = 0; seed < 200; ++seed) {
    std::mt19937 rng(seed);
    const size_t from = 3 + rng() % 3, to = from + 1 + rng() % 3;
    Calculator first(cfg(), *strategy);
    cold_start(first, from, 32);
    TimePoint now = t0 + Millis(10000);
    first.on_workers(ws(to), now);
    now += Millis(1000);
    auto out = first.on_timer(now);
    ASSERT_TRUE(out.publish && out.publish->interim) << "seed " << seed;
    Assignment published = *out.publish;
    first.on_published(published, now);
    for (size_t steps = rng() % 3; steps > 0; --steps) {  // the old coordinator goes on a while
      now += Millis(2000);
      out = first.on_timer(now);
      if (!out.publish) break;
      published = *out.publish;
      first.on_published(published, now);
    }
    if (!published.interim) continue;  // it finished before it went away

    now += Millis(500);
    Calculator next(cfg(), *strategy);
    next.begin(published, numbered_partitions(32), now);
    std::vector<std::function<CalcOutput()>> inputs = {
        [&] { return next.on_hearing(now - Millis(60000), now); },
        [&] { return next.on_workers(ws(to), now); },
        [&] { return next.on_partitions(numbered_partitions(32), now, false); }};
    std::shuffle(inputs.begin(), inputs.end(), rng);
    for (auto& input : inputs) {
      out = input();
      ASSERT_FALSE(out.publish) << "seed " << seed << ": a step before the cooldown";
    }
    for (int tick = 0; tick < 10 && published.interim; ++tick) {
      now += Millis(2000);
      out = next.on_timer(now);
      if (!out.publish) continue;
      EXPECT_LE(most_arriving(published, *out.publish), 1u) << "seed " << seed;
      published = *out.publish;
      next.on_published(published, now);
    }
    EXPECT_FALSE(published.interim)
        << "seed " << seed << ": the move stopped at v" << published.version;
    EXPECT_EQ(next.state(), CalcState::Idle) << "seed " << seed;
  }
}

}  // namespace
}  // namespace parti
