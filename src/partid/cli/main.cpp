// partictl: the command line for a partid cluster — items (put, get, delete,
// list, and transactions across partitions: txn, txn-status), the cluster's shape (topology,
// status, resize progress), operator actions on one node's replica of a partition (admin), and a
// local cluster on loopback (cluster up, cluster down).
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <array>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "partid/api/route.h"
#include "partid/cli/http_client.h"
#include "partid/cli/local_cluster.h"
#include "partid/cli/output.h"
#include "partid/secret_file.h"

namespace {

using namespace partid::cli;
using nlohmann::json;

struct Globals {
  std::string url;
  std::string dir = "parti-cluster";
  bool json_out = false;
};

// The node to talk to: --url, else $PARTICTL_URL, else the first node of the
// local cluster in --dir.
std::string node_url(const Globals& g) {
  if (!g.url.empty()) return g.url;
  if (const char* env = std::getenv("PARTICTL_URL")) return env;
  ClusterState s;
  std::string error;
  if (load_cluster_state(g.dir, &s, &error) && !s.nodes.empty()) return s.nodes.front().api_url;
  return "http://127.0.0.1:8080";
}

// A local cluster's nodes: JSON with --json, else `headline` and one line each.
void print_cluster(const Globals& g, const ClusterState& s, const std::string& headline) {
  if (g.json_out) {
    json nodes = json::array();
    for (const auto& n : s.nodes) nodes.push_back({{"id", n.id}, {"api", n.api_url}});
    std::cout << json{{"nats", s.nats_url}, {"nodes", nodes}}.dump() << "\n";
    return;
  }
  std::cout << headline << " (nats " << s.nats_url << ")\n";
  for (const auto& n : s.nodes) std::cout << "  " << n.id << "  " << n.api_url << "\n";
}

// An answer as the exit code and what is printed: the error on stderr, else
// the body (with --json) or `render` of it.
int report(const Globals& g, const HttpResult& r, std::string (*render)(const json&)) {
  if (r.status < 200 || r.status >= 300) {
    std::cerr << render_error(r.status, r.body, r.error);
    return r.status == 0 ? 3 : (r.status == 404 ? 4 : 1);
  }
  if (g.json_out) {
    std::cout << r.body << "\n";
    return 0;
  }
  json j = json::parse(r.body, nullptr, false);
  std::cout << (j.is_discarded() ? r.body + "\n" : render(j));
  return 0;
}

int call(const Globals& g, const std::string& method, const std::string& target,
         const std::string& body, std::string (*render)(const json&),
         const std::string& authorization = {}, std::string* answer = nullptr) {
  auto r = http_request(node_url(g), method, target, body, std::chrono::milliseconds(10000),
                        authorization);
  if (answer) *answer = r.body;
  return report(g, r, render);
}

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

// Polls GET /cluster/resize once a second until it is done or `wait` has
// passed, printing each answer (with the node's estimate of the time left,
// once it has seen what is left shrink). 0 when done, 6 when not.
int watch_resize(const Globals& g, std::chrono::seconds wait) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + wait;
  while (true) {
    std::string answer;
    if (int rc = call(g, "GET", "/cluster/resize", {}, render_resize, {}, &answer); rc != 0) {
      return rc;
    }
    const json j = json::parse(answer, nullptr, false);
    if (j.is_object() && j.value("done", false)) return 0;
    if (Clock::now() >= deadline) return 6;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

// Polls GET /cluster/topology every 100 ms until its layout shows no split
// or merge under way or `wait` has passed. 0 when done, 6 when not. (A
// split takes well under a second: polling twice a second added up to half
// a second to what scripts measured with --wait.)
int wait_split(const Globals& g, const char* what, std::chrono::seconds wait) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + wait;
  while (true) {
    auto r = http_request(node_url(g), "GET", "/cluster/topology", {},
                          std::chrono::milliseconds(10000), "");
    const json j = json::parse(r.body, nullptr, false);
    if (r.status == 200 && j.is_object() && j.contains("layout") &&
        !j["layout"].contains("split")) {
      std::cout << what << " done: " << j["layout"].value("count", 0) << " partitions\n";
      return 0;
    }
    if (Clock::now() >= deadline) return 6;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// The admin token: --token (or PARTID_ADMIN_TOKEN), or --token-file, which
// keeps it out of the process list.
struct AdminToken {
  std::string value;
  std::string file;
};

void add_admin_token(CLI::App* sub, AdminToken* token) {
  sub->add_option("--token", token->value, "admin token")->envname("PARTID_ADMIN_TOKEN");
  sub->add_option("--token-file", token->file, "file holding the admin token (not with --token)")
      ->envname("PARTID_ADMIN_TOKEN_FILE");
}

// The Authorization header, or nullopt once the reason it cannot be had is
// printed.
std::optional<std::string> bearer(const AdminToken& token) {
  if (token.file.empty()) return "Bearer " + token.value;
  std::string error;
  if (!token.value.empty()) error = "give --token or --token-file, not both";
  const auto read = error.empty()
                        ? partid::read_secret_file(token.file, "the admin token", 1, &error)
                        : std::nullopt;
  if (!read) {
    std::cerr << "partictl: " << error << "\n";
    return std::nullopt;
  }
  return "Bearer " + *read;
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"partictl: command line for Parti's item store (partid)"};
  app.require_subcommand(1);
  Globals g;
  app.add_option("--url", g.url, "node API URL (default: $PARTICTL_URL, or the local cluster)");
  app.add_option("--dir", g.dir, "local cluster directory")->capture_default_str();
  app.add_flag("--json", g.json_out, "print the server's JSON answer");
  int rc = 0;

  std::string pk, rk, message;
  size_t limit = 100;
  bool replica = false, every_item = false;
  std::string after;
  auto* put = app.add_subcommand("put", "write one item");
  put->add_option("partition_key", pk)->required();
  put->add_option("message", message)->required();
  put->add_option("--range-key,-r", rk, "range key");
  put->callback([&] {
    json body = {{"partition_key", pk}, {"message", message}};
    if (!rk.empty()) body["range_key"] = rk;
    rc = call(g, "POST", "/items", body.dump(), render_write);
  });
  auto* get = app.add_subcommand("get", "read an item, or a partition key's items");
  get->add_option("partition_key", pk)->required();
  get->add_option("range_key", rk);
  get->add_option("--limit", limit, "most range keys to list")->capture_default_str();
  get->add_flag("--replica", replica, "accept a replica's committed data");
  get->add_option("--after", after,
                  "list the items after this range key: the \"next\" a page of --limit ends with");
  get->add_flag("--all", every_item, "list every item of the key, --limit per request");
  get->callback([&] {
    std::string target = item_path(pk, rk) + "?limit=" + std::to_string(limit);
    if (replica) target += "&consistency=replica";
    std::optional<std::string> cursor;
    if (get->count("--after") > 0) cursor = after;
    if (rk.empty() && every_item) {
      rc = report(g, every_page(g, target, cursor), render_items);
      return;
    }
    if (cursor) target += "&after=" + partid::api::percent_encode(*cursor);
    rc = call(g, "GET", target, {}, rk.empty() ? render_items : render_item);
  });
  auto* del = app.add_subcommand("delete", "delete an item, or every item of a partition key");
  del->add_option("partition_key", pk)->required();
  del->add_option("range_key", rk);
  del->callback([&] { rc = call(g, "DELETE", item_path(pk, rk), {}, render_write); });
  std::vector<std::string> txn_puts, txn_deletes, txn_conditions;
  std::string txn_retry_of;
  int txn_retries = 0;
  auto* txn = app.add_subcommand(
      "txn", "write items of any partitions all or none (409: refused whole, nothing written)");
  txn->add_option("--put", txn_puts, "PARTITION_KEY RANGE_KEY MESSAGE (\"\" for no range key)")
      ->expected(3)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  txn->add_option("--delete", txn_deletes, "PARTITION_KEY RANGE_KEY")
      ->expected(2)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  txn->add_option("--if-seq", txn_conditions,
                  "PARTITION_KEY RANGE_KEY SEQUENCE: the write of this item happens only if the "
                  "item is still at SEQUENCE (what get shows; 0: absent), else the transaction "
                  "is refused whole (409 txn_condition_failed)")
      ->expected(3)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  txn->add_option("--retry-of", txn_retry_of,
                  "ID: retry the attempt refused with this transaction id (409), keeping its "
                  "deadline and so its turn: an older transaction waits for younger ones' "
                  "locks instead of being refused");
  txn->add_option("--retries", txn_retries,
                  "N: when an older transaction's lock refuses it (409 txn_conflict), try again "
                  "up to N times, each time as a retry of the attempt before (--retry-of)")
      ->check(CLI::Range(0, 1000));
  txn->callback([&] {
    if (txn_puts.size() % 3 != 0 || txn_deletes.size() % 2 != 0 ||
        txn_puts.size() + txn_deletes.size() == 0) {
      std::cerr << "error: txn needs --put PARTITION_KEY RANGE_KEY MESSAGE or --delete "
                   "PARTITION_KEY RANGE_KEY, at least one\n";
      rc = 2;
      return;
    }
    json writes = json::array();
    for (size_t i = 0; i + 2 < txn_puts.size(); i += 3) {
      writes.push_back({{"partition_key", txn_puts[i]},
                        {"range_key", txn_puts[i + 1]},
                        {"message", txn_puts[i + 2]}});
    }
    for (size_t i = 0; i + 1 < txn_deletes.size(); i += 2) {
      writes.push_back(
          {{"partition_key", txn_deletes[i]}, {"range_key", txn_deletes[i + 1]}, {"delete", true}});
    }
    if (auto error = add_conditions(txn_conditions, &writes)) {
      std::cerr << "error: " << *error << "\n";
      rc = 2;
      return;
    }
    json body = {{"writes", writes}};
    if (!txn_retry_of.empty()) body["retry_of"] = txn_retry_of;
    rc = call_txn(g, std::move(body), txn_retries);
  });
  std::string txn_id;
  auto* txn_status = app.add_subcommand("txn-status", "what became of a transaction");
  txn_status->add_option("id", txn_id, "the transaction's id")->required();
  txn_status->callback([&] {
    rc = call(g, "GET", "/txn/" + partid::api::percent_encode(txn_id), {}, render_txn_status);
  });
  app.add_subcommand("list", "item counts per node")->callback([&] {
    rc = call(g, "GET", "/items", {}, render_counts);
  });
  app.add_subcommand("topology", "nodes and partition leaders")->callback([&] {
    rc = call(g, "GET", "/cluster/topology", {}, render_topology);
  });
  app.add_subcommand("status", "one node's state")->callback([&] {
    rc = call(g, "GET", "/cluster/status", {}, render_status);
  });
  int wait_s = 0;
  auto* resize = app.add_subcommand(
      "resize", "how far every partition is from settling on its replica set (exit 6: not yet)");
  resize->add_option("--wait", wait_s, "poll once a second for up to this many seconds")
      ->capture_default_str();
  resize->callback([&] { rc = watch_resize(g, std::chrono::seconds(wait_s)); });

  auto* admin = app.add_subcommand(
      "admin",
      "operator action on this node's replica of a partition, or a check of it (check) or of "
      "every replica (validate; exits 5 when they are inconsistent); needs the admin token");
  std::string operation;
  AdminToken token;
  uint32_t partition = 0;
  uint64_t seq = 0;
  admin
      ->add_option("operation", operation,
                   "force-watermark | sync | skip | failover | drop-lost-replicas | check | "
                   "validate")
      ->required()
      ->check(CLI::IsMember({"force-watermark", "sync", "skip", "failover", "drop-lost-replicas",
                             "check", "validate"}));
  admin->add_option("partition", partition, "the partition")->required();
  admin->add_option("--seq", seq, "force-watermark: the new watermark");
  add_admin_token(admin, &token);
  admin->callback([&] {
    const auto auth = bearer(token);
    if (!auth) {
      rc = 2;
      return;
    }
    std::string target = "/admin/partitions/" + std::to_string(partition) + "/" + operation;
    if (operation == "validate") {
      std::string answer;
      rc = call(g, "GET", target, {}, render_validation, *auth, &answer);
      const json j = json::parse(answer, nullptr, false);
      if (rc == 0 && j.is_object() && !j.value("consistent", true)) rc = 5;
      return;
    }
    if (seq > 0) target += "?seq=" + std::to_string(seq);
    rc = call(
        g, operation == "check" ? "GET" : "POST", target, {},
        [](const json& j) { return j.dump(2) + "\n"; }, *auth);
  });

  std::string drained;
  auto* drain = app.add_subcommand(
      "drain",
      "make a node leave cleanly: it stays until the others serve every partition it held, "
      "then exits; needs the admin token");
  bool force_drain = false;
  drain->add_option("node", drained, "the node's id, e.g. node-2")->required();
  add_admin_token(drain, &token);
  drain->add_flag("--force", force_drain,
                  "drain even while a resize is in progress (exit 6 without it)");
  drain->callback([&] {
    const auto auth = bearer(token);
    if (!auth) {
      rc = 2;
      return;
    }
    std::string answer;
    rc = call(
        g, "POST", "/cluster/drain/" + drained + (force_drain ? "?force=true" : ""), {},
        [](const json& j) { return j.value("node", "?") + " is draining\n"; }, *auth, &answer);
    // Not yet, as `partictl resize` says it: a script may wait and retry.
    const json j = json::parse(answer, nullptr, false);
    if (rc == 1 && j.is_object() && j.contains("error") &&
        j["error"].value("code", "") == "resize_in_progress") {
      rc = 6;
    }
  });

  // split and merge: one change of the layout each, the same shape of call.
  struct Reshape {
    const char* name;
    const char* help;
    int wait_s = 0;
  };
  static std::array<Reshape, 2> reshapes{{
      {"split",
       "split the layout's next partition in two (linear hashing: one partition at a time, "
       "moving half of its keys to a new one); needs the admin token"},
      {"merge",
       "merge the layout's last partition back into the one it split from (undoing the last "
       "split; an unsplit even count halves); needs the admin token"},
  }};
  for (Reshape& reshape : reshapes) {
    auto* sub = app.add_subcommand(reshape.name, reshape.help);
    add_admin_token(sub, &token);
    sub->add_option("--wait", reshape.wait_s, "wait up to this many seconds for it to finish")
        ->capture_default_str();
    sub->callback([&g, &token, &rc, &reshape] {
      const auto auth = bearer(token);
      if (!auth) {
        rc = 2;
        return;
      }
      rc = call(
          g, "POST", std::string("/cluster/") + reshape.name, {},
          [](const json& j) {
            const json& s = j["split"];
            const bool merge = s.value("kind", "") == "merge";
            return "partition " + std::to_string(s.value("source", 0u)) +
                   (merge ? " merges into " : " splits into ") +
                   std::to_string(s.value("target", 0u)) + "\n";
          },
          *auth);
      if (rc == 0 && reshape.wait_s > 0) {
        rc = wait_split(g, reshape.name, std::chrono::seconds(reshape.wait_s));
      }
    });
  }

  auto* cluster = app.add_subcommand("cluster", "a local cluster on loopback");
  cluster->require_subcommand(1);
  ClusterSpec spec;
  auto* up = cluster->add_subcommand("up", "start nats-server and N partid nodes under --dir");
  up->add_option("--nodes,-n", spec.nodes, "partid nodes")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  up->add_option("--replication-factor", spec.replication_factor)
      ->capture_default_str()
      ->check(CLI::Range(1u, 7u));
  up->add_option("--partitions", spec.partitions)
      ->capture_default_str()
      ->check(CLI::Range(1u, 65536u));
  up->add_option("--sync", spec.sync, "fsync every commit")->capture_default_str();
  up->callback([&] {
    spec.dir = g.dir;
    ClusterState s;
    std::string error;
    if (!cluster_up(spec, &s, &error)) {
      std::cerr << "error: " << error << "\n";
      rc = 1;
      return;
    }
    print_cluster(g, s, "cluster up in " + g.dir);
  });
  uint32_t resize_to = 0;
  bool force_resize = false;
  int resize_timeout_s = 120;
  auto* resize_local = cluster->add_subcommand(
      "resize",
      "grow or shrink the local cluster in --dir to N nodes: new nodes join, or the newest "
      "drain one at a time (exit 6 while the last resize still moves data)");
  resize_local->add_option("--nodes,-n", resize_to, "partid nodes wanted")
      ->required()
      ->check(CLI::Range(1u, 64u));
  resize_local->add_flag("--force", force_resize, "resize even while data still moves");
  resize_local->add_option("--timeout", resize_timeout_s, "seconds to wait for it to settle")
      ->capture_default_str();
  resize_local->callback([&] {
    ClusterState s;
    std::string error;
    const auto outcome =
        cluster_resize(g.dir, resize_to, force_resize, resize_timeout_s, &s, &error);
    if (outcome != ResizeOutcome::Done) {
      std::cerr << "error: " << error << "\n";
      rc = outcome == ResizeOutcome::InProgress ? 6 : 1;
      return;
    }
    print_cluster(g, s,
                  "cluster in " + g.dir + " now has " + std::to_string(s.nodes.size()) + " nodes");
  });
  cluster->add_subcommand("down", "stop the local cluster in --dir")->callback([&] {
    std::string error;
    if (!cluster_down(g.dir, &error)) {
      std::cerr << "error: " << error << "\n";
      rc = 1;
      return;
    }
    std::cout << "cluster in " << g.dir << " stopped\n";
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return rc;
}
