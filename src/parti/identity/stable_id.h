// identity: claims the lowest free stable worker ID ("node-<n>") in the
// stableid bucket and keeps it. Claim is Create; renewal is a CAS Update on
// the revision we last wrote, never a blind Put, so two processes can never
// both believe they hold one ID. A renewal that loses the CAS means the ID is
// gone and the caller must stop acting as it. Blocking: call from a pool.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "parti/coord/kv_bucket.h"

namespace parti {

class StableIdClaimer {
 public:
  StableIdClaimer(std::shared_ptr<coord::KvBucket> bucket, std::string prefix, uint32_t max_ids,
                  std::string instance);

  // Tries `preferred` first when given (a restarted node wants its old ID back,
  // since its stored data follows that ID), then node-0, node-1, ... and keeps
  // the first free one.
  coord::KvStatus claim(const std::string& preferred = {});
  // Claims exactly `id`; Exists while someone (maybe a dead predecessor whose
  // claim has not lapsed yet) holds it.
  coord::KvStatus claim_exactly(const std::string& id) { return try_create(id); }
  // Exists/WrongRevision/NotFound mean the ID is lost; transient errors do not.
  coord::KvStatus renew();
  coord::KvStatus release();

  const std::string& id() const { return id_; }
  bool holds() const { return !id_.empty(); }

 private:
  std::string claim_value() const;
  // Create of `key`; on success the ID is ours.
  coord::KvStatus try_create(const std::string& key);
  bool still_ours();
  std::shared_ptr<coord::KvBucket> bucket_;
  std::string prefix_;
  uint32_t max_ids_;
  std::string instance_;
  std::string id_;
  uint64_t revision_ = 0;
};

}  // namespace parti
