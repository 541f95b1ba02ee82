// api: serves one API request, wherever it came from (a client socket or a
// peer that forwarded it). It matches the route, validates the input fully,
// decides where the request must run (routing/decide_routing), and then runs
// it here (the replicator, storage reads on the disk pool) or forwards it over
// the peer transport. Every failure is a WebError; nothing is half-applied:
// a request is validated before any write is queued.
// Threading: handle() runs on the loop; blocking reads go to the disk pool.
#pragma once

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "parti/core/async.h"
#include "partid/api/cluster_view.h"
#include "partid/api/http_types.h"
#include "partid/api/item_page.h"
#include "partid/api/item_requests.h"
#include "partid/api/lock_waits.h"
#include "partid/api/metrics.h"
#include "partid/api/resize_eta.h"
#include "partid/api/route.h"
#include "partid/api/txn_requests.h"
#include "partid/api/wakeable_pauses.h"
#include "partid/peer/peer_client.h"
#include "partid/peer/peer_clocks.h"
#include "partid/peer/peer_server.h"
#include "partid/replication/replicator.h"
#include "partid/routing/decide_routing.h"
#include "partid/storage/store_engine.h"
#include "partid/storage/txn_space.h"

namespace partid::api {

namespace asio = boost::asio;

struct ApiOptions {
  Limits limits;
  uint32_t hop_limit = 3;
  std::chrono::milliseconds forward_timeout{5000};
  size_t max_relayed_bytes = size_t{256} << 20;  // see NodeConfig::max_relayed_bytes
  size_t max_answer_bytes = size_t{256} << 20;   // see NodeConfig::max_answer_bytes
  std::chrono::milliseconds hold{0};             // see NodeConfig::hold_ms
  std::string admin_token;                       // empty: admin routes answer 403
  // A transaction's deadline is this long after it starts (NodeConfig).
  std::chrono::milliseconds txn_timeout{10000};
  // Its records and decision are kept this long past its deadline.
  std::chrono::milliseconds txn_retention{600000};
};

struct ApiDeps {
  asio::thread_pool* disk = nullptr;
  storage::StoreEngine* store = nullptr;
  replication::Replicator* replicator = nullptr;
  peer::PeerClient* peers = nullptr;
  const peer::PeerServer* peer_server = nullptr;  // for its counters; may be null
  // Reads a forward's deadline, set on its sender's clock, on this node's.
  // Must be set where forwards arrive (a Hop with a deadline).
  const peer::PeerClocks* clocks = nullptr;
  // Calls its second argument once the named node's clock is measured or
  // will not be soon (node::ClockProbe::when_measured); may be empty: a
  // forward from a node never measured is then judged on the assumed bound.
  std::function<void(const std::string&, std::function<void()>)> measure_clock;
  Metrics* metrics = nullptr;
  ClusterView* cluster = nullptr;
  // Starts this node's clean leave (Node::drain, then exit); may return first.
  std::function<void()> request_stop;
  // Reads and builds the answers too large to make on the loop (a listing
  // past kInlineAnswerBytes or kInlineAnswerItems), so neither the loop's
  // other requests nor the disk pool's writes wait for them. Must be set for
  // item listings.
  asio::thread_pool* bulk = nullptr;
};

// A layout record as the API shows it (GET /cluster/topology, POST /cluster/split).
nlohmann::json layout_json(const routing::LayoutRecord& record);

// The error a failed write is answered with (a refusal is a 409).
WebError write_error(const replication::WriteResult& r);

class ApiService {
 public:
  ApiService(ApiDeps deps, ApiOptions options);
  asio::awaitable<ApiResponse> handle(ApiRequest request, Hop hop);
  // Finishes the transactions prepared in partitions this node leads that
  // are older than `older_than` (their coordinator is gone or stuck): records
  // an abort in the home partition unless an outcome stands there already,
  // then resolves with the one that stands. Returns how many it resolved.
  asio::awaitable<size_t> resolve_stale_txns(std::chrono::milliseconds older_than);
  // Erases, in partitions this node leads, what transactions past their
  // deadline by more than the retention left that nothing needs any more
  // (storage::can_forget). Returns how many transactions it forgot.
  asio::awaitable<size_t> forget_old_txns();
  // split_handlers.cpp: hands items copied by a split or merge (`body`: as
  // replication::encode_snapshot writes them) to the leader of its target
  // `target`, which writes them through that partition's log; 200 once a
  // quorum has them. Repeats while the partition changes hands, like a
  // transaction's step.
  // With `adopt_above` (a merge, `body` empty): has the target take the
  // merged keys over once its log is past that sequence.
  asio::awaitable<ApiResponse> send_split_import(uint32_t target, std::string body,
                                                 std::optional<uint64_t> adopt_above = {});
  // The node swapped in a new topology: held requests try again at once.
  void topology_changed() { held_.wake(); }

