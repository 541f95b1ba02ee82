// api: the JSON of transactions across partitions (POST /txn and the steps
// nodes ask each other for), parsed and validated completely before anything
// is written, and the transaction id. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "partid/api/item_requests.h"
#include "partid/api/web_error.h"
#include "partid/storage/store_engine.h"

namespace partid::api {

// POST /txn:
// {"writes": [{"partition_key": str, "range_key"?: str, "message": str} or
//             {"partition_key": str, "range_key"?: str, "delete": true}, ...],
//  "retry_of"?: id}
// At most limits.max_batch_items writes, no item twice. retry_of is the id an
// earlier attempt of the same transaction was refused with: the new attempt
// keeps that attempt's deadline, and with it its age in the wait-die order
// (storage::txn_older), so a transaction retried after refusals grows older
// than the newer ones that refused it instead of starving behind them.
struct TxnRequest {
  std::vector<storage::TxnWrite> writes;
  std::optional<uint64_t> retry_deadline_ms;  // retry_of's deadline
};
std::variant<TxnRequest, WebError> parse_txn(std::string_view body, const Limits& limits);

// A step's body: {"home": n, "writes": [...]} (prepare, commit) or
// {"commit": bool, "partitions"?: [n, ...]} (decide: the partitions a commit
// must be resolved in; settle: the ones it is resolved in; resolve: none).
struct TxnStepBody {
  uint32_t home = 0;
  std::vector<storage::TxnWrite> writes;
  bool commit = false;
  std::vector<uint32_t> partitions;
};
std::variant<TxnStepBody, WebError> parse_txn_step(std::string_view step, std::string_view body,
                                                   const Limits& limits);
std::string txn_prepare_body(uint32_t home, const std::vector<storage::TxnWrite>& writes);
std::string txn_outcome_body(bool commit, const std::vector<uint32_t>& partitions = {});

}  // namespace partid::api
