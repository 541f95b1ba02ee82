// coord: result and entry types of the NATS JetStream KV wrapper. Every KV call
// returns a typed status instead of throwing, so that callers on a blocking
// pool can hand the outcome back to their event loop unchanged.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace parti::coord {

enum class KvErrc {
  Ok,
  NotFound,       // key absent or deleted
  Exists,         // create() on a key that has a live value
  WrongRevision,  // update()/erase_if_revision() lost a CAS race
  Timeout,        // no answer within the request timeout
  Unavailable,    // connection closed, no server, no JetStream responders
  Other,
};

const char* to_string(KvErrc e);

struct KvStatus {
  KvErrc code = KvErrc::Ok;
  std::string message;
  bool ok() const { return code == KvErrc::Ok; }
  // True when retrying later may succeed (the server, not the data, said no).
  bool transient() const { return code == KvErrc::Timeout || code == KvErrc::Unavailable; }
};

// nats.c's kvStore_Create is an update that expects no message and, when
// that fails, a read of the key to see whether it holds only a delete marker.
// A key that lapses (its bucket's TTL) between the two makes the read
// NotFound, which clears the thread's error text: the create comes back as a
// bare error that says nothing (Other). Seen as a node restarted right as its
// old worker-ID claim lapsed, which then could not start. Such a failure is
// judged by reading the key again (`lookup`): a live value is Exists, none
// means the key lapsed and the create may be tried again (nullopt); anything
// else is answered as the failure it was.
std::optional<KvStatus> judge_unexplained_create(const KvStatus& failure, const KvStatus& lookup);

template <class T>
struct KvResult {
  KvStatus status;
  T value{};
  bool ok() const { return status.ok(); }
};

struct KvEntry {
  std::string key;
  std::string value;
  uint64_t revision = 0;
  bool deleted = false;  // a Delete or Purge marker
};

// Every live key of a bucket, with a watermark: `as_of` is the bucket's last
// revision at the moment the server listed its keys, so any change with
// revision <= as_of is already reflected (a key absent from `entries` was
// absent or deleted at as_of, or deleted after it).
struct KvSnapshot {
  std::vector<KvEntry> entries;
  uint64_t as_of = 0;
  // The keys are read after the listing: a listed key deleted before its read
  // is absent although its delete is above as_of. Every such delete is at or
  // below deleted_by (the bucket's last revision after the reads; 0: as_of,
  // when no listed key read as deleted).
  uint64_t deleted_by = 0;
};

}  // namespace parti::coord