 private:
  // Whether a forward came too late to serve; puts its deadline on our clock.
  asio::awaitable<bool> expired_on_arrival(Hop& hop);
  asio::awaitable<ApiResponse> dispatch_holding(const ApiRequest& request, const Route& route,
                                                const Hop& hop,
                                                std::chrono::steady_clock::time_point started);
  asio::awaitable<ApiResponse> dispatch(const ApiRequest& request, const Route& route,
                                        const Hop& hop);
  // items
  asio::awaitable<ApiResponse> put_item(const ApiRequest& request, const Hop& hop);
  asio::awaitable<ApiResponse> put_batch(const ApiRequest& request, const Hop& hop);
  asio::awaitable<ApiResponse> get_items(const ApiRequest& request, const Route& route,
                                         const Hop& hop);
  asio::awaitable<ApiResponse> get_one(uint32_t partition, const Route& route, const Hop& hop);
  // One page of a partition key's items as committed transactions leave them,
  // with the cursor of the next page when there is one.
  asio::awaitable<ApiResponse> list_page(uint32_t partition, const std::string& partition_key,
                                         storage::ItemPage page, const Hop& hop);
  // From memory on the loop when RocksDB can and the page is small, on the
  // bulk pool when it is larger, else (not in memory) on the disk pool.
  asio::awaitable<std::vector<storage::Item>> read_page(uint32_t partition,
                                                        const std::string& partition_key,
                                                        const storage::ItemPage& page);
  // The answer's text of `listing`: on the loop when small, else on the bulk
  // pool.
  asio::awaitable<std::string> page_text(const std::string& partition_key, uint32_t partition,
                                         const ItemListing* listing);
  asio::awaitable<ApiResponse> delete_items(const ApiRequest& request, const Route& route,
                                            const Hop& hop);
  asio::awaitable<ApiResponse> counts(const Route& route, const Hop& hop);
  // cluster
  ApiResponse topology() const;
  ApiResponse status() const;
  ApiResponse health() const;
  asio::awaitable<ApiResponse> metrics();
  ApiResponse dashboard() const;
  asio::awaitable<ApiResponse> admin(const ApiRequest& request, const Route& route);
  // The partition an admin request names, once its token is checked.
  asio::awaitable<ApiResponse> drain(const ApiRequest& request, const Route& route, const Hop& hop);
  std::optional<WebError> admin_refusal(const ApiRequest& request) const;
  std::variant<uint32_t, WebError> admin_partition(const ApiRequest& request,
                                                   const Route& route) const;
  // validation.cpp: GET /admin/partitions/{p}/check (this replica) and
  // /validate (every replica, compared).
  asio::awaitable<ApiResponse> admin_read(const ApiRequest& request, const Route& route,
                                          const Hop& hop);
  // `scan_items` false: the log and metadata only (validate's second pass).
  asio::awaitable<nlohmann::json> check_replica(uint32_t partition, uint64_t from, uint64_t to,
                                                bool scan_items);
  asio::awaitable<nlohmann::json> ask_replica(const std::string& node, uint32_t partition,
                                              uint64_t from, uint64_t to, bool scan_items,
                                              const ApiRequest& request, const Hop& hop);
  asio::awaitable<ApiResponse> validate(uint32_t partition, const ApiRequest& request,
                                        const Hop& hop);
  // resize.cpp: GET /cluster/resize, and what this node reports to it.
  asio::awaitable<ApiResponse> resize(const Route& route, const Hop& hop);
  asio::awaitable<nlohmann::json> local_progress();
  // The cluster-wide answer, from this node's own report and every other
  // node's. Only once the topology is ready.
  asio::awaitable<nlohmann::json> cluster_progress(nlohmann::json mine, const Hop& hop);
  // ?scope=node|cluster (default cluster): a bad value, and whether it is node.
  static std::optional<WebError> scope_error(const Route& route);
  static bool node_scope(const Route& route);
  // Every other node's answer to GET `target` over the peer transport, one
  // after another; a node whose answer fails or lacks `required` is unreachable.
  struct NodeReports {
    std::map<std::string, nlohmann::json> answers;
    std::vector<std::string> unreachable;
  };
  asio::awaitable<NodeReports> ask_every_node(const std::string& target, const Hop& hop,
                                              const char* required);
  // Durable item counts of every partition in this node's store.
  asio::awaitable<std::map<uint32_t, int64_t>> read_counts();
  // Counts of the partitions this node leads.
  nlohmann::json local_counts(const std::map<uint32_t, int64_t>& item_counts) const;

