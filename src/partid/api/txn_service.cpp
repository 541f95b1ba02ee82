// api: transactions across partitions (POST /txn, GET /txn/{id}, the steps
// nodes ask each other for, and the recovery of transactions a coordinator
// left unresolved). The protocol is two-phase commit over the partitions'
// replicated logs (storage/txn_space.h holds the rules every replica applies):
//  1. the coordinator (the node the client reached) prepares the writes in
//     each partition they belong to, at its leader: a replicated entry that
//     locks the items, or is refused when one is locked already;
//  2. it records the outcome in the transaction's home partition (the one of
//     its first write): commit if every prepare succeeded, else abort. That
//     replicated entry is the commit point; the first decision recorded stands;
//  3. it resolves every prepared partition: the locked writes are applied with
//     the prepare's version, or dropped, and the items unlocked.
// A coordinator that dies leaves prepares behind; the leader of such a
// partition asks the home partition to record an abort once they are older
// than the transaction timeout, learns what stands, and resolves with it.
// Reads of a locked item ask the home partition whether the transaction has
// committed, so a reader never sees part of a committed transaction.
#include "partid/api/txn_service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <random>
#include <tuple>

#include "parti/core/spawn.h"
#include "parti/core/types.h"
#include "partid/api/hold.h"
#include "partid/api/read_between_writes.h"
#include "partid/api/refusals.h"
#include "partid/api/txn_requests.h"
#include "partid/async_bridge.h"
#include "partid/storage/txn_space.h"
#include "partid/upgrade/formats.h"

