#include "parti/manager/buckets.h"
#include <algorithm>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "parti/core/types.h"

namespace parti {

using coord::BucketOptions;
using coord::KvBucket;
using coord::KvErrc;

coord::KvResult<Buckets> Buckets::open(std::shared_ptr<coord::Connection> conn, const Config& cfg) {
  const Timings& t = cfg.timings;
  const std::string& p = cfg.bucket_prefix;
  const int r = static_cast<int>(cfg.kv_replicas);
  Buckets b;
  struct Spec {
    std::shared_ptr<KvBucket>* slot;
    BucketOptions options;
    const char* timing;  // the setting the bucket's TTL is, if any
    TtlRule rule;
  };
  // A worker judges others' heartbeats and leases by its own TTLs, so those
  // must be the cluster's. An ID bucket keeping claims longer than a worker's
  // id_ttl only keeps a dead worker's ID claimed longer: its claims still
  // outlive their renewals.
  const Spec specs[] = {
      {&b.stable_id, {p + "stableid", t.id_ttl, 1, r}, "id_ttl", TtlRule::NotShorter},
      {&b.election, {p + "election", t.election_ttl, 1, r}, "election_ttl", TtlRule::Same},
      {&b.heartbeat, {p + "heartbeat", t.heartbeat_ttl, 1, r}, "heartbeat_ttl", TtlRule::Same},
      {&b.assignment, {p + "assignment", Millis(0), 1, r}, nullptr, TtlRule::Same},
      {&b.cluster, {p + "cluster", Millis(0), 1, r}, nullptr, TtlRule::Same},
  };
  for (const auto& s : specs) {
    auto r = KvBucket::open_or_create(conn, s.options);
    if (!r.ok()) return {r.status, {}};
    if (s.timing != nullptr) {
      auto fits = check_bucket_ttl(*r.value, s.options.ttl, s.timing, s.rule);
      if (!fits.ok()) return {fits, {}};
    }
    *s.slot = std::move(r.value);
  }
  return {{}, std::move(b)};
}

// A bucket's TTL is fixed by whoever created it, and nothing else would
// tell a worker that its own differs: a heartbeat bucket that keeps values
// shorter than a worker's put interval, say, makes that worker vanish between
// puts and come back, over and over. So a misfit ends the start, naming both.
coord::KvStatus check_bucket_ttl(const KvBucket& bucket, Millis wanted, const char* timing,
                                 TtlRule rule) {
  auto ttl = bucket.ttl();
  if (!ttl.ok()) return ttl.status;
  if (ttl.value == wanted || (rule == TtlRule::NotShorter && ttl.value > wanted)) return {};
  return {KvErrc::Other,
          fmt::format("bucket {} keeps values {} ms, but this worker's {} is {} ms: every "
                      "worker of a cluster needs the timings the first one created the "
                      "bucket with",
                      bucket.name(), ttl.value.count(), timing, wanted.count())};
}

coord::KvStatus ensure_cluster_config(KvBucket& cluster, uint32_t replication_factor,
                                      const std::string& strategy,
                                      const std::map<std::string, std::string>& extra) {
  nlohmann::json mine = {{"replication_factor", replication_factor}, {"strategy", strategy}};
  for (const auto& [k, v] : extra) mine[k] = v;
  nlohmann::json value = mine;
  value["created_ms"] = wall_clock_ms();
  auto created = cluster.create("config", value.dump());
  if (created.ok()) return {};
  if (created.status.code != KvErrc::Exists) return created.status;
  auto existing = cluster.get("config");
  if (!existing.ok()) return existing.status;
  try {
    auto j = nlohmann::json::parse(existing.value.value);
    const bool differs = std::any_of(mine.items().begin(), mine.items().end(), [&](const auto& kv) {
      return j.value(kv.key(), nlohmann::json()) != kv.value();
    });
    if (differs) {
      j.erase("created_ms");
      return {KvErrc::Other,
              "cluster was created with " + j.dump() + ", this worker has " + mine.dump()};
    }
  } catch (const std::exception& e) {
    return {KvErrc::Other, std::string("malformed cluster config: ") + e.what()};
  }
  return {};
}

}  // namespace parti