  // split_handlers.cpp: POST /cluster/split, POST /split/{p}/import, and
  // why a key's partition cannot serve it here (a split froze or moved it;
  // the sender's layout may be out of date).
  // A partition a transaction names (its home, or where it prepared), as
  // the layout has it now: the partition it merged into once it is gone
  // (routing::LayoutRecord::owner_of).
  uint32_t owner_of(uint64_t partition) const;
  // The partition holding transaction `txn`'s decision now; nullopt when
  // the id does not parse or names no partition.
  std::optional<uint32_t> current_home(const std::string& txn) const;
  // Calls `attempt` until it answers neither 503 (no leader right now) nor
  // 504 (outcome unknown), pausing as the hold does, for up to --hold-ms;
  // for requests this node makes of the cluster whose repeat changes
  // nothing (a transaction's step, a copy into a split's target).
  asio::awaitable<ApiResponse> repeat_while_passing(
      std::function<asio::awaitable<ApiResponse>()> attempt, const char* retries_metric);
  // POST /cluster/split and /cluster/merge.
  asio::awaitable<ApiResponse> reshape(const ApiRequest& request, routing::SplitPlan::Kind kind);
  // The items of a split or merge being copied, as write ops into `target`;
  // a WebError when the batch is not one or holds a key that does not go there.
  std::variant<std::vector<storage::WriteOp>, WebError> import_ops(
      const routing::LayoutRecord& record, uint32_t target, const std::string& body) const;
  // Merge only: pads `target`'s log past sequence `above`, then has it take
  // the merged keys over (MergeAdopt).
  asio::awaitable<ApiResponse> adopt(const routing::LayoutRecord& record, uint32_t target,
                                     uint64_t above);
  asio::awaitable<ApiResponse> split_import(const ApiRequest& request, const Route& route,
                                            const Hop& hop);
  std::optional<WebError> split_refusal(uint32_t partition, const std::string& partition_key) const;
  // A new transaction's prepare in a partition whose split or merge is to
  // freeze it: the freeze needs a moment with nothing prepared there, which
  // a steady stream of transactions would never leave.
  std::optional<WebError> freezing_refusal(uint32_t partition) const;

