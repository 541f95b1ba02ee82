// api: the refusals several kinds of request share, each a check of the
// request or of this node's state that either lets the request go on or says
// why not, as the one error shape.
#pragma once

#include <optional>
#include <string>

#include "parti/core/async.h"
#include "partid/api/cluster_view.h"
#include "partid/api/http_types.h"
#include "partid/api/web_error.h"
#include "partid/routing/topology.h"
#include "partid/storage/store_engine.h"

namespace partid::api {

namespace asio = boost::asio;

// An admin route without the node's admin token (403 when the node has
// none: admin operations are disabled; 401 for a wrong one).
std::optional<WebError> admin_refusal(const ApiRequest& request, const std::string& admin_token);
// Why a key's partition cannot serve it here: a split or merge froze or
// moved it (the sender's layout may be out of date); nullopt when it can.
std::optional<WebError> split_refusal(const storage::StoreEngine& store, uint32_t partition,
                                      const std::string& partition_key);
// A new transaction's prepare in a partition whose split or merge is to
// freeze it: the freeze needs a moment with nothing prepared there, which a
// steady stream of transactions would never leave.
std::optional<WebError> freezing_refusal(const routing::Topology& topology, uint32_t partition);
// Why something that needs data format `needed` may not be written now
// (`what_needs`, e.g. "a split needs", opens the message); nullopt when it
// may. Raises the cluster's active format first if the live nodes allow it.
asio::awaitable<std::optional<WebError>> format_refusal(ClusterView* cluster, uint32_t needed,
                                                        std::string what_needs);

}  // namespace partid::api
