#include <gtest/gtest.h>

#include <map>

#include "parti/assignment/assignment_store.h"
#include "parti/coord/kv_bucket.h"
#include "parti/election/leader_election.h"
#include "parti/identity/stable_id.h"
#include "parti/manager/buckets.h"
#include "parti/source/partition_source.h"
#include "support/cluster.h"
#include "support/wait.h"

namespace parti {
using namespace parti::testing;
using coord::KvErrc;

class KvTest : public ::testing::Test {
 protected:
  std::shared_ptr<coord::KvBucket> bucket(const std::string& name, Millis ttl = Millis(0)) {
    auto r = coord::KvBucket::open_or_create(conn, {name, ttl, 1});
    EXPECT_TRUE(r.ok()) << r.status.message;
    return r.value;
  }
  NatsServer server;
  std::shared_ptr<coord::Connection> conn = connect(server);
};

TEST_F(KvTest, CreateUpdateAndCasDeleteAreFenced) {
  auto b = bucket("t1");
  auto c = b->create("k", "v1");
  ASSERT_TRUE(c.ok()) << c.status.message;
  EXPECT_EQ(b->create("k", "v2").status.code, KvErrc::Exists);
  auto u = b->update("k", "v2", c.value);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(b->update("k", "v3", c.value).status.code, KvErrc::WrongRevision);
  EXPECT_EQ(b->erase_if_revision("k", c.value).code, KvErrc::WrongRevision);
  EXPECT_EQ(b->get("k").value.value, "v2");
  EXPECT_TRUE(b->erase_if_revision("k", u.value).ok());
  EXPECT_EQ(b->get("k").status.code, KvErrc::NotFound);
  EXPECT_TRUE(b->create("k", "again").ok());  // create over a delete marker
}

TEST_F(KvTest, KeysAndEntriesListLiveKeysOnly) {
  auto b = bucket("t2");
  EXPECT_TRUE(b->keys().ok());
  EXPECT_TRUE(b->keys().value.empty());
  b->put("a", "1");
  b->put("b", "2");
  b->erase("a");
  auto e = b->entries();
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e.value.entries.size(), 1u);
  EXPECT_EQ(e.value.entries[0].key, "b");
  EXPECT_EQ(e.value.as_of, 3u);  // put a, put b, delete a
}

// kvStore_Keys can end its replay early while deliveries are in flight; our
// listing must see every key acknowledged before it, every time.
TEST_F(KvTest, ListingRightAfterWritesIsNeverPartial) {
  auto b = bucket("t3");
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(b->put("k" + std::to_string(i), "v").ok());
    auto keys = b->keys();
    ASSERT_TRUE(keys.ok());
    ASSERT_EQ(keys.value.size(), 10u) << "round " << round;
  }
}

TEST_F(KvTest, WatchSeesInitialValuesThenPutsAndDeletes) {
  auto b = bucket("t3");
  b->put("x", "1");
  auto w = b->watch(">");
  ASSERT_TRUE(w.ok());
  auto first = w.value->next(Millis(2000));
  ASSERT_EQ(first.kind, coord::WatchEvent::Kind::Entry);
  EXPECT_EQ(first.entry.value, "1");
  EXPECT_EQ(w.value->next(Millis(2000)).kind, coord::WatchEvent::Kind::InitialDone);
  b->put("y", "2");
  auto put = w.value->next(Millis(2000));
  EXPECT_EQ(put.entry.key, "y");
  b->erase("x");
  auto del = w.value->next(Millis(2000));
  EXPECT_EQ(del.entry.key, "x");
  EXPECT_TRUE(del.entry.deleted);
}

TEST_F(KvTest, StableIdClaimPrefersTheGivenIdOnlyWhileItIsFree) {
  auto b = bucket("ids-pref", Millis(5000));
  StableIdClaimer a(b, "node", 16, "ia"), c(b, "node", 16, "ic");
  ASSERT_TRUE(a.claim("node-7").ok());
  EXPECT_EQ(a.id(), "node-7");
  ASSERT_TRUE(c.claim("node-7").ok());
  EXPECT_EQ(c.id(), "node-0");  // taken: falls back to the lowest free ID
}

TEST_F(KvTest, ClusterConfigIsWrittenOnceAndAMismatchIsRefused) {
  auto b = bucket("cluster");
  EXPECT_TRUE(ensure_cluster_config(*b, 3, "ch", {{"partitions", "256"}}).ok());
  EXPECT_TRUE(ensure_cluster_config(*b, 3, "ch", {{"partitions", "256"}}).ok());
  auto other_p = ensure_cluster_config(*b, 3, "ch", {{"partitions", "64"}});
  EXPECT_FALSE(other_p.ok());
  EXPECT_NE(other_p.message.find("partitions"), std::string::npos) << other_p.message;
  EXPECT_FALSE(ensure_cluster_config(*b, 1, "ch", {{"partitions", "256"}}).ok());
}