  // txn_handlers.cpp: transactions across partitions (POST /txn, GET
  // /txn/{id}, the steps, and what a read of a locked item must see).
  struct TxnStepCall {
    std::string step;
    std::string txn;
    uint32_t partition = 0;
    std::string body;
  };
  asio::awaitable<ApiResponse> txn(const ApiRequest& request, const Hop& hop);
  // A new transaction's deadline: now + --txn-timeout-ms + `leaders_ahead`,
  // or the deadline of the attempt it retries (txn_expired once that has
  // passed).
  std::variant<uint64_t, WebError> txn_deadline(std::optional<uint64_t> retry_deadline_ms,
                                                std::chrono::milliseconds leaders_ahead) const;
  // How far ahead of this node's clock the clock of any node that may lead a
  // partition (the assignment's workers) may run (peer/peer_clocks.h).
  std::chrono::milliseconds leaders_ahead() const;
  // Why no transaction may begin now: some node cannot read their entries
  // (upgrade/formats.h); nullopt when one may.
  // Raises the cluster's active format first if the live nodes allow it.
  // Why something that needs data format `needed` may not be written now
  // (`what_needs`, e.g. "a split needs", opens the message); nullopt when it
  // may. Raises the cluster's active format first if the live nodes allow it.
  asio::awaitable<std::optional<WebError>> format_refusal(uint32_t needed, std::string what_needs);
  asio::awaitable<std::optional<WebError>> txn_format_refusal(
      const std::vector<storage::TxnWrite>& writes);
  asio::awaitable<ApiResponse> txn_in_one_partition(const std::string& id, uint32_t home,
                                                    const std::vector<storage::TxnWrite>& writes,
                                                    const Hop& hop);
  asio::awaitable<ApiResponse> txn_status(const ApiRequest& request, const Route& route,
                                          const Hop& hop);
  // `trusted`: asked by this node itself (as coordinator or in recovery).
  asio::awaitable<ApiResponse> txn_step(const ApiRequest& request, const Route& route,
                                        const Hop& hop, bool trusted);
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
  // What committed transactions not yet resolved in `partition` make of the
  // items read into `view` (range key -> item, nullopt: deleted): one item
  // (range_key) or every item of the partition key (nullptr).
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
  asio::awaitable<std::optional<WebError>> overlay_txns(uint32_t partition,
                                                        const std::string& partition_key,
                                                        const std::string* range_key, TxnView* view,
                                                        const Hop& hop);

  routing::RouteDecision route_for(uint32_t partition, routing::Access access,
                                   const Hop& hop) const;
  // The answer when the request must not run here (routing failed, or the
  // leader answered it after forwarding); nullopt when it runs here.
  asio::awaitable<std::optional<ApiResponse>> serve_elsewhere(uint32_t partition,
                                                              routing::Access access,
                                                              const ApiRequest& request,
                                                              const Hop& hop);
  asio::awaitable<ApiResponse> forward(const routing::RouteDecision& to, const std::string& method,
                                       const std::string& target, const std::string& body,
                                       const Hop& hop, const std::string& authorization = {});
  // Pulls the parts after the first of an answer `from` keeps (api/forward.cpp)
  // onto `body`; an error answer when that fails.
  asio::awaitable<std::optional<ApiResponse>> pull_rest(const routing::RouteDecision& from,
                                                        uint64_t answer, uint64_t total_bytes,
                                                        std::string* body);
  // Replicates ops whose partitions this node leads.
  asio::awaitable<std::vector<replication::WriteResult>> write_local(
      std::vector<storage::WriteOp> ops);
  uint32_t partition_of(const std::string& partition_key) const;
  // Why this node cannot answer a read it was routed, if it cannot. A leader
  // read first confirms this node still leads (Replicator::confirm_read), so
  // a deposed leader that has not heard of its successor answers 503, never
  // stale data.
  asio::awaitable<std::optional<WebError>> read_refusal(uint32_t partition, routing::Access access);

  ApiDeps deps_;
  ApiOptions options_;
  ResizeEtaTracker resize_eta_;  // loop only: the baseline of the resize in progress
  std::mt19937_64 txn_random_{std::random_device{}()};   // transaction ids
  std::chrono::steady_clock::time_point next_forget_{};  // forget_old_txns's next pass
  LockWaits locks_;
  // The pauses of held requests (dispatch_holding) and of the requests this
  // node repeats (repeat_while_passing): most of what they wait for (a
  // split's keys served by their new partition, a new leader appointed)
  // comes with a new topology, which ends them (topology_changed). What
  // often follows it (the new leader's sealing) announces nothing here, so
  // the pauses start short again after a wake-up. Topologies are rare
  // (one per assignment or layout change): a wake-up is no retry storm.
  WakeablePauses held_;
};

}  // namespace partid::api
