// A node that has just started has no topology yet: it knows no partition.
// Requests naming a partition or a transaction must then be answered "ask
// again" (503 no_assignment, which coordinators and held requests retry),
// never as bad input, which a coordinator relays to its client as final.
#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <nlohmann/json.hpp>

#include "partid/api/api_service.h"
#include "partid/api/cluster_view.h"
#include "partid/api/metrics.h"
#include "partid/routing/topology.h"
#include "partid/storage/txn_space.h"

namespace partid::api {
namespace {

namespace asio = boost::asio;

class FixedCluster : public ClusterView {
 public:
  explicit FixedCluster(routing::Topology t)
      : topology_(std::make_shared<const routing::Topology>(std::move(t))) {}
  const std::string& self() const override { return self_; }
  std::shared_ptr<const routing::Topology> topology() const override { return topology_; }
  bool locked(uint32_t) const override { return false; }
  bool serving() const override { return topology_->ready(); }
  nlohmann::json describe() const override { return nlohmann::json::object(); }
  Coordination coordination() const override { return {}; }
  uint32_t writable_format() const override { return 1; }
  void raise_format(std::function<void()> done) override { done(); }
  void begin_split(routing::SplitPlan::Kind, SplitBegun done) override {
    done(std::string("no splits here"));
  }

 private:
  std::string self_ = "self";
  std::shared_ptr<const routing::Topology> topology_;
};

routing::Topology ready_topology(uint32_t partitions) {
  routing::Topology t;
  t.version = 1;
  t.partitions = partitions;
  t.layout.layout = routing::Layout::unsplit(partitions);
  t.replicas.assign(partitions, {"self"});
  t.leader_epoch.assign(partitions, 1);
  return t;
}

constexpr char kToken[] = "token";

class NoTopologyTest : public ::testing::Test {
 protected:
  ApiResponse ask(ClusterView& cluster, ApiRequest request, uint32_t hops) {
    Metrics metrics;
    ApiDeps deps;
    deps.metrics = &metrics;
    deps.cluster = &cluster;
    ApiOptions options;
    options.admin_token = kToken;
    ApiService api(deps, options);
    asio::io_context io;
    ApiResponse out;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          out = co_await api.handle(request, Hop{hops, {}});
        },
        asio::detached);
    io.run();
    return out;
  }
  static std::string code_of(const ApiResponse& r) {
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    return j.is_object() && j.contains("error") ? j["error"].value("code", "") : "";
  }
  // A transaction id whose home is partition 9.
  const std::string txn = storage::make_txn_id(4'000'000'000'000, 9, 42);
};

TEST_F(NoTopologyTest, ATransactionStepForwardedToANodeWithoutTopologyIsAskedAgainNotRefused) {
  FixedCluster empty{routing::Topology{}};
  auto r = ask(empty, {"POST", "/txn/" + txn + "/prepare?partition=1", "{}", ""}, 1);
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(code_of(r), "no_assignment");
  // Once it knows the partitions, a home that is not one of them is bad input.
  FixedCluster four{ready_topology(4)};
  r = ask(four, {"POST", "/txn/" + txn + "/prepare?partition=1", "{}", ""}, 1);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(code_of(r), "bad_txn_id");
}

TEST_F(NoTopologyTest, ATransactionsStatusWithoutTopologyIsAskedAgain) {
  FixedCluster empty{routing::Topology{}};
  auto r = ask(empty, {"GET", "/txn/" + txn, "", ""}, 0);
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(code_of(r), "no_assignment");
  FixedCluster four{ready_topology(4)};
  r = ask(four, {"GET", "/txn/" + txn, "", ""}, 0);
  EXPECT_EQ(code_of(r), "bad_txn_id") << r.body;
}

TEST_F(NoTopologyTest, AnAdminRouteNamingAPartitionWithoutTopologyIsAskedAgain) {
  FixedCluster empty{routing::Topology{}};
  const std::string bearer = std::string("Bearer ") + kToken;
  auto r = ask(empty, {"GET", "/admin/partitions/0/check", "", bearer}, 0);
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(code_of(r), "no_assignment");
  FixedCluster four{ready_topology(4)};
  r = ask(four, {"GET", "/admin/partitions/7/check", "", bearer}, 0);
  EXPECT_EQ(code_of(r), "bad_partition") << r.body;
}

}  // namespace
}  // namespace partid::api
