// cli: partictl's item commands: put, get (one item, a page of a key's items,
// or all of them), delete, list (counts per node), and transactions across
// partitions (txn, txn-status).
#include <charconv>
#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "partid/api/route.h"
#include "partid/cli/commands.h"
#include "partid/cli/output.h"

namespace partid::cli {
namespace {

using nlohmann::json;

// Every page of a partition key's items (get --all), following each page's
// cursor: one answer holding them all, as if one page had; the first page
// that fails otherwise. `target` is without a cursor; `after`, if set, the
// one to start from.
HttpResult every_page(const Globals& g, const std::string& target,
                      std::optional<std::string> after) {
  json items = json::array();
  for (;;) {
    const std::string page_target =
        after ? target + "&after=" + partid::api::percent_encode(*after) : target;
    HttpResult r = http_request(node_url(g), "GET", page_target);
    json page = json::parse(r.body, nullptr, false);
    if (r.status != 200 || !page.is_object() || !page["items"].is_array()) return r;
    for (auto& item : page["items"]) items.push_back(std::move(item));
    if (!page.contains("next")) {
      page["items"] = std::move(items);
      r.body = page.dump();
      return r;
    }
    std::string next = page["next"].is_string() ? page["next"].get<std::string>() : "";
    if (after && next >= *after) {  // a cursor that does not move on would loop forever
      r.status = 0;
      r.error = "the node's page after " + json(*after).dump() + " did not move on";
      return r;
    }
    after = std::move(next);
  }
}

// The id of a transaction refused by an older one's lock (409 txn_conflict),
// which a retry names as retry_of; nothing for any other answer.
std::optional<std::string> refused_by_older_lock(const HttpResult& r) {
  if (r.status != 409) return std::nullopt;
  const json j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("txn") || !j["txn"].is_string() || !j.contains("error") ||
      !j["error"].is_object() || j["error"].value("code", "") != "txn_conflict") {
    return std::nullopt;
  }
  return j["txn"].get<std::string>();
}

// POST /txn, repeated up to `retries` times while an older transaction's lock
// refuses it, each repeat naming the attempt before (retry_of): it keeps the
// first attempt's deadline, so it comes to wait for the locks of transactions
// begun after it instead of being refused by them. The pause between attempts
// (20 ms doubling to 1 s) gives the older transaction time to finish.
int call_txn(const Globals& g, json body, int retries) {
  auto pause = std::chrono::milliseconds(20);
  for (int attempt = 0;; ++attempt) {
    auto r = http_request(node_url(g), "POST", "/txn", body.dump(),
                          std::chrono::milliseconds(10000), "");
    const auto refused = refused_by_older_lock(r);
    if (!refused || attempt == retries) return report(g, r, render_txn);
    std::cerr << "transaction " << *refused << " refused by an older one's lock; retrying ("
              << attempt + 1 << " of " << retries << ")\n";
    body["retry_of"] = *refused;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(1000));
  }
}

std::string item_path(const std::string& pk, const std::string& rk) {
  std::string path = "/items/" + partid::api::percent_encode(pk);
  if (!rk.empty()) path += "/" + partid::api::percent_encode(rk);
  return path;
}

// --if-seq PK RK SEQ triples: each names a write of the transaction and the
// sequence its item must be at. The message of what does not fit, if any.
std::optional<std::string> add_conditions(const std::vector<std::string>& triples, json* writes) {
  for (size_t i = 0; i + 2 < triples.size(); i += 3) {
    uint64_t seq = 0;
    const std::string& text = triples[i + 2];
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seq);
    if (ec != std::errc() || end != text.data() + text.size()) {
      return "--if-seq " + triples[i] + " '" + triples[i + 1] + "' " + text +
             ": the sequence must be a number";
    }
    bool found = false;
    for (auto& w : *writes) {
      if (w["partition_key"] == triples[i] && w["range_key"] == triples[i + 1]) {
        w["if_sequence"] = seq;
        found = true;
      }
    }
    if (!found) {
      return "--if-seq " + triples[i] + " '" + triples[i + 1] +
             "': the transaction does not write that item (--put or --delete it)";
    }
  }
  return std::nullopt;
}

// What the item commands parse.
struct ItemArgs {
  std::string pk, rk, message;
  size_t limit = 100;
  bool replica = false, every_item = false;
  std::string after;
  std::vector<std::string> txn_puts, txn_deletes, txn_conditions;
  std::string txn_retry_of;
  int txn_retries = 0;
  std::string txn_id;
};

