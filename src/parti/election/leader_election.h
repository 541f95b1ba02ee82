// election: one leader per cluster through a TTL'd key. Acquire is Create (so
// only one process wins while the key lives); renewal is CAS on our last
// revision; the term is the creation revision, which grows with every new
// leader. Release deletes the key only if it is still ours. Blocking calls.
#pragma once

#include <memory>
#include <string>

#include "parti/coord/kv_bucket.h"

namespace parti {

struct LeaderInfo {
  std::string id;
  std::string instance;
  uint64_t term = 0;
};

class LeaderElection {
 public:
  LeaderElection(std::shared_ptr<coord::KvBucket> bucket, std::string self_id,
                 std::string instance);

  // Ok when we became leader; Exists when someone else holds the lease.
  coord::KvStatus try_acquire();
  // Non-transient failure means leadership is lost.
  coord::KvStatus renew();
  coord::KvStatus release();
  // Who holds the lease now (NotFound when nobody).
  coord::KvResult<LeaderInfo> current() const;

  bool is_leader() const { return term_ != 0; }
  uint64_t term() const { return term_; }
  void set_self_id(std::string id) { self_id_ = std::move(id); }

 private:
  std::string value() const;
  std::shared_ptr<coord::KvBucket> bucket_;
  std::string self_id_;
  std::string instance_;
  uint64_t term_ = 0;
  uint64_t revision_ = 0;
};

}  // namespace parti