namespace partid::api {
namespace {

using nlohmann::json;
using routing::Access;

bool valid_step(const std::string& step) {
  return step == "prepare" || step == "decide" || step == "resolve" || step == "commit" ||
         step == "settle";
}

std::optional<uint32_t> home_of(const std::string& txn) {
  auto id = storage::parse_txn_id(txn);
  return id ? std::optional<uint32_t>(id->home) : std::nullopt;
}

}  // namespace

uint32_t TxnService::owner_of(uint64_t partition) const {
  if (partition > UINT32_MAX) return UINT32_MAX;
  return deps_.cluster->topology()->layout.owner_of(static_cast<uint32_t>(partition));
}

std::optional<uint32_t> TxnService::current_home(const std::string& txn) const {
  auto home = home_of(txn);
  if (!home) return std::nullopt;
  const uint32_t p = owner_of(*home);
  if (p >= deps_.cluster->topology()->partitions) return std::nullopt;
  return p;
}

namespace {

// The steps recorded in the home partition (the decision and its settling).
bool at_home(const std::string& step) { return step == "decide" || step == "settle"; }

// What a forgetting pass finds in the partitions a node leads: transactions
// it can forget now, per partition, and commits not settled yet (partition,
// id, the partitions still to confirm).
struct OldTxns {
  std::vector<std::pair<uint32_t, std::vector<std::string>>> forgettable;
  std::vector<std::tuple<uint32_t, std::string, std::vector<uint32_t>>> unsettled;
};

OldTxns find_old_txns(const storage::StoreEngine& store, const std::vector<uint32_t>& partitions,
                      uint64_t before_ms) {
  constexpr size_t kMostPerEntry = 500;
  // A handful of commits per pass: each costs a question to every partition
  // still to confirm, and only coordinators that failed midway leave any.
  constexpr size_t kMostUnsettled = 20;
  OldTxns out;
  for (uint32_t p : partitions) {
    auto txns = store.forgettable_txns(p, before_ms, kMostPerEntry);
    if (!txns.empty()) out.forgettable.emplace_back(p, std::move(txns));
    if (out.unsettled.size() >= kMostUnsettled) continue;
    for (auto& [txn, waiting] : store.unsettled_commits(p, before_ms, kMostUnsettled)) {
      out.unsettled.emplace_back(p, std::move(txn), std::move(waiting));
    }
  }
  return out;
}

std::string state_of(const ApiResponse& r) {
  json body = json::parse(r.body, nullptr, false);
  return body.is_object() ? body.value("state", std::string()) : std::string();
}

// What the client of POST /txn hears: the transaction committed, or why not
// (the first refusal among its prepares, a 409 before any other; or recovery
// aborted it first), with its id either way.
ApiResponse txn_answer(const std::string& id, bool committed, const ApiResponse* refusal,
                       size_t writes, const std::vector<uint32_t>& partitions, size_t unresolved) {
  if (committed) {
    return ApiResponse::json(200, json{{"txn", id},
                                       {"state", "committed"},
                                       {"writes", writes},
                                       {"partitions", partitions},
                                       {"unresolved_partitions", unresolved}}
                                      .dump());
  }
  if (!refusal) {
    return ApiResponse::error(WebError::conflict(
        "txn_aborted", "transaction " + id +
                           " was aborted before it committed (by recovery, or past its deadline)"));
  }
  ApiResponse out = *refusal;
  json body = json::parse(out.body, nullptr, false);
  if (body.is_object()) {
    body["txn"] = id;
    out.body = body.dump();
  }
  return out;
}

}  // namespace

asio::awaitable<std::optional<WebError>> TxnService::txn_format_refusal(
    const std::vector<storage::TxnWrite>& writes) {
  const bool conditions = std::any_of(writes.begin(), writes.end(),
                                      [](const auto& w) { return w.if_sequence.has_value(); });
  if (conditions) {
    co_return co_await format_refusal(deps_.cluster, upgrade::kConditionFormat,
                                      "conditions (if_sequence) need");
  }
  co_return co_await format_refusal(deps_.cluster, upgrade::kTxnFormat, "transactions need");
}

// Each partition's leader judges the deadline by its own clock (the entry's
// HLC, so that every replica decides alike), and this node sets it on its
// own: with no room for the difference, a leader whose clock ran ahead of
// this one's by more than the timeout found every transaction past its
// deadline before it was prepared. The room is for the fastest clock of any
// node that may lead, not only of the partitions' leaders now: a leader may
// change before the prepare arrives, and a new leader stamps at least its
// predecessor's time (Replicator::clock_past_log). It costs nothing but
// time: recovery finishes a dead coordinator's transaction after the
// timeout, whatever its deadline, and deadlines set through any node now
// count from about the same clock, so their wait-die ages compare.
std::variant<uint64_t, WebError> TxnService::txn_deadline(
    std::optional<uint64_t> retry_deadline_ms, std::chrono::milliseconds leaders_ahead) const {
  const auto now = static_cast<uint64_t>(parti::wall_clock_ms());
  const uint64_t fresh =
      now + static_cast<uint64_t>(options_.txn_timeout.count() + leaders_ahead.count());
  if (!retry_deadline_ms) return fresh;
  if (*retry_deadline_ms <= now) {
    return WebError::conflict("txn_expired",
                              "the deadline of the attempt named by retry_of has passed: start "
                              "the transaction anew, without retry_of");
  }
  // Never later than a new transaction's: an attempt made through a node
  // whose clock runs ahead (or with a longer --txn-timeout-ms) must not hold
  // locks past this node's timeout.
  return std::min(*retry_deadline_ms, fresh);
}

std::chrono::milliseconds TxnService::leaders_ahead() const {
  const auto topology = deps_.cluster->topology();
  std::chrono::milliseconds most{0};
  if (!topology) return most;
  const auto now = std::chrono::steady_clock::now();
  for (const std::string& node : topology->workers) {
    if (node == deps_.cluster->self()) continue;
    most = std::max(most, deps_.clocks->ahead_at_most(node, now));
  }
  return most;
}

asio::awaitable<ApiResponse> TxnService::txn(const ApiRequest& request, const Hop& hop) {
  auto parsed = parse_txn(request.body, options_.limits);
  if (auto* e = std::get_if<WebError>(&parsed)) co_return ApiResponse::error(*e);
  const auto& writes = std::get<TxnRequest>(parsed).writes;
  const auto deadline =
      txn_deadline(std::get<TxnRequest>(parsed).retry_deadline_ms, leaders_ahead());
  if (auto* e = std::get_if<WebError>(&deadline)) co_return ApiResponse::error(*e);
  if (auto refusal = co_await txn_format_refusal(writes)) co_return ApiResponse::error(*refusal);
  std::map<uint32_t, std::vector<storage::TxnWrite>> parts;
  for (const auto& w : writes) parts[router_.partition_of(w.partition_key)].push_back(w);
  const uint32_t home = router_.partition_of(writes.front().partition_key);
  const std::string id = storage::make_txn_id(std::get<uint64_t>(deadline), home, txn_random_());
  if (parts.size() == 1) co_return co_await txn_in_one_partition(id, home, writes, hop);

  std::vector<TxnStepCall> prepares;
  for (const auto& [p, ws] : parts) {
    prepares.push_back({"prepare", id, p, txn_prepare_body(home, ws)});
  }
  auto prepared = co_await run_txn_steps(std::move(prepares), hop);
  const ApiResponse* refusal = nullptr;
  for (const auto& r : prepared) {
    if (r.status != 200 && (!refusal || r.status == 409)) refusal = &r;
  }
  const bool commit = refusal == nullptr;
  std::vector<uint32_t> partitions;
  for (const auto& [p, ws] : parts) partitions.push_back(p);
  // Named, not temporaries: GCC 12 mishandles temporaries in co_await. A
  // commit names its partitions, each of which must confirm it resolved it
  // before the decision may be forgotten.
  std::string decide = "decide", outcome = txn_outcome_body(commit, partitions);
  ApiResponse decided = co_await run_txn_step(decide, id, home, outcome, hop);
  if (decided.status != 200 && commit) {
    // The commit point itself is in doubt: the outcome is whatever the home
    // partition recorded, which GET /txn/{id} tells once it answers.
    deps_.metrics->count("partid_txn_outcome_unknown_total");
    co_return ApiResponse::error(WebError::timeout(
        "txn_outcome_unknown", "transaction " + id + " may or may not have committed (" +
                                   decided.body + "); ask GET /txn/" + id));
  }
  if (decided.status != 200) {
    // An abort not recorded yet: nothing can commit it, and recovery records
    // it and resolves the prepares, so that GET /txn/{id} will say aborted.
    deps_.metrics->count("partid_txn_aborted_total");
    const std::vector<uint32_t> none;
    co_return txn_answer(id, false, refusal, 0, none, parts.size());
  }
  const bool committed = commit && state_of(decided) == "committed";
  // Resolving before answering lets the client's next write to these items
  // succeed at once; a resolve that fails is finished by recovery.
  std::vector<TxnStepCall> resolves;
  for (const auto& [p, ws] : parts) {
    resolves.push_back({"resolve", id, p, txn_outcome_body(committed)});
  }
  auto resolved = co_await run_txn_steps(std::move(resolves), hop);
  std::vector<uint32_t> confirmed;
  for (size_t i = 0; i < resolved.size(); ++i) {
    if (resolved[i].status == 200) confirmed.push_back(partitions[i]);
  }
  const size_t unresolved = partitions.size() - confirmed.size();
  if (committed && !confirmed.empty()) {
    // After the answer: the client needs nothing from it. What it does not
    // confirm, the home partition's leader asks the partitions about later.
    auto executor = co_await asio::this_coro::executor;
    asio::co_spawn(executor, settle_txn(id, home, std::move(confirmed), hop),
                   parti::log_failure("settling a transaction"));
  }
  deps_.metrics->count(committed ? "partid_txn_committed_total" : "partid_txn_aborted_total");
  co_return txn_answer(id, committed, refusal, writes.size(), partitions, unresolved);
}

// All in its home partition: one entry commits it or is refused (one quorum
// write instead of three). When even repeating it fails, an abort recorded
// after it settles the outcome: the entry, if it comes later, is refused.
asio::awaitable<ApiResponse> TxnService::txn_in_one_partition(
    const std::string& id, uint32_t home, const std::vector<storage::TxnWrite>& writes,
    const Hop& hop) {
  std::string commit = "commit", body = txn_prepare_body(home, writes);
  ApiResponse r = co_await run_txn_step(commit, id, home, body, hop);
  bool committed = r.status == 200;
  if (r.status != 200 && r.status != 409) {
    std::string decide = "decide", abort = txn_outcome_body(false);
    ApiResponse decided = co_await run_txn_step(decide, id, home, abort, hop);
    if (decided.status != 200) {
      deps_.metrics->count("partid_txn_outcome_unknown_total");
      co_return ApiResponse::error(WebError::timeout(
          "txn_outcome_unknown", "transaction " + id + " may or may not have committed (" + r.body +
                                     "); ask GET /txn/" + id));
    }
    committed = state_of(decided) == "committed";
    if (!committed) {
      r = ApiResponse::error(WebError::unavailable(
          "txn_aborted",
          "transaction " + id + " was not committed, nothing was written: " + r.body));
    }
  }
  deps_.metrics->count(committed ? "partid_txn_committed_total" : "partid_txn_aborted_total");
  const std::vector<uint32_t> partitions{home};
  co_return txn_answer(id, committed, &r, writes.size(), partitions, 0);
}

asio::awaitable<std::vector<ApiResponse>> TxnService::run_txn_steps(std::vector<TxnStepCall> calls,
                                                                    const Hop& hop) {
  struct Join {
    std::vector<ApiResponse> out;
    size_t remaining = 0;
    std::function<void(bool)> done;
  };
  auto join = std::make_shared<Join>();
  join->out.resize(calls.size());
  join->remaining = calls.size();
  auto executor = co_await asio::this_coro::executor;
  for (size_t i = 0; i < calls.size(); ++i) {
    auto& c = calls[i];
    asio::co_spawn(
        executor,
        run_txn_step(std::move(c.step), std::move(c.txn), c.partition, std::move(c.body), hop),
        [join, i](std::exception_ptr e, ApiResponse r) {
          join->out[i] =
              e ? ApiResponse::error(WebError::internal("transaction step failed")) : std::move(r);
          if (--join->remaining == 0 && join->done) join->done(true);
        });
  }
  Join* raw = join.get();
  co_await await_callback<bool>([raw](std::function<void(bool)> done) {
    if (raw->remaining == 0) {
      done(true);
    } else {
      raw->done = std::move(done);
    }
  });
  co_return std::move(join->out);
}

asio::awaitable<ApiResponse> TxnService::run_txn_step(std::string step, std::string txn,
                                                      uint32_t partition, std::string body,
                                                      Hop hop) {
  ApiRequest request{
      "POST", fmt::format("/txn/{}/{}?partition={}", txn, step, partition), std::move(body), {}};
  auto matched = match_route(request.method, request.target);
  if (auto* e = std::get_if<WebError>(&matched)) co_return ApiResponse::error(*e);
  const Route& route = std::get<Route>(matched);
  // Every step is idempotent (a prepare or decision repeated changes nothing,
  // nor does a resolve), so one that failed for any passing reason is
  // repeated while a partition changes hands.
  co_return co_await router_.repeat_while_passing(
      [&] { return txn_step(request, route, hop, true); }, "partid_txn_step_retries_total");
}

asio::awaitable<ApiResponse> TxnService::txn_step(const ApiRequest& request, const Route& route,
                                                  const Hop& hop, bool trusted) {
  // Steps come from nodes (forwarded, so hop > 0) or an operator with the
  // admin token; a client that could resolve someone's transaction could
  // break its atomicity.
  if (!trusted && hop.hops == 0) {
    if (auto refused = admin_refusal(request, options_.admin_token))
      co_return ApiResponse::error(*refused);
  }
  if (!valid_step(route.range_key)) {
    co_return ApiResponse::error(WebError::not_found("no such transaction step"));
  }
  if (!deps_.cluster->topology()->ready())
    co_return ApiResponse::error(WebError::no_topology_yet());
  const uint32_t partitions = deps_.cluster->topology()->partitions;
  const auto home = current_home(route.partition_key);
  if (!home) {
    co_return ApiResponse::error(WebError::bad_request("bad_txn_id", "no such transaction id"));
  }
  uint64_t partition = *home;
  if (!at_home(route.range_key) &&
      (!route.query.contains("partition") || !query_u64(route, "partition", &partition) ||
       (partition = owner_of(partition)) >= partitions)) {
    co_return ApiResponse::error(
        WebError::bad_request("bad_partition", "?partition= names no partition"));
  }
  if (route.range_key == "commit" && partition != *home) {
    co_return ApiResponse::error(WebError::bad_request(
        "wrong_partition", "a transaction commits in one step only in its home partition"));
  }
  auto body = parse_txn_step(route.range_key, request.body, options_.limits);
  if (auto* e = std::get_if<WebError>(&body)) co_return ApiResponse::error(*e);
  const auto p = static_cast<uint32_t>(partition);
  for (const auto& w : std::get<TxnStepBody>(body).writes) {
    if (router_.partition_of(w.partition_key) != p) {
      co_return ApiResponse::error(WebError::bad_request(
          "wrong_partition", "item (" + w.partition_key + ", " + w.range_key +
                                 ") does not belong to partition " + std::to_string(p)));
    }
  }
  if (auto elsewhere = co_await router_.serve_elsewhere(p, Access::Write, request, hop)) {
    co_return std::move(*elsewhere);
  }
  co_return co_await txn_step_here(route.range_key, route.partition_key, p,
                                   std::move(std::get<TxnStepBody>(body)), hop);
}

asio::awaitable<ApiResponse> TxnService::txn_step_here(const std::string& step,
                                                       const std::string& txn, uint32_t partition,
                                                       TxnStepBody body, const Hop& hop) {
  if (step == "prepare") {
    // Not recorded: the coordinator retries it, like a prepare the freeze
    // refuses. Decisions and resolutions pass, so the prepared ones finish.
    if (auto refusal = freezing_refusal(*deps_.cluster->topology(), partition))
      co_return ApiResponse::error(*refusal);
  }
  if (step == "prepare" || step == "commit") {
    // Only a transaction's first entries are refused: one already prepared
    // is finished whatever happens to the format meanwhile.
    if (auto refusal = co_await txn_format_refusal(body.writes)) {
      co_return ApiResponse::error(*refusal);
    }
    co_await locks_.for_younger(partition, txn, body.writes, hop);
  }
  storage::WriteOp op;
  op.partition = partition;
  op.txn = txn;
  op.txn_home = step == "prepare" ? body.home : *home_of(txn);
  op.txn_commit = body.commit || step == "settle";
  op.txn_writes = std::move(body.writes);
  op.txn_single = step == "commit";
  op.txn_settled = step == "settle";
  op.txn_partitions = std::move(body.partitions);
  op.kind = step == "prepare" || step == "commit" ? storage::WriteOp::Kind::TxnPrepare
            : at_home(step)                       ? storage::WriteOp::Kind::TxnDecide
                                                  : storage::WriteOp::Kind::TxnResolve;
  std::vector<storage::WriteOp> ops{std::move(op)};
  auto results = co_await router_.write_local(std::move(ops));
  const auto& r = results[0];
  json out = {{"txn", txn}, {"partition", partition}};
  if (step == "decide" && (r.ok || r.code == "txn_decided")) {
    // A refused decision is the other one, recorded first.
    out["state"] = (r.ok == body.commit) ? "committed" : "aborted";
    co_return ApiResponse::json(200, out.dump());
  }
  if (!r.ok) co_return ApiResponse::error(write_error(r));
  if (step == "resolve") locks_.released(partition);
  out["state"] = step == "prepare"  ? "prepared"
                 : step == "commit" ? "committed"
                 : step == "settle" ? "settled"
                                    : "resolved";
  co_return ApiResponse::json(200, out.dump());
}

asio::awaitable<ApiResponse> TxnService::txn_status(const ApiRequest& request, const Route& route,
                                                    const Hop& hop) {
  if (!deps_.cluster->topology()->ready())
    co_return ApiResponse::error(WebError::no_topology_yet());
  const auto txn_id = storage::parse_txn_id(route.partition_key);
  const auto home = current_home(route.partition_key);
  if (!txn_id || !home) {
    co_return ApiResponse::error(WebError::bad_request("bad_txn_id", "no such transaction id"));
  }
  if (route.query.contains("partition")) co_return co_await txn_participant(request, route, hop);
  const uint32_t p = *home;
  if (auto elsewhere = co_await router_.read_elsewhere(p, Access::Read, request, hop)) {
    co_return std::move(*elsewhere);
  }
  storage::StoreEngine* store = deps_.store;
  const std::string* id = &route.partition_key;
  auto decision = co_await parti::run_blocking(
      *deps_.disk, [store, p, id] { return store->txn_decision(p, *id); });
  std::string state = "undecided";
  if (decision) {
    state = decision->state == storage::TxnRecord::State::Committed ? "committed" : "aborted";
  } else if (forgotten_by_now(*txn_id)) {
    co_return ApiResponse::error(
        {404, "txn_unknown",
         "no outcome of transaction " + *id +
             " is recorded: it is older than the retention (--txn-retention-ms), or never was",
         0});
  }
  co_return ApiResponse::json(200, json{{"txn", *id}, {"home", p}, {"state", state}}.dump());
}

asio::awaitable<ApiResponse> TxnService::txn_participant(const ApiRequest& request,
                                                         const Route& route, const Hop& hop) {
  uint64_t partition = 0;
  if (!query_u64(route, "partition", &partition) ||
      (partition = owner_of(partition)) >= deps_.cluster->topology()->partitions) {
    co_return ApiResponse::error(
        WebError::bad_request("bad_partition", "?partition= names no partition"));
  }
  const auto p = static_cast<uint32_t>(partition);
  if (auto elsewhere = co_await router_.read_elsewhere(p, Access::Read, request, hop)) {
    co_return std::move(*elsewhere);
  }
  storage::StoreEngine* store = deps_.store;
  const std::string* id = &route.partition_key;
  auto record = co_await parti::run_blocking(*deps_.disk,
                                             [store, p, id] { return store->txn_record(p, *id); });
  // "unknown": never prepared here, or forgotten (resolved long ago).
  const char* state = "unknown";
  if (record) {
    using State = storage::TxnRecord::State;
    state = record->state == State::Prepared    ? "prepared"
            : record->state == State::Refused   ? "refused"
            : record->state == State::Committed ? "committed"
                                                : "aborted";
  }
  co_return ApiResponse::json(200, json{{"txn", *id}, {"partition", p}, {"state", state}}.dump());
}

asio::awaitable<bool> TxnService::txn_resolved_in(const std::string& txn, uint32_t partition) {
  const ApiRequest request{"GET", fmt::format("/txn/{}?partition={}", txn, partition), {}, {}};
  auto matched = match_route(request.method, request.target);
  if (std::holds_alternative<WebError>(matched)) co_return false;
  const Hop start;
  ApiResponse r = co_await txn_status(request, std::get<Route>(matched), start);
  co_return r.status == 200 && state_of(r) != "prepared";
}

asio::awaitable<void> TxnService::settle_left_commits(
    std::vector<std::tuple<uint32_t, std::string, std::vector<uint32_t>>> left) {
  for (auto& [home, txn, waiting] : left) {
    std::vector<uint32_t> confirmed;
    for (uint32_t q : waiting) {
      if (co_await txn_resolved_in(txn, q)) confirmed.push_back(q);
    }
    if (confirmed.empty()) continue;
    Hop hop;  // named: GCC 12 destroys a temporary in a co_await expression twice
    co_await settle_txn(txn, home, std::move(confirmed), std::move(hop));
  }
}

asio::awaitable<std::optional<bool>> TxnService::txn_committed(const std::string& txn,
                                                               const Hop& hop) {
  const ApiRequest request{"GET", "/txn/" + txn, {}, {}};
  auto matched = match_route(request.method, request.target);
  if (std::holds_alternative<WebError>(matched)) co_return std::nullopt;
  ApiResponse r = co_await txn_status(request, std::get<Route>(matched), hop);
  // Forgotten: a commit is forgotten only once every partition resolved it,
  // so one whose lock is still here was aborted.
  if (r.status == 404 && r.body.find("\"txn_unknown\"") != std::string::npos) co_return false;
  if (r.status != 200) co_return std::nullopt;
  co_return state_of(r) == "committed";
}

asio::awaitable<std::optional<WebError>> TxnService::overlay_txns(uint32_t partition,
                                                                  const std::string& partition_key,
                                                                  const std::string* range_key,
                                                                  TxnView* view, const Hop& hop) {
  storage::StoreEngine* store = deps_.store;
  const std::string* pk = &partition_key;
  auto locks = co_await read_between_writes(deps_.replicator, [store, partition, pk, range_key] {
    if (!range_key) return store->txn_locks(partition, *pk);
    std::map<std::string, std::string> one;
    if (auto t = store->txn_lock(partition, *pk, *range_key)) one[*range_key] = *t;
    return one;
  });
  std::set<std::string> txns;
  for (const auto& [rk, t] : locks) txns.insert(t);
  for (const auto& t : txns) {
    auto committed = co_await txn_committed(t, hop);
    if (!committed) {
      co_return WebError::unavailable(
          "txn_outcome_unavailable",
          "an item is locked by transaction " + t + ", whose outcome cannot be learned now");
    }
    if (!*committed) continue;
    const std::string* id = &t;
    auto record = co_await read_between_writes(
        deps_.replicator, [store, partition, id] { return store->txn_record(partition, *id); });
    // Resolved meanwhile: the items read already hold its writes.
    if (!record || record->state != storage::TxnRecord::State::Prepared) continue;
    for (const auto& w : record->writes) {
      if (w.partition_key != partition_key || !locks.contains(w.range_key)) continue;
      if (w.remove) {
        (*view)[w.range_key] = std::nullopt;
      } else {
        (*view)[w.range_key] =
            storage::Item{w.partition_key, w.range_key, w.message, record->version, false};
      }
    }
  }
  co_return std::nullopt;
}

asio::awaitable<size_t> TxnService::resolve_stale_txns(std::chrono::milliseconds older_than) {
  storage::StoreEngine* store = deps_.store;
  const uint32_t partitions = deps_.cluster->topology()->partitions;
  size_t resolved = 0;
  for (uint32_t p = 0; p < partitions; ++p) {
    if (!deps_.replicator->serves_reads(p)) continue;
    auto meta = store->cached_partition_meta(p);
    if (meta && meta->pending_txns <= 0) continue;
    auto prepared = co_await read_between_writes(deps_.replicator,
                                                 [store, p] { return store->prepared_txns(p); });
    for (auto& [id, record] : prepared) {
      const uint64_t prepared_ms = replication::hlc_physical_ms(record.version.hlc);
      const auto now_ms = static_cast<uint64_t>(parti::wall_clock_ms());
      if (now_ms < prepared_ms + static_cast<uint64_t>(older_than.count())) continue;
      std::string decide = "decide", abort = txn_outcome_body(false);
      const Hop start;
      ApiResponse d = co_await run_txn_step(decide, id, record.home, abort, start);
      if (d.status != 200) {
        spdlog::warn(
            "partition {}: transaction {} is unresolved and its home partition {} "
            "did not answer: {}",
            p, id, record.home, d.body);
        continue;
      }
      const bool commit = state_of(d) == "committed";
      std::string resolve = "resolve", outcome = txn_outcome_body(commit);
      ApiResponse r = co_await run_txn_step(resolve, id, p, outcome, start);
      if (r.status != 200) continue;
      ++resolved;
      deps_.metrics->count("partid_txn_recovered_total");
      spdlog::info("partition {}: resolved transaction {} ({}) that its coordinator left", p, id,
                   commit ? "committed" : "aborted");
    }
  }
  co_return resolved;
}

asio::awaitable<void> TxnService::settle_txn(std::string txn, uint32_t home,
                                             std::vector<uint32_t> resolved, Hop hop) {
  std::string settle = "settle", body = txn_outcome_body(true, resolved);
  ApiResponse r = co_await run_txn_step(settle, txn, home, body, hop);
  if (r.status == 200) deps_.metrics->count("partid_txn_settled_total");
}

bool TxnService::forgotten_by_now(const storage::TxnId& id) const {
  // Forgetting goes by the home leader's clock: half the retention spares a
  // transaction not decided yet from a node whose clock is ahead.
  const auto now = static_cast<uint64_t>(parti::wall_clock_ms());
  return id.deadline_ms &&
         now > *id.deadline_ms + static_cast<uint64_t>(options_.txn_retention.count() / 2);
}

asio::awaitable<size_t> TxnService::forget_old_txns() {
  // TXN_FORGET entries, and settles, are of the transactions' format too.
  if (deps_.cluster->writable_format() < upgrade::kTxnFormat) co_return 0;
  // The scan holds writes back while it runs: a twentieth of the retention
  // between passes is soon enough for what waits a whole retention anyway.
  const auto started = std::chrono::steady_clock::now();
  if (started < next_forget_) co_return 0;
  next_forget_ = started + options_.txn_retention / 20;
  const int64_t now = parti::wall_clock_ms();
  if (now <= options_.txn_retention.count()) co_return 0;
  const auto before_ms = static_cast<uint64_t>(now - options_.txn_retention.count());
  replication::Replicator* replicator = deps_.replicator;
  std::vector<uint32_t> led;
  for (uint32_t p = 0; p < deps_.cluster->topology()->partitions; ++p) {
    if (replicator->serves_reads(p)) led.push_back(p);
  }
  if (led.empty()) co_return 0;
  storage::StoreEngine* store = deps_.store;
  const std::vector<uint32_t>* partitions = &led;
  auto found = co_await read_between_writes(replicator, [store, partitions, before_ms] {
    return find_old_txns(*store, *partitions, before_ms);
  });
  std::vector<storage::WriteOp> ops;
  for (auto& [p, txns] : found.forgettable) {
    storage::WriteOp op;
    op.kind = storage::WriteOp::Kind::TxnForget;
    op.partition = p;
    op.txn_forget = std::move(txns);
    op.txn_forget_before_ms = before_ms;
    ops.push_back(std::move(op));
  }
  co_await settle_left_commits(std::move(found.unsettled));
  if (ops.empty()) co_return 0;
  std::vector<size_t> sizes;
  for (const auto& op : ops) sizes.push_back(op.txn_forget.size());
  auto results = co_await router_.write_local(std::move(ops));
  size_t forgotten = 0;
  for (size_t i = 0; i < results.size(); ++i) forgotten += results[i].ok ? sizes[i] : 0;
  deps_.metrics->count("partid_txn_forgotten_total", forgotten);
  co_return forgotten;
}

}  // namespace partid::api
