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
#include <set>
#include <string>
#include <vector>

#include "parti/core/async.h"
#include "partid/api/api_deps.h"
#include "partid/api/cluster_view.h"
#include "partid/api/http_types.h"
#include "partid/api/item_page.h"
#include "partid/api/item_requests.h"
#include "partid/api/lock_waits.h"
#include "partid/api/metrics.h"
#include "partid/api/refusals.h"
#include "partid/api/request_router.h"
#include "partid/api/resize_eta.h"
#include "partid/api/route.h"
#include "partid/api/txn_requests.h"
#include "partid/api/txn_service.h"
#include "partid/peer/peer_client.h"
#include "partid/peer/peer_clocks.h"
#include "partid/peer/peer_server.h"
#include "partid/replication/replicator.h"
#include "partid/routing/decide_routing.h"
#include "partid/storage/store_engine.h"
#include "partid/storage/txn_space.h"

namespace partid::api {

namespace asio = boost::asio;

// A layout record as the API shows it (GET /cluster/topology, POST /cluster/split).
nlohmann::json layout_json(const routing::LayoutRecord& record);

class ApiService {
 public:
  ApiService(ApiDeps deps, ApiOptions options);
  asio::awaitable<ApiResponse> handle(ApiRequest request, Hop hop);
  // split_handlers.cpp: hands items copied by a split or merge (`body`: as
  // replication::encode_snapshot writes them) to the leader of its target
  // `target`, which writes them through that partition's log; 200 once a
  // quorum has them. Repeats while the partition changes hands, like a
  // transaction's step.
  // With `adopt_above` (a merge, `body` empty): has the target take the
  // merged keys over once its log is past that sequence.
  asio::awaitable<ApiResponse> send_split_import(uint32_t target, std::string body,
                                                 std::optional<uint64_t> adopt_above = {});
  // Transactions: their recovery's passes (TxnRecovery) ask it directly.
  TxnService& txns() { return txns_; }
  // The node swapped in a new topology: held requests try again at once.
  void topology_changed() { router_.pauses().wake(); }

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

  // split_handlers.cpp: POST /cluster/split, POST /split/{p}/import.
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

  ApiDeps deps_;
  ApiOptions options_;
  ResizeEtaTracker resize_eta_;  // loop only: the baseline of the resize in progress
  RequestRouter router_;
  LockWaits locks_;
  TxnService txns_;
};

}  // namespace partid::api