TEST_F(KvTest, ABucketsTtlIsCheckedAgainstTheWorkersTiming) {
  auto b = bucket("beats", Millis(5000));
  auto opened_again = bucket("beats", Millis(600));  // another worker's options
  auto ttl = opened_again->ttl();
  ASSERT_TRUE(ttl.ok()) << ttl.status.message;
  EXPECT_EQ(ttl.value, Millis(5000));  // the creator's
  EXPECT_TRUE(check_bucket_ttl(*b, Millis(5000), "heartbeat_ttl", TtlRule::Same).ok());
  auto shorter = check_bucket_ttl(*b, Millis(600), "heartbeat_ttl", TtlRule::Same);
  EXPECT_EQ(shorter.code, KvErrc::Other);
  EXPECT_NE(shorter.message.find("keeps values 5000 ms, but this worker's heartbeat_ttl is 600 ms"),
            std::string::npos)
      << shorter.message;
  EXPECT_FALSE(check_bucket_ttl(*b, Millis(9000), "heartbeat_ttl", TtlRule::Same).ok());
  EXPECT_TRUE(check_bucket_ttl(*b, Millis(600), "id_ttl", TtlRule::NotShorter).ok());
  EXPECT_FALSE(check_bucket_ttl(*b, Millis(9000), "id_ttl", TtlRule::NotShorter).ok());
}

TEST_F(KvTest, StableIdsAreDistinctAndRenewalDetectsTheft) {
  auto b = bucket("ids", Millis(5000));
  StableIdClaimer a(b, "node", 16, "ia"), c(b, "node", 16, "ic");
  ASSERT_TRUE(a.claim().ok());
  ASSERT_TRUE(c.claim().ok());
  EXPECT_EQ(a.id(), "node-0");
  EXPECT_EQ(c.id(), "node-1");
  EXPECT_TRUE(a.renew().ok());
  b->put("node-0", "someone else");  // the claim was overwritten behind our back
  auto st = a.renew();
  EXPECT_EQ(st.code, KvErrc::WrongRevision);
  EXPECT_FALSE(a.holds());
  EXPECT_TRUE(c.release().ok());
  StableIdClaimer d(b, "node", 16, "id");
  ASSERT_TRUE(d.claim().ok());
  EXPECT_EQ(d.id(), "node-1");  // lowest free ID again
}

TEST_F(KvTest, AnIdThatWasEverUsedGoesOnlyToWhoeverAsksForItByName) {
  auto ids = bucket("ids-nr", Millis(5000));
  auto history = bucket("ids-nr-history");
  auto claimer = [&](const std::string& instance) {
    auto c = std::make_unique<StableIdClaimer>(ids, "node", 16, instance);
    c->never_reuse(history);
    return c;
  };
  auto a = claimer("ia"), b = claimer("ib");
  ASSERT_TRUE(a->claim().ok());
  ASSERT_TRUE(b->claim().ok());
  EXPECT_EQ(a->id(), "node-0");
  EXPECT_EQ(b->id(), "node-1");
  ASSERT_TRUE(a->release().ok());  // node-0 is free again, as a lapsed claim would be
  auto fresh = claimer("ic");
  ASSERT_TRUE(fresh->claim().ok());
  EXPECT_EQ(fresh->id(), "node-2");  // not the free node-0: someone else's data follows it
  auto returning = claimer("id");
  ASSERT_TRUE(returning->claim("node-0").ok());
  EXPECT_EQ(returning->id(), "node-0");  // its own ID, asked for by name
  // An ID held from before never_reuse was on is not handed out either.
  ASSERT_TRUE(ids->create("node-9", "{}").ok());
  auto after_legacy = claimer("ie");
  ASSERT_TRUE(after_legacy->claim().ok());
  EXPECT_EQ(after_legacy->id(), "node-10");
  EXPECT_TRUE(history->get("used-id.node-10").ok());
}

TEST_F(KvTest, RenewalThatLandedDespiteATimeoutKeepsTheId) {
  auto b = bucket("ids3", Millis(5000));
  StableIdClaimer a(b, "node", 4, "ia");
  ASSERT_TRUE(a.claim().ok());
  // Our own write landed but we never learned its revision (a timed-out reply).
  auto current = b->get("node-0");
  ASSERT_TRUE(b->update("node-0", current.value.value, current.value.revision).ok());
  EXPECT_TRUE(a.renew().ok());
  EXPECT_TRUE(a.holds());
  EXPECT_TRUE(a.renew().ok());
}

TEST_F(KvTest, LeaseRenewalThatLandedDespiteATimeoutKeepsLeadership) {
  auto b = bucket("el3", Millis(5000));
  LeaderElection x(b, "node-0", "i0");
  ASSERT_TRUE(x.try_acquire().ok());
  auto current = b->get("leader");
  ASSERT_TRUE(b->update("leader", current.value.value, current.value.revision).ok());
  EXPECT_TRUE(x.renew().ok());
  EXPECT_TRUE(x.is_leader());
}

