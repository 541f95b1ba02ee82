// api: the item routes of ApiService (DESIGN section 5).
#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "partid/api/api_service.h"
#include "partid/api/item_page.h"
#include "partid/api/json_out.h"

namespace partid::api {
namespace {

using nlohmann::json;
using routing::Access;
using routing::RouteDecision;

// Fields in key order, as dump() would sort them.
std::string item_body(const storage::Item& item, uint32_t partition) {
  return JsonObject()
      .field("hlc", item.version.hlc)
      .field("message", item.message)
      .field("partition", partition)
      .field("partition_key", item.partition_key)
      .field("range_key", item.range_key)
      .field("sequence", item.version.sequence)
      .take();
}

// 400 response_too_large: not even one item fits in an answer.
WebError no_item_fits(size_t budget) {
  return WebError::bad_request(
      "response_too_large",
      fmt::format("the newest item left holds more than {} bytes (--max-answer-bytes), the most "
                  "an answer carries: read it alone with GET /items/{{pk}}/{{rk}}",
                  budget));
}

storage::WriteOp put_op(const ItemWrite& w, uint32_t partition) {
  storage::WriteOp op;
  op.kind = storage::WriteOp::Kind::Put;
  op.partition = partition;
  op.partition_key = w.partition_key;
  op.range_key = w.range_key;
  op.message = w.message;
  return op;
}

}  // namespace

asio::awaitable<ApiResponse> ApiService::put_item(const ApiRequest& request, const Hop& hop) {
  auto parsed = parse_item_write(request.body, options_.limits);
  if (auto* e = std::get_if<WebError>(&parsed)) co_return ApiResponse::error(*e);
  const ItemWrite& w = std::get<ItemWrite>(parsed);
  const uint32_t p = router_.partition_of(w.partition_key);
  if (auto elsewhere = co_await router_.serve_elsewhere(p, Access::Write, request, hop)) {
    co_return std::move(*elsewhere);
  }
  co_await locks_.for_item(p, w.partition_key, &w.range_key, hop);
  // Named, not a braced temporary: GCC 12 mishandles temporaries in co_await.
  std::vector<storage::WriteOp> ops{put_op(w, p)};
  auto results = co_await router_.write_local(std::move(ops));
  if (!results[0].ok) co_return ApiResponse::error(write_error(results[0]));
  co_return ApiResponse::json(200, JsonObject()
                                       .field("hlc", results[0].hlc)
                                       .field("partition", p)
                                       .field("partition_key", w.partition_key)
                                       .field("range_key", w.range_key)
                                       .field("sequence", results[0].sequence)
                                       .take());
}

asio::awaitable<ApiResponse> ApiService::put_batch(const ApiRequest& request, const Hop& hop) {
  auto parsed = parse_batch(request.body, options_.limits);
  if (auto* e = std::get_if<WebError>(&parsed)) co_return ApiResponse::error(*e);
  const auto& items = std::get<std::vector<ItemWrite>>(parsed);
  // Route every item first: a routing failure anywhere refuses the whole batch
  // before anything is written.
  std::vector<json> results(items.size());
  std::vector<storage::WriteOp> local;
  std::vector<size_t> local_index;
  std::map<std::string, std::pair<RouteDecision, std::vector<size_t>>> remote;
  for (size_t i = 0; i < items.size(); ++i) {
    const uint32_t p = router_.partition_of(items[i].partition_key);
    RouteDecision d = router_.route_for(p, Access::Write, hop);
    if (d.kind == RouteDecision::Kind::Fail) co_return ApiResponse::error(d.error);
    if (d.kind == RouteDecision::Kind::Local) {
      local.push_back(put_op(items[i], p));
      local_index.push_back(i);
    } else {
      auto& group = remote[d.node];
      group.first = d;
      group.second.push_back(i);
    }
  }
  std::optional<WebError> first_error;
  auto fail = [&](size_t i, const WebError& e) {
    results[i] = {{"error", {{"code", e.code}, {"message", e.message}}}};
    if (!first_error) first_error = e;
  };
  if (!local.empty()) {
    co_await locks_.for_batch(local, hop);
    std::vector<uint32_t> partitions;
    for (const auto& op : local) partitions.push_back(op.partition);
    auto written = co_await router_.write_local(std::move(local));
    for (size_t k = 0; k < written.size(); ++k) {
      if (written[k].ok) {
        results[local_index[k]] = {{"partition", partitions[k]},
                                   {"sequence", written[k].sequence},
                                   {"hlc", written[k].hlc}};
      } else {
        fail(local_index[k], write_error(written[k]));
      }
    }
  }
  for (auto& [node, group] : remote) {
    json sub = {{"items", json::array()}};
    for (size_t i : group.second) {
      sub["items"].push_back({{"partition_key", items[i].partition_key},
                              {"range_key", items[i].range_key},
                              {"message", items[i].message}});
    }
    const std::string method = "POST", target = "/items/batch", sub_body = dump(sub);
    ApiResponse r = co_await router_.forward(group.first, method, target, sub_body, hop);
    json body = json::parse(r.body, nullptr, false);
    const bool has_results = body.is_object() && body.contains("results") &&
                             body["results"].is_array() &&
                             body["results"].size() == group.second.size();
    for (size_t k = 0; k < group.second.size(); ++k) {
      if (has_results) {
        results[group.second[k]] = body["results"][k];
        if (body["results"][k].contains("error") && !first_error) {
          first_error = WebError{r.status, body["results"][k]["error"].value("code", ""),
                                 body["results"][k]["error"].value("message", "")};
        }
      } else {
        // The node's own refusal keeps its code: forward_interrupted (outcome
        // unknown) must not read as forward_failed (nothing sent).
        const bool coded = body.is_object() && body.contains("error") && body["error"].is_object();
        fail(group.second[k],
             WebError{r.status,
                      coded ? body["error"].value("code", "forward_failed") : "forward_failed",
                      coded ? body["error"].value("message", r.body) : r.body});
      }
    }
  }
  json out = {{"results", results}};
  if (!first_error) co_return ApiResponse::json(200, dump(out));
  out["error"] = {{"code", first_error->code}, {"message", first_error->message}};
  ApiResponse failed = ApiResponse::json(first_error->status, dump(out));
  failed.retry_after_s = first_error->retry_after_s;
  co_return failed;
}

asio::awaitable<ApiResponse> ApiService::get_items(const ApiRequest& request, const Route& route,
                                                   const Hop& hop) {
  auto keys = check_keys(route.partition_key, route.range_key, options_.limits);
  if (auto* e = std::get_if<WebError>(&keys)) co_return ApiResponse::error(*e);
  uint64_t limit = 100;
  if (!query_u64(route, "limit", &limit) || limit == 0 || limit > 10000) {
    co_return ApiResponse::error(
        WebError::bad_request("bad_limit", "limit must be an integer in 1..10000"));
  }
  std::optional<std::string> after;
  if (auto it = route.query.find("after"); it != route.query.end()) {
    if (it->second.size() > options_.limits.max_key_bytes) {
      co_return ApiResponse::error(WebError::bad_request(
          "bad_after", "after is a range key: at most " +
                           std::to_string(options_.limits.max_key_bytes) + " bytes"));
    }
    after = it->second;
  }
  Access access = Access::Read;
  if (auto it = route.query.find("consistency"); it != route.query.end()) {
    if (it->second == "replica") {
      access = Access::ReplicaRead;
    } else if (it->second != "leader") {
      co_return ApiResponse::error(
          WebError::bad_request("bad_consistency", "consistency is 'leader' or 'replica'"));
    }
  }
  const uint32_t p = router_.partition_of(route.partition_key);
  if (auto elsewhere = co_await router_.read_elsewhere(p, access, request, hop)) {
    co_return std::move(*elsewhere);
  }
  if (auto moving = split_refusal(*deps_.store, p, route.partition_key))
    co_return ApiResponse::error(*moving);
  if (route.kind == Route::Kind::GetItem) co_return co_await get_one(p, route, hop);
  storage::ItemPage page{.limit = limit, .max_bytes = options_.max_answer_bytes, .below = after};
  co_return co_await list_page(p, route.partition_key, page, hop);
}

asio::awaitable<ApiResponse> ApiService::get_one(uint32_t p, const Route& route, const Hop& hop) {
  storage::StoreEngine* store = deps_.store;
  const std::string* pk = &route.partition_key;
  const std::string* rk = &route.range_key;
  // Served from memory on the loop when RocksDB can (no I/O, no thread hop);
  // only a read that needs the disk goes to the disk pool.
  std::optional<storage::Item> item;
  if (auto cached = store->get_cached(p, *pk, *rk)) {
    item = std::move(*cached);
  } else {
    item = co_await parti::run_blocking(*deps_.disk,
                                        [store, p, pk, rk] { return store->get(p, *pk, *rk); });
  }
  if (locks_.may_hold_locks(p)) {
    TxnView view;
    if (auto e = co_await txns_.overlay_txns(p, *pk, rk, &view, hop))
      co_return ApiResponse::error(*e);
    if (auto it = view.find(*rk); it != view.end()) item = std::move(it->second);
  }
  if (!item) co_return ApiResponse::error(WebError::not_found("no such item"));
  co_return ApiResponse::json(200, item_body(*item, p));
}

asio::awaitable<std::vector<storage::Item>> ApiService::read_page(uint32_t p, const std::string& pk,
                                                                  const storage::ItemPage& page) {
  // The page's head (its first kInlineAnswerItems, at most kInlineAnswerBytes)
  // is read where it can be (memory on the loop, else the disk pool); a page
  // larger than that is read again whole on the bulk pool, which the disk
  // pool's writes do not wait for.
  storage::StoreEngine* store = deps_.store;
  const storage::ItemPage head = inline_head(page);
  const storage::ItemPage* head_page = &head;
  std::optional<std::vector<storage::Item>> read = store->get_many_cached(p, pk, head);
  if (!read) {
    read = co_await parti::run_blocking(
        *deps_.disk, [store, p, &pk, head_page] { return store->get_many(p, pk, *head_page); });
  }
  if (head_is_whole(*read, head, page)) co_return std::move(*read);
  deps_.metrics->count("partid_large_answers_total");
  const storage::ItemPage* whole = &page;
  co_return co_await parti::run_blocking(
      *deps_.bulk, [store, p, &pk, whole] { return store->get_many(p, pk, *whole); });
}

asio::awaitable<std::string> ApiService::page_text(const std::string& pk, uint32_t p,
                                                   const ItemListing* listing) {
  if (answered_inline(listing->items)) {
    co_return page_json(pk, p, *listing);
  }
  co_return co_await parti::run_blocking(*deps_.bulk,
                                         [&pk, p, listing] { return page_json(pk, p, *listing); });
}

asio::awaitable<ApiResponse> ApiService::list_page(uint32_t p, const std::string& pk,
                                                   storage::ItemPage page, const Hop& hop) {
  // The answer is built whole in memory (twice over, as JSON and as text):
  // the read stops once range keys and messages pass max_bytes, and the page
  // ends before the item that passed them. One item past the limit is read to
  // tell whether the listing goes on.
  const size_t limit = page.limit;
  page.limit = limit + 1;
  std::vector<storage::Item> read = co_await read_page(p, pk, page);
  ItemListing listing = take_page(std::move(read), limit);
  if (!fit_to_bytes(&listing, page.max_bytes)) {
    co_return ApiResponse::error(no_item_fits(page.max_bytes));
  }
  if (locks_.may_hold_locks(p)) {
    TxnView view;
    const std::string* every_item = nullptr;
    if (auto e = co_await txns_.overlay_txns(p, pk, every_item, &view, hop)) {
      co_return ApiResponse::error(*e);
    }
    keep_below(&view, page.below);
    if (!view.empty()) {
      // The view may remove items: read enough that `limit` remain.
      const size_t wider = limit + view.size();
      page.limit = wider + 1;
      read = co_await read_page(p, pk, page);
      ItemListing stored = take_page(std::move(read), wider);
      const bool fits = fit_to_bytes(&stored, page.max_bytes);
      listing = overlay_page(std::move(stored), view, limit);
      // Again for what the view added.
      if (!fits || !fit_to_bytes(&listing, page.max_bytes)) {
        co_return ApiResponse::error(no_item_fits(page.max_bytes));
      }
    }
  }
  std::string text = co_await page_text(pk, p, &listing);
  co_return ApiResponse::json(200, std::move(text));
}

asio::awaitable<ApiResponse> ApiService::delete_items(const ApiRequest& request, const Route& route,
                                                      const Hop& hop) {
  auto keys = check_keys(route.partition_key, route.range_key, options_.limits);
  if (auto* e = std::get_if<WebError>(&keys)) co_return ApiResponse::error(*e);
  const uint32_t p = router_.partition_of(route.partition_key);
  if (auto elsewhere = co_await router_.serve_elsewhere(p, Access::Write, request, hop)) {
    co_return std::move(*elsewhere);
  }
  storage::WriteOp op;
  op.kind = route.kind == Route::Kind::DeleteItem ? storage::WriteOp::Kind::Delete
                                                  : storage::WriteOp::Kind::DeleteAll;
  op.partition = p;
  op.partition_key = route.partition_key;
  op.range_key = route.range_key;
  const bool one_item = op.kind == storage::WriteOp::Kind::Delete;
  co_await locks_.for_item(p, route.partition_key, one_item ? &route.range_key : nullptr, hop);
  std::vector<storage::WriteOp> ops{op};
  auto results = co_await router_.write_local(std::move(ops));
  if (!results[0].ok) co_return ApiResponse::error(write_error(results[0]));
  co_return ApiResponse::json(200, dump({{"partition_key", route.partition_key},
                                         {"range_key", route.range_key},
                                         {"partition", p},
                                         {"sequence", results[0].sequence},
                                         {"deleted", true}}));
}

}  // namespace partid::api
