#include "parti/manager/buckets.h"
#include <algorithm>

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
  };
  const Spec specs[] = {
      {&b.stable_id, {p + "stableid", t.id_ttl, 1, r}},
      {&b.election, {p + "election", t.election_ttl, 1, r}},
      {&b.heartbeat, {p + "heartbeat", t.heartbeat_ttl, 1, r}},
      {&b.assignment, {p + "assignment", Millis(0), 1, r}},
      {&b.cluster, {p + "cluster", Millis(0), 1, r}},
  };
  for (const auto& s : specs) {
    auto r = KvBucket::open_or_create(conn, s.options);
    if (!r.ok()) return {r.status, {}};
    *s.slot = std::move(r.value);
  }
  return {{}, std::move(b)};
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