// The body of POST /txn from --put, --delete and --if-seq, or why not (exit 2).
std::optional<json> txn_body(const ItemArgs& a) {
  if (a.txn_puts.size() % 3 != 0 || a.txn_deletes.size() % 2 != 0 ||
      a.txn_puts.size() + a.txn_deletes.size() == 0) {
    std::cerr << "error: txn needs --put PARTITION_KEY RANGE_KEY MESSAGE or --delete "
                 "PARTITION_KEY RANGE_KEY, at least one\n";
    return std::nullopt;
  }
  json writes = json::array();
  for (size_t i = 0; i + 2 < a.txn_puts.size(); i += 3) {
    writes.push_back({{"partition_key", a.txn_puts[i]},
                      {"range_key", a.txn_puts[i + 1]},
                      {"message", a.txn_puts[i + 2]}});
  }
  for (size_t i = 0; i + 1 < a.txn_deletes.size(); i += 2) {
    writes.push_back({{"partition_key", a.txn_deletes[i]},
                      {"range_key", a.txn_deletes[i + 1]},
                      {"delete", true}});
  }
  if (auto error = add_conditions(a.txn_conditions, &writes)) {
    std::cerr << "error: " << *error << "\n";
    return std::nullopt;
  }
  json body = {{"writes", writes}};
  if (!a.txn_retry_of.empty()) body["retry_of"] = a.txn_retry_of;
  return body;
}

void add_txn_commands(CLI::App& app, const Globals& g, int& rc, std::shared_ptr<ItemArgs> a) {
  auto* txn = app.add_subcommand(
      "txn", "write items of any partitions all or none (409: refused whole, nothing written)");
  txn->add_option("--put", a->txn_puts, "PARTITION_KEY RANGE_KEY MESSAGE (\"\" for no range key)")
      ->expected(3)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  txn->add_option("--delete", a->txn_deletes, "PARTITION_KEY RANGE_KEY")
      ->expected(2)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  txn->add_option("--if-seq", a->txn_conditions,
                  "PARTITION_KEY RANGE_KEY SEQUENCE: the write of this item happens only if the "
                  "item is still at SEQUENCE (what get shows; 0: absent), else the transaction "
                  "is refused whole (409 txn_condition_failed)")
      ->expected(3)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  txn->add_option("--retry-of", a->txn_retry_of,
                  "ID: retry the attempt refused with this transaction id (409), keeping its "
                  "deadline and so its turn: an older transaction waits for younger ones' "
                  "locks instead of being refused");
  txn->add_option("--retries", a->txn_retries,
                  "N: when an older transaction's lock refuses it (409 txn_conflict), try again "
                  "up to N times, each time as a retry of the attempt before (--retry-of)")
      ->check(CLI::Range(0, 1000));
  txn->callback([&g, &rc, a] {
    auto body = txn_body(*a);
    rc = body ? call_txn(g, std::move(*body), a->txn_retries) : 2;
  });
  auto* txn_status = app.add_subcommand("txn-status", "what became of a transaction");
  txn_status->add_option("id", a->txn_id, "the transaction's id")->required();
  txn_status->callback([&g, &rc, a] {
    rc = call(g, "GET", "/txn/" + partid::api::percent_encode(a->txn_id), {}, render_txn_status);
  });
}

}  // namespace

void add_item_commands(CLI::App& app, const Globals& g, int& rc) {
  auto a = std::make_shared<ItemArgs>();
  auto* put = app.add_subcommand("put", "write one item");
  put->add_option("partition_key", a->pk)->required();
  put->add_option("message", a->message)->required();
  put->add_option("--range-key,-r", a->rk, "range key");
  put->callback([&g, &rc, a] {
    json body = {{"partition_key", a->pk}, {"message", a->message}};
    if (!a->rk.empty()) body["range_key"] = a->rk;
    rc = call(g, "POST", "/items", body.dump(), render_write);
  });
  auto* get = app.add_subcommand("get", "read an item, or a partition key's items");
  get->add_option("partition_key", a->pk)->required();
  get->add_option("range_key", a->rk);
  get->add_option("--limit", a->limit, "most range keys to list")->capture_default_str();
  get->add_flag("--replica", a->replica, "accept a replica's committed data");
  get->add_option("--after", a->after,
                  "list the items after this range key: the \"next\" a page of --limit ends with");
  get->add_flag("--all", a->every_item, "list every item of the key, --limit per request");
  get->callback([&g, &rc, a, get] {
    std::string target = item_path(a->pk, a->rk) + "?limit=" + std::to_string(a->limit);
    if (a->replica) target += "&consistency=replica";
    std::optional<std::string> cursor;
    if (get->count("--after") > 0) cursor = a->after;
    if (a->rk.empty() && a->every_item) {
      rc = report(g, every_page(g, target, cursor), render_items);
      return;
    }
    if (cursor) target += "&after=" + partid::api::percent_encode(*cursor);
    rc = call(g, "GET", target, {}, a->rk.empty() ? render_items : render_item);
  });
  auto* del = app.add_subcommand("delete", "delete an item, or every item of a partition key");
  del->add_option("partition_key", a->pk)->required();
  del->add_option("range_key", a->rk);
  del->callback(
      [&g, &rc, a] { rc = call(g, "DELETE", item_path(a->pk, a->rk), {}, render_write); });
  add_txn_commands(app, g, rc, a);
  app.add_subcommand("list", "item counts per node")->callback([&g, &rc] {
    rc = call(g, "GET", "/items", {}, render_counts);
  });
}

}  // namespace partid::cli