TEST_F(KvTest, RepublishingAnAssignmentThatAlreadyLandedSucceedsButAStaleOneFails) {
  AssignmentStore store(bucket("asg"), 64);  // tiny chunks: several per assignment
  Assignment a;
  a.version = 1;
  a.leader_term = 7;
  a.workers = {"node-0"};
  a.partitions = numbered_partitions(20);
  a.replicas.assign(20, {0});
  auto first = store.publish(a, 0);
  ASSERT_TRUE(first.ok()) << first.status.message;
  a.version = 2;
  auto second = store.publish(a, first.value);
  ASSERT_TRUE(second.ok());
  // The reply to `second` was lost; the leader retries with the old revision.
  auto retry = store.publish(a, first.value);
  EXPECT_TRUE(retry.ok());
  EXPECT_EQ(retry.value, second.value);
  // A different assignment on a stale revision is a real conflict.
  a.version = 3;
  EXPECT_EQ(store.publish(a, first.value).status.code, KvErrc::WrongRevision);
  uint64_t rev = 0;
  auto read = store.read(&rev);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read.value.version, 2u);
}

TEST_F(KvTest, StableIdClaimExpiresWithoutRenewal) {
  auto b = bucket("ids2", Millis(1000));
  StableIdClaimer a(b, "node", 4, "ia");
  ASSERT_TRUE(a.claim().ok());
  // The server ages the claim out; a new claimer then gets the same ID.
  StableIdClaimer c(b, "node", 1, "ic");
  EXPECT_TRUE(wait_until([&] { return c.claim().ok(); }, Millis(5000)));
  EXPECT_EQ(c.id(), "node-0");
  EXPECT_FALSE(a.renew().ok());
}

// Creates of a key that is lapsing (its bucket's TTL) answer Exists until
// one succeeds: never an error that says nothing (nats.c loses its text
// when the key lapses inside one create; KvBucket::create reads the key again).
TEST_F(KvTest, CreatesAcrossAKeysLapseAnswerExistsUntilOneSucceeds) {
  auto b = bucket("lapsing", Millis(1000));
  ASSERT_TRUE(b->create("k", "first").ok());
  std::map<KvErrc, int> answers;
  const bool created = wait_until(
      [&] {
        const auto r = b->create("k", "second");
        ++answers[r.status.code];
        return r.ok();
      },
      Millis(10000));
  ASSERT_TRUE(created);
  EXPECT_EQ(b->get("k").value.value, "second");
  for (const auto& [code, count] : answers) {
    EXPECT_TRUE(code == KvErrc::Exists || code == KvErrc::Ok) << count << " x " << to_string(code);
  }
}

TEST_F(KvTest, ElectionHasOneLeaderAndTermsGrow) {
  auto b = bucket("el", Millis(1000));
  LeaderElection x(b, "node-0", "i0"), y(b, "node-1", "i1");
  ASSERT_TRUE(x.try_acquire().ok());
  EXPECT_EQ(y.try_acquire().code, KvErrc::Exists);
  EXPECT_TRUE(x.renew().ok());
  auto cur = x.current();
  ASSERT_TRUE(cur.ok());
  EXPECT_EQ(cur.value.id, "node-0");
  EXPECT_EQ(cur.value.term, x.term());
  const uint64_t first_term = x.term();
  ASSERT_TRUE(x.release().ok());
  ASSERT_TRUE(y.try_acquire().ok());
  EXPECT_GT(y.term(), first_term);
  EXPECT_FALSE(x.renew().ok());
}

// Our own view can drop a member before the server expires its heartbeat:
// the takeover then waits for the server, and says so, so the caller retries
// soon instead of at its usual pace (nothing else will tell it).
TEST_F(KvTest, ADepartedHoldersLeaseIsTakenOverOnlyOnceTheServerDroppedItsHeartbeat) {
  auto leases = bucket("el3", Millis(30000));
  auto heartbeats = bucket("hb3", Millis(30000));
  ASSERT_TRUE(heartbeats->put("node-0", "{}").ok());
  LeaderElection x(leases, "node-0", "i0", heartbeats), y(leases, "node-1", "i1", heartbeats);
  ASSERT_TRUE(x.try_acquire().ok());

  EXPECT_EQ(y.try_acquire().code, KvErrc::Exists);  // not departed in y's view
  EXPECT_FALSE(y.holder_departing());
  EXPECT_EQ(y.try_acquire({"node-0"}).code, KvErrc::Exists);  // the server still has it
  EXPECT_TRUE(y.holder_departing());

  ASSERT_TRUE(heartbeats->erase("node-0").ok());
  ASSERT_TRUE(y.try_acquire({"node-0"}).ok());
  EXPECT_FALSE(y.holder_departing());
  EXPECT_GT(y.term(), x.term());
  EXPECT_FALSE(x.renew().ok());
}

TEST_F(KvTest, LeaseExpiresWhenTheLeaderStopsRenewing) {
  auto b = bucket("el2", Millis(1000));
  LeaderElection x(b, "node-0", "i0"), y(b, "node-1", "i1");
  ASSERT_TRUE(x.try_acquire().ok());
  const auto t0 = Clock::now();
  ASSERT_TRUE(wait_until([&] { return y.try_acquire().ok(); }, Millis(5000)));
  EXPECT_LT(Clock::now() - t0, Millis(3000));  // within TTL plus the server's expiry tick
  EXPECT_EQ(x.renew().code, KvErrc::WrongRevision);
}

}  // namespace parti
