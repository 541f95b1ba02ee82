// assignment: publishes and reads versioned assignments in the assignment
// bucket. An assignment is written as immutable chunks ("chunk.<term>.<version>.<i>",
// so large ones fit NATS's message limit) and only then made current by a CAS
// on the single pointer key "current". Readers follow the pointer and verify a
// checksum, so no worker ever sees half of a publish; the CAS means a deposed
// leader's late publish fails. Blocking calls: use from a pool.
#pragma once

#include <memory>

#include "parti/coord/kv_bucket.h"
#include "parti/core/assignment.h"

namespace parti {

struct AssignmentPointer {
  uint64_t version = 0;
  uint64_t term = 0;
  uint32_t chunks = 0;
  uint64_t size = 0;
  uint64_t checksum = 0;
  uint64_t fenced_by = 0;  // term of the newest leader that took over this pointer
};

class AssignmentStore {
 public:
  static constexpr const char* kPointerKey = "current";
  explicit AssignmentStore(std::shared_ptr<coord::KvBucket> bucket,
                           size_t chunk_bytes = 256 * 1024);

  // NotFound when nothing was ever published. *revision gets the pointer revision.
  coord::KvResult<Assignment> read(uint64_t* revision) const;
  // Reads the assignment a pointer value names.
  coord::KvResult<Assignment> read_pointed(const std::string& pointer_value) const;
  // A new leader rewrites the pointer under its term; any CAS based on an
  // older revision (a deposed leader) fails from then on. Returns the revision.
  coord::KvResult<uint64_t> fence(uint64_t term, uint64_t expected_revision);
  // expected_revision 0 means "nothing published yet" (Create).
  coord::KvResult<uint64_t> publish(const Assignment& a, uint64_t expected_revision);

 private:
  void collect_garbage(const AssignmentPointer& keep_current,
                       const AssignmentPointer& keep_previous);
  std::shared_ptr<coord::KvBucket> bucket_;
  size_t chunk_bytes_;
};

std::string encode(const AssignmentPointer& p);
std::optional<AssignmentPointer> decode_pointer(std::string_view bytes);

}  // namespace parti
