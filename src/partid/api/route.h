// api: maps a method and a target to one of the API's routes. Path segments
// are percent-decoded and must be valid UTF-8; an unknown path is 404, a known
// path with the wrong method 405. Pure: no I/O, unit tested.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "partid/api/web_error.h"

namespace partid::api {

struct Route {
  enum class Kind {
    PutItem,      // POST /items
    PutBatch,     // POST /items/batch
    GetItems,     // GET /items/{pk}
    GetItem,      // GET /items/{pk}/{rk}
    DeleteItems,  // DELETE /items/{pk}
    DeleteItem,   // DELETE /items/{pk}/{rk}
    Counts,       // GET /items
    Topology,     // GET /cluster/topology
    Status,       // GET /cluster/status
    Resize,       // GET /cluster/resize
    Health,       // GET /health
    Metrics,      // GET /metrics
    Dashboard,    // GET /
    Admin,        // POST /admin/partitions/{p}/{operation} (p in partition_key,
                  // the operation in range_key)
    AdminRead,    // GET /admin/partitions/{p}/{check|validate}
    Drain,        // POST /cluster/drain/{node} (the node in partition_key)
    Txn,          // POST /txn: a transaction across partitions
    TxnStatus,    // GET /txn/{id} (the id in partition_key)
    TxnStep,      // POST /txn/{id}/{prepare|decide|resolve|commit}?partition=p: between
                  // nodes (the id in partition_key, the step in range_key)
    Split,        // POST /cluster/split: split the layout's next partition
    Merge,        // POST /cluster/merge: merge the layout's last partition back
    SplitImport,  // POST /split/{p}/import: items copied into a split's new
                  // partition, between nodes (p in partition_key)
  };
  Kind kind = Kind::Health;
  std::string partition_key;
  std::string range_key;
  std::map<std::string, std::string> query;

  bool is_write() const {
    return kind == Kind::PutItem || kind == Kind::PutBatch || kind == Kind::DeleteItems ||
           kind == Kind::DeleteItem;
  }
  bool is_item_read() const {
    return kind == Kind::GetItem || kind == Kind::GetItems || kind == Kind::Counts;
  }
};

std::variant<Route, WebError> match_route(std::string_view method, std::string_view target);

// Percent-decodes one path segment, or a query value when `plus_is_space`;
// nullopt on a bad escape.
std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space = false);
// A whole decimal number (no sign, no trailing bytes); nullopt otherwise.
std::optional<uint64_t> parse_u64(const std::string& text);
// Query value `name` as parse_u64 reads it into *out; true when absent (*out
// unchanged), false when present and not a number.
bool query_u64(const Route& route, const char* name, uint64_t* out);
// Query value `name` as a flag ("true"/"1" or "false"/"0") into *out; true
// when absent (*out unchanged), false when present and anything else.
bool query_flag(const Route& route, const char* name, bool* out);
std::string percent_encode(std::string_view in);
bool is_valid_utf8(std::string_view s);
// Short name of a route for metrics labels.
const char* route_name(Route::Kind k);

}  // namespace partid::api
