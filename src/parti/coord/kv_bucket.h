// coord: one JetStream KV bucket. Every operation is a blocking request to the
// server bounded by the connection's request timeout: call it from a blocking
// pool, never from an event loop. Thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "parti/coord/connection.h"
#include "parti/coord/kv_types.h"
#include "parti/coord/kv_watcher.h"

namespace parti::coord {

struct BucketOptions {
  std::string name;
  std::chrono::milliseconds ttl{0};  // 0 = values never expire
  uint8_t history = 1;
  int replicas = 1;  // JetStream stream replicas
};

class KvBucket {
 public:
  // Creates the bucket, or opens it when another process created it first.
  static KvResult<std::shared_ptr<KvBucket>> open_or_create(std::shared_ptr<Connection> conn,
                                                            const BucketOptions& options);
  // The same with default options, for a process that cannot go on without
  // it: throws CoordError (with the status's code) naming the bucket and
  // `what` it holds.
  static std::shared_ptr<KvBucket> open_or_throw(std::shared_ptr<Connection> conn,
                                                 const std::string& name, const std::string& what,
                                                 int replicas = 1);
  ~KvBucket();
  KvBucket(const KvBucket&) = delete;
  KvBucket& operator=(const KvBucket&) = delete;

  const std::string& name() const { return name_; }

  // NotFound when absent or deleted.
  KvResult<KvEntry> get(const std::string& key) const;
  KvResult<uint64_t> put(const std::string& key, const std::string& value);
  // Fails with Exists when the key holds a live value.
  KvResult<uint64_t> create(const std::string& key, const std::string& value);
  // Compare-and-set: fails with WrongRevision unless `expected` is the key's revision.
  KvResult<uint64_t> update(const std::string& key, const std::string& value, uint64_t expected);
  KvStatus erase(const std::string& key);
  // Deletes only while `expected` is still the key's revision (nats.c has no
  // such call, so it is a delete marker published with an expected sequence).
  KvStatus erase_if_revision(const std::string& key, uint64_t expected);
  // Live keys, from one server-side listing (never a partial replay).
  KvResult<std::vector<std::string>> keys() const;
  // Every live entry, read key by key (the polling fallback of watchers);
  // `as_of` is the revision the listing was taken at.
  KvResult<KvSnapshot> entries() const;
  // One key as a listing (the polling fallback of a watch on one key): no
  // entries when it is absent. `as_of` is 0: nothing else is listed.
  KvResult<KvSnapshot> entry_of(const std::string& key) const;
  // The key's newest revision; 0 when it has no value (never written, or deleted).
  KvResult<uint64_t> revision_of(const std::string& key) const;
  // The bucket's newest revision (the last sequence of its stream).
  KvResult<uint64_t> last_revision() const;
  // How long the bucket keeps a value after its last put (0: for ever), as
  // whoever created the bucket set it.
  KvResult<std::chrono::milliseconds> ttl() const;
  KvResult<std::unique_ptr<KvWatcher>> watch(const std::string& pattern) const;

 private:
  struct SubjectListing {
    std::vector<std::string> keys;  // includes keys whose last op is a delete
    uint64_t as_of = 0;
  };
  KvResult<SubjectListing> list_subjects() const;
  struct StreamFacts {
    uint64_t last_seq = 0;
    std::chrono::milliseconds max_age{0};
  };
  KvResult<StreamFacts> stream_facts() const;
  KvBucket(std::shared_ptr<Connection> conn, kvStore* kv, std::string name);
  std::shared_ptr<Connection> conn_;
  kvStore* kv_;
  std::string name_;
};

KvStatus status_from(natsStatus s);

}  // namespace parti::coord
