// identity: claims the lowest free stable worker ID ("node-<n>") in the
// stableid bucket and keeps it. Claim is Create; renewal is a CAS Update on
// the revision we last wrote, never a blind Put, so two processes can never
// both believe they hold one ID. A renewal that loses the CAS means the ID is
// gone and the caller must stop acting as it. Blocking: call from a pool.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "parti/coord/kv_bucket.h"

namespace parti {

class StableIdClaimer {
 public:
  StableIdClaimer(std::shared_ptr<coord::KvBucket> bucket, std::string prefix, uint32_t max_ids,
                  std::string instance);

  // From now on an ID is never handed to a second process that did not ask
  // for it by name: every ID claimed is marked used in `history` (a bucket
  // without TTL) before it is taken, and claim() without a free preferred ID
  // takes the lowest ID above every one used so far. For workers whose stored
  // data follows their ID (partid), so that a process with an empty disk can
  // never pose as a dead one whose data it does not have.
  void never_reuse(std::shared_ptr<coord::KvBucket> history) { history_ = std::move(history); }

  // Tries `preferred` first when given (a restarted node wants its old ID back,
  // since its stored data follows that ID), then node-0, node-1, ... and keeps
  // the first free one.
  coord::KvStatus claim(const std::string& preferred = {});
  // Claims exactly `id`; Exists while someone (maybe a dead predecessor whose
  // claim has not lapsed yet) holds it.
  coord::KvStatus claim_exactly(const std::string& id) { return try_create(id); }
  // Takes `id` over from `previous_instance` (a process of ours known to be
  // gone): a CAS on the claim as read, so it succeeds only while the claim
  // still names that instance. Exists when someone else holds it, NotFound
  // when nobody does.
  coord::KvStatus take_over(const std::string& id, const std::string& previous_instance);
  // claim_exactly(id), and when `previous_instance` (may be empty) holds it,
  // take_over; *took_over tells which happened.
  coord::KvStatus reclaim(const std::string& id, const std::string& previous_instance,
                          bool* took_over);
  // Exists/WrongRevision/NotFound mean the ID is lost; transient errors do not.
  coord::KvStatus renew();
  coord::KvStatus release();

  const std::string& id() const { return id_; }
  bool holds() const { return !id_.empty(); }

 private:
  std::string claim_value() const;
  // Create of `key`; on success the ID is ours.
  coord::KvStatus try_create(const std::string& key);
  void mark_used();
  // claim() with never_reuse: the lowest ID above every used or held one.
  coord::KvStatus claim_unused();
  // The number after "<prefix>-" in each key, one past the highest (0: none).
  uint32_t next_after(const std::vector<std::string>& keys, const std::string& key_prefix) const;
  static std::string used_key(const std::string& id) { return "used-id." + id; }
  bool still_ours();
  // The instance named by a claim's value; empty when it does not parse.
  static std::string instance_of(const std::string& claim);
  std::shared_ptr<coord::KvBucket> bucket_;
  std::shared_ptr<coord::KvBucket> history_;
  std::string prefix_;
  uint32_t max_ids_;
  std::string instance_;
  std::string id_;
  uint64_t revision_ = 0;
};

}  // namespace parti
