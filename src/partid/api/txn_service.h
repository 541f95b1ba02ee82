// api: transactions across partitions (POST /txn, GET /txn/{id}, the steps
// nodes ask each other for, what a read of a locked item must see, and the
// recovery of transactions a coordinator left unresolved). The protocol is
// two-phase commit over the partitions' replicated logs (storage/txn_space.h
// holds the rules every replica applies); txn_service.cpp tells its steps.
// Guarantees: a client hears "committed" only once the decision is recorded
// in the home partition (the commit point), and a reader never sees part of
// a committed transaction. Every step is idempotent and repeated while its
// partition changes hands.
// Threading: loop only; storage reads on the disk pool or between
// group-commit writes.
#pragma once

#include <chrono>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "parti/core/async.h"
#include "partid/api/api_deps.h"
#include "partid/api/http_types.h"
#include "partid/api/item_page.h"
#include "partid/api/lock_waits.h"
#include "partid/api/request_router.h"
#include "partid/api/route.h"
#include "partid/api/txn_requests.h"
#include "partid/storage/txn_space.h"

namespace partid::api {

class TxnService {
 public:
  // `router` and `locks` outlive it (ApiService owns all three).
  TxnService(ApiDeps deps, const ApiOptions& options, RequestRouter& router, LockWaits& locks)
      : deps_(deps), options_(options), router_(router), locks_(locks) {}

  // POST /txn: this node coordinates the transaction.
  asio::awaitable<ApiResponse> txn(const ApiRequest& request, const Hop& hop);
  // GET /txn/{id}[?partition=q]: its outcome, or partition q's part of it.
  asio::awaitable<ApiResponse> txn_status(const ApiRequest& request, const Route& route,
                                          const Hop& hop);
  // POST /txn/{id}/{step}: one step, asked by a node (forwarded) or an
  // operator with the admin token; `trusted`: asked by this node itself (as
  // coordinator or in recovery).
  asio::awaitable<ApiResponse> txn_step(const ApiRequest& request, const Route& route,
                                        const Hop& hop, bool trusted);
  // What committed transactions not yet resolved in `partition` make of the
  // items read into `view` (range key -> item, nullopt: deleted): one item
  // (range_key) or every item of the partition key (nullptr).
  asio::awaitable<std::optional<WebError>> overlay_txns(uint32_t partition,
                                                        const std::string& partition_key,
                                                        const std::string* range_key, TxnView* view,
                                                        const Hop& hop);
  // Finishes the transactions prepared in partitions this node leads that
  // are older than `older_than` (their coordinator is gone or stuck): records
  // an abort in the home partition unless an outcome stands there already,
  // then resolves with the one that stands. Returns how many it resolved.
  asio::awaitable<size_t> resolve_stale_txns(std::chrono::milliseconds older_than);
  // Erases, in partitions this node leads, what transactions past their
  // deadline by more than the retention left that nothing needs any more
  // (storage::can_forget). Returns how many transactions it forgot.
  asio::awaitable<size_t> forget_old_txns();

 private:
  // A partition a transaction names (its home, or where it prepared), as
  // the layout has it now: the partition it merged into once it is gone
  // (routing::LayoutRecord::owner_of).
  uint32_t owner_of(uint64_t partition) const;
  // The partition holding transaction `txn`'s decision now; nullopt when
  // the id does not parse or names no partition.
  std::optional<uint32_t> current_home(const std::string& txn) const;
  struct TxnStepCall {
    std::string step;
    std::string txn;
    uint32_t partition = 0;
    std::string body;
  };
  // A new transaction's deadline: now + --txn-timeout-ms + `leaders_ahead`,
  // or the deadline of the attempt it retries (txn_expired once that has
  // passed).
  std::variant<uint64_t, WebError> txn_deadline(std::optional<uint64_t> retry_deadline_ms,
                                                std::chrono::milliseconds leaders_ahead) const;
  // How far ahead of this node's clock the clock of any node that may lead a
  // partition (the assignment's workers) may run (peer/peer_clocks.h).
  std::chrono::milliseconds leaders_ahead() const;
  asio::awaitable<std::optional<WebError>> txn_format_refusal(
      const std::vector<storage::TxnWrite>& writes);
  asio::awaitable<ApiResponse> txn_in_one_partition(const std::string& id, uint32_t home,
                                                    const std::vector<storage::TxnWrite>& writes,
                                                    const Hop& hop);
  asio::awaitable<ApiResponse> txn_step_here(const std::string& step, const std::string& txn,
                                             uint32_t partition, TxnStepBody body, const Hop& hop);
  // One step where its partition is led (here, or forwarded), or several at once.
  asio::awaitable<ApiResponse> run_txn_step(std::string step, std::string txn, uint32_t partition,
                                            std::string body, Hop hop);
  asio::awaitable<std::vector<ApiResponse>> run_txn_steps(std::vector<TxnStepCall> calls,
                                                          const Hop& hop);
  // Whether the home partition has recorded a commit of `txn`; nullopt when
  // it cannot be asked now.
  asio::awaitable<std::optional<bool>> txn_committed(const std::string& txn, const Hop& hop);
  asio::awaitable<void> settle_txn(std::string txn, uint32_t home, std::vector<uint32_t> resolved,
                                   Hop hop);
  // GET /txn/{id}?partition=q: partition q's part of the transaction.
  asio::awaitable<ApiResponse> txn_participant(const ApiRequest& request, const Route& route,
                                               const Hop& hop);
  // Whether partition q has resolved transaction `txn` (or forgotten it);
  // false when it has not or cannot tell now.
  asio::awaitable<bool> txn_resolved_in(const std::string& txn, uint32_t partition);
  // Settles what of the commit decisions `left` (home partition, id, the
  // partitions still to confirm) their coordinator did not: asks each
  // partition still to confirm, and records those that resolved it.
  asio::awaitable<void> settle_left_commits(
      std::vector<std::tuple<uint32_t, std::string, std::vector<uint32_t>>> left);
  bool forgotten_by_now(const storage::TxnId& id) const;

  ApiDeps deps_;
  ApiOptions options_;
  RequestRouter& router_;
  LockWaits& locks_;
  std::mt19937_64 txn_random_{std::random_device{}()};   // transaction ids
  std::chrono::steady_clock::time_point next_forget_{};  // forget_old_txns's next pass
};

}  // namespace partid::api
