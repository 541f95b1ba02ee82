// manager: the five control-plane buckets of DESIGN section 3, opened (or
// created) together with their TTLs. Blocking.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "parti/coord/kv_bucket.h"
#include "parti/core/config.h"
#include "parti/core/types.h"

namespace parti {

struct Buckets {
  std::shared_ptr<coord::KvBucket> stable_id, election, heartbeat, assignment, cluster;
  static coord::KvResult<Buckets> open(std::shared_ptr<coord::Connection> conn, const Config& cfg);
};

// Same: ok only when `bucket` keeps values exactly `wanted` (the worker's
// `timing`); NotShorter: also when it keeps them longer. Otherwise an error
// naming both.
enum class TtlRule { Same, NotShorter };
coord::KvStatus check_bucket_ttl(const coord::KvBucket& bucket, Millis wanted, const char* timing,
                                 TtlRule rule);

// Creates the cluster's fixed settings once; refuses a mismatch afterwards.
// `extra` holds the application's own fixed settings (partid: the partition
// count), compared like the built-in ones.
coord::KvStatus ensure_cluster_config(coord::KvBucket& cluster, uint32_t replication_factor,
                                      const std::string& strategy,
                                      const std::map<std::string, std::string>& extra = {});

}  // namespace parti
