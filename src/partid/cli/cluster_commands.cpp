// cli: partictl's cluster commands: the cluster's shape (topology, status,
// resize progress) and the operator's actions, which need the admin token
// (admin, drain, split, merge).
#include <array>
#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "partid/cli/commands.h"
#include "partid/cli/output.h"
#include "partid/secret_file.h"

namespace partid::cli {
namespace {

using nlohmann::json;

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

// What the admin command parses.
struct AdminArgs {
  std::string operation;
  uint32_t partition = 0;
  uint64_t seq = 0;
  AdminToken token;
};

int run_admin(const Globals& g, const AdminArgs& a) {
  const auto auth = bearer(a.token);
  if (!auth) return 2;
  std::string target = "/admin/partitions/" + std::to_string(a.partition) + "/" + a.operation;
  if (a.operation == "validate") {
    std::string answer;
    int rc = call(g, "GET", target, {}, render_validation, *auth, &answer);
    const json j = json::parse(answer, nullptr, false);
    if (rc == 0 && j.is_object() && !j.value("consistent", true)) rc = 5;
    return rc;
  }
  if (a.seq > 0) target += "?seq=" + std::to_string(a.seq);
  return call(
      g, a.operation == "check" ? "GET" : "POST", target, {},
      [](const json& j) { return j.dump(2) + "\n"; }, *auth);
}

void add_admin_command(CLI::App& app, const Globals& g, int& rc) {
  auto a = std::make_shared<AdminArgs>();
  auto* admin = app.add_subcommand(
      "admin",
      "operator action on this node's replica of a partition, or a check of it (check) or of "
      "every replica (validate; exits 5 when they are inconsistent); needs the admin token");
  admin
      ->add_option("operation", a->operation,
                   "force-watermark | sync | skip | failover | drop-lost-replicas | check | "
                   "validate")
      ->required()
      ->check(CLI::IsMember({"force-watermark", "sync", "skip", "failover", "drop-lost-replicas",
                             "check", "validate"}));
  admin->add_option("partition", a->partition, "the partition")->required();
  admin->add_option("--seq", a->seq, "force-watermark: the new watermark");
  add_admin_token(admin, &a->token);
  admin->callback([&g, &rc, a] { rc = run_admin(g, *a); });
}

// What the drain command parses.
struct DrainArgs {
  std::string node;
  bool force = false;
  AdminToken token;
};

int run_drain(const Globals& g, const DrainArgs& a) {
  const auto auth = bearer(a.token);
  if (!auth) return 2;
  std::string answer;
  int rc = call(
      g, "POST", "/cluster/drain/" + a.node + (a.force ? "?force=true" : ""), {},
      [](const json& j) { return j.value("node", "?") + " is draining\n"; }, *auth, &answer);
  // Not yet, as `partictl resize` says it: a script may wait and retry.
  const json j = json::parse(answer, nullptr, false);
  if (rc == 1 && j.is_object() && j.contains("error") &&
      j["error"].value("code", "") == "resize_in_progress") {
    rc = 6;
  }
  return rc;
}

void add_drain_command(CLI::App& app, const Globals& g, int& rc) {
  auto a = std::make_shared<DrainArgs>();
  auto* drain = app.add_subcommand(
      "drain",
      "make a node leave cleanly: it stays until the others serve every partition it held, "
      "then exits; needs the admin token");
  drain->add_option("node", a->node, "the node's id, e.g. node-2")->required();
  add_admin_token(drain, &a->token);
  drain->add_flag("--force", a->force,
                  "drain even while a resize is in progress (exit 6 without it)");
  drain->callback([&g, &rc, a] { rc = run_drain(g, *a); });
}

// split and merge: one change of the layout each, the same shape of call.
struct ReshapeArgs {
  const char* name;
  int wait_s = 0;
  AdminToken token;
};

int run_reshape(const Globals& g, const ReshapeArgs& a) {
  const auto auth = bearer(a.token);
  if (!auth) return 2;
  int rc = call(
      g, "POST", std::string("/cluster/") + a.name, {},
      [](const json& j) {
        const json& s = j["split"];
        const bool merge = s.value("kind", "") == "merge";
        return "partition " + std::to_string(s.value("source", 0u)) +
               (merge ? " merges into " : " splits into ") + std::to_string(s.value("target", 0u)) +
               "\n";
      },
      *auth);
  if (rc == 0 && a.wait_s > 0) rc = wait_split(g, a.name, std::chrono::seconds(a.wait_s));
  return rc;
}

void add_reshape_commands(CLI::App& app, const Globals& g, int& rc) {
  static const std::array<std::pair<const char*, const char*>, 2> reshapes{{
      {"split",
       "split the layout's next partition in two (linear hashing: one partition at a time, "
       "moving half of its keys to a new one); needs the admin token"},
      {"merge",
       "merge the layout's last partition back into the one it split from (undoing the last "
       "split; an unsplit even count halves); needs the admin token"},
  }};
  for (const auto& [name, help] : reshapes) {
    auto a = std::make_shared<ReshapeArgs>();
    a->name = name;
    auto* sub = app.add_subcommand(name, help);
    add_admin_token(sub, &a->token);
    sub->add_option("--wait", a->wait_s, "wait up to this many seconds for it to finish")
        ->capture_default_str();
    sub->callback([&g, &rc, a] { rc = run_reshape(g, *a); });
  }
}

}  // namespace

void add_cluster_commands(CLI::App& app, const Globals& g, int& rc) {
  app.add_subcommand("topology", "nodes and partition leaders")->callback([&g, &rc] {
    rc = call(g, "GET", "/cluster/topology", {}, render_topology);
  });
  app.add_subcommand("status", "one node's state")->callback([&g, &rc] {
    rc = call(g, "GET", "/cluster/status", {}, render_status);
  });
  auto wait_s = std::make_shared<int>(0);
  auto* resize = app.add_subcommand(
      "resize", "how far every partition is from settling on its replica set (exit 6: not yet)");
  resize->add_option("--wait", *wait_s, "poll once a second for up to this many seconds")
      ->capture_default_str();
  resize->callback([&g, &rc, wait_s] { rc = watch_resize(g, std::chrono::seconds(*wait_s)); });
  add_admin_command(app, g, rc);
  add_drain_command(app, g, rc);
  add_reshape_commands(app, g, rc);
}

}  // namespace partid::cli
