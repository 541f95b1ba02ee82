// replication: the seal register (core::SealRecord) of every partition, kept
// in a NATS JetStream KV bucket, one key per partition, changed only by
// compare-and-set. It is the one thing replicas cannot keep among themselves:
// which replica set last finished sealing, i.e. whose quorum a new leader
// must hear from whatever sets the coordinator appointed since.
//
// Guarantees: a claim lands only if the key still holds the expected revision
// (JetStream's expected-last-subject-sequence), so claims are linearizable.
// Every call is answered on the loop, and only when the server answered;
// a call that timed out or found no server is logged and dropped (the core
// asks again), so a dead NATS stalls sealing but never decides it.
// Threading: calls from the loop; KV requests run on the register's own
// thread pool (they block), answers are posted back to the loop.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "parti/coord/kv_bucket.h"
#include "parti/core/async.h"
#include "parti/core/thread_names.h"
#include "partid/replication/core/types.h"

namespace partid::replication {

namespace asio = boost::asio;

class SealRegister {
 public:
  using OnRead = std::function<void(core::SealRecord)>;
  // won: the key now holds the claim; `current` is what it holds either way.
  using OnClaim = std::function<void(bool won, core::SealRecord current)>;

  // Opens (or creates, with `replicas` JetStream replicas) the bucket:
  // blocking, not on the loop.
  static std::unique_ptr<SealRegister> open(std::shared_ptr<parti::coord::Connection> conn,
                                            const std::string& bucket, asio::any_io_executor loop,
                                            int replicas = 1);
  ~SealRegister();  // waits for requests in flight (each bounded by the request timeout)

  void read(uint32_t partition, OnRead done);
  void claim(uint32_t partition, core::SealClaim claim, OnClaim done);
  // Empties the partition's register (operator recovery after the sealed set
  // lost a majority for good); `done` runs once the server confirmed it.
  void forget(uint32_t partition, std::function<void()> done);

 private:
  SealRegister(std::shared_ptr<parti::coord::KvBucket> bucket, asio::any_io_executor loop);
  // Blocking halves, on the pool.
  parti::coord::KvResult<core::SealRecord> get(uint32_t partition) const;
  parti::coord::KvResult<uint64_t> compare_and_set(uint32_t partition,
                                                   const core::SealClaim& claim) const;

  std::shared_ptr<parti::coord::KvBucket> bucket_;
  asio::any_io_executor loop_;
  parti::NamedThreadPool pool_{2, "partid-seal"};
};

}  // namespace partid::replication
