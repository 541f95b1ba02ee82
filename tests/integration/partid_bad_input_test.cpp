#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include "partid/cli/process.h"
#include "support/partid_cluster.h"
#include "support/peer_wire.h"
#include "support/wait.h"

namespace parti::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace asio = boost::asio;

// Two nodes, so bad input is also checked on requests that would be forwarded.
class PartidBadInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    nats = new NatsServer();
    cluster = new PartidCluster(*nats);
    cluster->start();
    cluster->start();
    ASSERT_TRUE(cluster->wait_converged(2, 20s));
  }
  static void TearDownTestSuite() {
    delete cluster;
    delete nats;
  }
  static int64_t total() { return cluster->get_json(0, "/items")["total"].get<int64_t>(); }
  // Sends raw bytes to a port and returns what came back before the close.
  static std::string raw(const std::string& address, const std::string& bytes) {
    asio::io_context io;
    auto s = connect_to(io, address);
    asio::write(s, asio::buffer(bytes));
    std::string out;
    boost::system::error_code ec;
    char buf[4096];
    while (!ec) {
      const size_t n = s.read_some(asio::buffer(buf), ec);
      out.append(buf, n);
    }
    return out;  // ec is eof or reset: the server closed the connection
  }
  // Sends one request frame to a peer port and returns the reply frame.
  static std::optional<partid::pb::Envelope> call(const std::string& address,
                                                  const partid::pb::Envelope& request) {
    asio::io_context io;
    auto s = greeted_peer(io, address);
    write_frame(s, request);
    return read_frame(s);
  }
  static partid::pb::ReplFragmentAck send_fragment(const std::string& from, std::string data) {
    partid::pb::Envelope request;
    request.set_id(7);
    auto* f = request.mutable_fragment();
    f->set_from(from);
    f->set_transfer(1);
    f->set_index(0);
    f->set_count(1);
    f->set_data(std::move(data));
    auto reply = call(cluster->node(1).peer, request);
    EXPECT_TRUE(reply && reply->has_fragment_ack());
    return reply ? reply->fragment_ack() : partid::pb::ReplFragmentAck{};
  }
  static NatsServer* nats;
  static PartidCluster* cluster;
};
NatsServer* PartidBadInputTest::nats = nullptr;
PartidCluster* PartidBadInputTest::cluster = nullptr;

struct BadRequest {
  const char* name;
  std::string method, target, body;
  int status;
  const char* code;
};

TEST_F(PartidBadInputTest, EveryBadRequestGetsTheDocumentedErrorAndWritesNothing) {
  const std::string big_key(2000, 'k');
  const std::string huge_body(2u << 20, 'x');
  const std::vector<BadRequest> cases = {
      {"malformed json", "POST", "/items", "{\"partition_key\": ", 400, "malformed_json"},
      {"not an object", "POST", "/items", "[1,2]", 400, "bad_item"},
      {"empty body", "POST", "/items", "", 400, "empty_body"},
      {"missing message", "POST", "/items", R"({"partition_key":"a"})", 400, "missing_field"},
      {"missing key", "POST", "/items", R"({"message":"m"})", 400, "missing_field"},
      {"wrong type", "POST", "/items", R"({"partition_key":"a","message":5})", 400, "wrong_type"},
      {"null key", "POST", "/items", R"({"partition_key":null,"message":"m"})", 400, "wrong_type"},
      {"unknown field", "POST", "/items", R"({"partition_key":"a","message":"m","x":"y"})", 400,
       "unknown_field"},
      {"admin disabled", "POST", "/admin/partitions/0/failover", "", 403, "admin_disabled"},
      {"empty key", "POST", "/items", R"({"partition_key":"","message":"m"})", 400, "empty_key"},
      {"oversized key", "POST", "/items", json{{"partition_key", big_key}, {"message", "m"}}.dump(),
       413, "too_large"},
      {"oversized body", "POST", "/items", huge_body, 413, "too_large"},
      {"non-utf8 in json", "POST", "/items", "{\"partition_key\":\"\xff\xfe\",\"message\":\"m\"}",
       400, "malformed_json"},
      {"non-utf8 in path", "GET", "/items/%FF%FE", "", 400, "invalid_utf8"},
      {"bad escape in path", "GET", "/items/%G1", "", 400, "bad_path"},
      {"oversized key in path", "GET", "/items/" + big_key, "", 413, "too_large"},
      {"bad limit", "GET", "/items/a?limit=abc", "", 400, "bad_limit"},
      {"zero limit", "GET", "/items/a?limit=0", "", 400, "bad_limit"},
      {"oversized cursor", "GET", "/items/a?after=" + big_key, "", 400, "bad_after"},
      {"bad consistency", "GET", "/items/a?consistency=maybe", "", 400, "bad_consistency"},
      {"batch with one bad item", "POST", "/items/batch",
       R"({"items":[{"partition_key":"ok","message":"m"},{"partition_key":"","message":"m"}]})",
       400, "empty_key"},
      {"batch not a list", "POST", "/items/batch", R"({"items":{}})", 400, "bad_batch"},
      {"empty batch", "POST", "/items/batch", R"({"items":[]})", 400, "empty_batch"},
      {"unknown route", "GET", "/nope", "", 404, "not_found"},
      {"too deep a path", "GET", "/items/a/b/c", "", 404, "not_found"},
      {"wrong method", "PUT", "/items", "", 405, "method_not_allowed"},
      {"unknown method", "BREW", "/items/a", "", 405, "method_not_allowed"},
      {"write to a read-only route", "POST", "/cluster/topology", "{}", 405, "method_not_allowed"},
      {"reserved key", "POST", "/items", R"({"partition_key":"\u0000txn","message":"m"})", 400,
       "reserved_key"},
      {"txn malformed json", "POST", "/txn", "{\"writes\": [", 400, "malformed_json"},
      {"txn without writes", "POST", "/txn", R"({"writes":[]})", 400, "bad_txn"},
      {"txn with one bad write", "POST", "/txn",
       R"({"writes":[{"partition_key":"ok","message":"m"},{"partition_key":"","message":"m"}]})",
       400, "empty_key"},
      {"txn writing one item twice", "POST", "/txn",
       R"({"writes":[{"partition_key":"ok","message":"m"},{"partition_key":"ok","delete":true}]})",
       400, "duplicate_item"},
      {"txn oversized body", "POST", "/txn", huge_body, 413, "too_large"},
      {"txn step from a client", "POST", "/txn/0-0000000000000001/decide", R"({"commit":true})",
       403, "admin_disabled"},
      {"txn status of a bad id", "GET", "/txn/not-an-id", "", 400, "bad_txn_id"},
      {"txn status, wrong method", "DELETE", "/txn/0-0000000000000001", "", 405,
       "method_not_allowed"},
  };
  const int64_t before = total();
  for (const auto& c : cases) {
    for (size_t via = 0; via < 2; ++via) {
      auto r = cluster->http(via, c.method, c.target, c.body);
      EXPECT_EQ(r.status, c.status) << c.name << ": " << r.body << r.error;
      json j = json::parse(r.body, nullptr, false);
      ASSERT_TRUE(j.is_object() && j.contains("error")) << c.name << ": " << r.body;
      EXPECT_EQ(j["error"]["code"], c.code) << c.name;
      EXPECT_TRUE(j["error"]["message"].is_string()) << c.name;
    }
  }
  EXPECT_EQ(total(), before);
  EXPECT_EQ(cluster->http(0, "GET", "/items/ok").body.find("\"message\""), std::string::npos);
}

TEST_F(PartidBadInputTest, GarbageOnTheApiPortGetsA400AndTheNodeKeepsServing) {
  const std::string api = cluster->node(0).api.substr(7);
  const std::string answer = raw(api, "\x16\x03\x01\x02\x00garbage that is not HTTP\r\n\r\n");
  EXPECT_NE(answer.find("400"), std::string::npos) << answer;
  EXPECT_NE(answer.find("bad_http"), std::string::npos) << answer;
  EXPECT_NE(raw(api, "GET / HTTP/1.1\r\nContent-Length: nope\r\n\r\n").find("400"),
            std::string::npos);
  EXPECT_EQ(cluster->http(0, "GET", "/health").status, 200);
}

TEST_F(PartidBadInputTest, GarbageOnThePeerPortClosesThatConnectionOnly) {
  const std::string peer = cluster->node(1).peer;
  EXPECT_EQ(raw(peer, "GET / HTTP/1.1\r\n\r\n"), "");                        // absurd length prefix
  EXPECT_EQ(raw(peer, std::string("\x00\x00\x00\x03\xff\xff\xff", 7)), "");  // not protobuf
  // A Hello whose cluster name is not UTF-8: protobuf refuses to parse it and
  // says so, in the node's log format rather than its own.
  EXPECT_EQ(raw(peer, std::string("\x00\x00\x00\x05\x4a\x03\x1a\x01\xff", 9)), "");
  EXPECT_TRUE(wait_until(
      [&] { return read_file(cluster->node(1).log).find("protobuf (") != std::string::npos; }, 10s))
      << read_file(cluster->node(1).log);
  EXPECT_EQ(read_file(cluster->node(1).log).find("[libprotobuf"), std::string::npos);
  // Node 1 still answers forwarded requests from node 0.
  for (int k = 0; k < 10; ++k) {
    EXPECT_EQ(
        cluster
            ->http(0, "POST", "/items",
                   json{{"partition_key", "after-garbage-" + std::to_string(k)}, {"message", "m"}}
                       .dump())
            .status,
        200);
  }
  EXPECT_EQ(cluster->http(1, "GET", "/health").status, 200);
}

// A write forwarded to node 1's peer port as the leader's node would send it.
partid::pb::Envelope forwarded_write(const std::string& key) {
  partid::pb::Envelope e;
  e.set_id(1);
  auto* f = e.mutable_forward();
  f->set_method("POST");
  f->set_target("/items");
  f->set_body(json{{"partition_key", key}, {"message", "m"}}.dump());
  return e;
}

// Another cluster's node (a wrong --cluster or NATS URL) and a node of a
// protocol this one does not speak (a rolling upgrade too far) are refused
// with the reason before anything they send is acted on; so is a connection
// that does not start with a Hello.
TEST_F(PartidBadInputTest, APeerOfAnotherClusterOrProtocolIsRefusedBeforeItIsHeard) {
  const int64_t before = total();
  const uint32_t newer = partid::peer::kProtocol.max + 1;
  const std::vector<std::pair<partid::peer::Greeting, std::string>> strangers = {
      {{partid::peer::kProtocol, "other", {}}, "cluster 'other'"},
      {{{newer, newer + 1}, kTestCluster, {}}, "peer protocol"},
  };
  for (const auto& [greeting, reason] : strangers) {
    asio::io_context io;
    auto s = connect_to(io, cluster->node(1).peer);
    write_frame(s, partid::peer::hello(greeting));
    write_frame(s, forwarded_write("from-a-stranger"));  // sent without waiting, as if trusted
    auto answer = read_frame(s);
    ASSERT_TRUE(answer && answer->has_hello());
    EXPECT_NE(answer->hello().refused().find(reason), std::string::npos)
        << answer->hello().refused();
    EXPECT_FALSE(read_frame(s)) << "the connection closes after the refusal";
  }
  asio::io_context io;
  auto s = connect_to(io, cluster->node(1).peer);
  write_frame(s, forwarded_write("without-a-hello"));
  EXPECT_FALSE(read_frame(s)) << "closed without an answer";
  EXPECT_EQ(total(), before);
  // A node of this cluster and protocol is heard.
  auto reply = call(cluster->node(1).peer, forwarded_write("from-a-peer"));
  ASSERT_TRUE(reply && reply->has_forward_reply());
  EXPECT_EQ(reply->forward_reply().status(), 200u) << reply->forward_reply().body();
  EXPECT_EQ(total(), before + 1);
}

// The nodes share a cluster secret: a peer without it (none, a guess, or a
// forged proof after the node proved itself) is refused before anything it
// sends is acted on, and counted; the node goes on serving its peers.
TEST_F(PartidBadInputTest, APeerWithoutTheClusterSecretIsRefusedBeforeItIsHeard) {
  const int64_t before = total();
  const double refused_before = cluster->metric(1, "partid_peer_connections_refused_total");
  {  // no secret: refused with the reason
    asio::io_context io;
    auto s = connect_to(io, cluster->node(1).peer);
    write_frame(s, partid::peer::hello({partid::peer::kProtocol, kTestCluster, {}}));
    write_frame(s, forwarded_write("without-a-secret"));
    auto answer = read_frame(s);
    ASSERT_TRUE(answer && answer->has_hello());
    EXPECT_NE(answer->hello().refused().find("no proof of the cluster secret"), std::string::npos)
        << answer->hello().refused();
    EXPECT_FALSE(read_frame(s)) << "the connection closes after the refusal";
  }
  for (bool with_proof : {true, false}) {  // a guessed secret: no proof passes
    asio::io_context io;
    auto s = connect_to(io, cluster->node(1).peer);
    partid::peer::DialerHandshake guess(
        {partid::peer::kProtocol, kTestCluster, {"a-guess-at-the-cluster-secret"}});
    write_frame(s, guess.hello());
    auto answer = read_frame(s);
    ASSERT_TRUE(answer && answer->has_hello() && answer->hello().refused().empty());
    EXPECT_TRUE(guess.on_answer(*answer).refused) << "the node proved a secret we lack";
    if (with_proof) {
      partid::pb::Envelope forged;
      forged.mutable_peer_proof()->set_proof(std::string(32, 'f'));
      write_frame(s, forged);
    }
    write_frame(s, forwarded_write("with-a-guessed-secret"));
    EXPECT_FALSE(read_frame(s)) << "closed without an answer";
  }
  EXPECT_EQ(total(), before);
  EXPECT_TRUE(wait_until(
      [&] {
        return cluster->metric(1, "partid_peer_connections_refused_total") >= refused_before + 3;
      },
      10s));
  // A holder of the secret is heard.
  auto reply = call(cluster->node(1).peer, forwarded_write("with-the-secret"));
  ASSERT_TRUE(reply && reply->has_forward_reply());
  EXPECT_EQ(reply->forward_reply().status(), 200u) << reply->forward_reply().body();
  EXPECT_EQ(total(), before + 1);
}

// A stranger is counted apart from malformed messages: at start-up a peer's
// first messages can reach a node before the peer's record does, and an
// operator alerting on bad messages must not be woken by that.
TEST_F(PartidBadInputTest, ASnapshotFragmentFromAStrangerOrThatDoesNotDecodeIsRefused) {
  const int64_t before = total();
  const auto counts = [] {
    return std::pair{cluster->metric(1, "partid_peer_messages_from_unknown_nodes_total"),
                     cluster->metric(1, "partid_bad_peer_messages_total")};
  };
  const auto [unknown_before, bad_before] = counts();
  auto stranger = send_fragment("not-a-node", "whatever");
  EXPECT_FALSE(stranger.ok());
  EXPECT_EQ(stranger.error(), "not a node of this cluster");
  EXPECT_EQ(counts(), std::pair(unknown_before + 1, bad_before));
  auto garbage = send_fragment(cluster->node(0).id, std::string("\xff\xff\xff", 3));
  EXPECT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error(), "the transfer does not decode");
  EXPECT_EQ(counts(), std::pair(unknown_before + 1, bad_before + 1));
  EXPECT_EQ(total(), before);
  EXPECT_EQ(cluster->http(1, "GET", "/health").status, 200);
}

TEST_F(PartidBadInputTest, ADeadNatsMakesNodesDegradedNotDead) {
  // Last in this suite: it stops the shared nats-server.
  ASSERT_EQ(cluster->http(0, "POST", "/items", R"({"partition_key":"pre","message":"m"})").status,
            200);
  nats->stop();
  ASSERT_TRUE(wait_until([&] { return cluster->http(0, "GET", "/health").status == 503; }, 20s));
  auto health = json::parse(cluster->http(0, "GET", "/health").body);
  EXPECT_EQ(health["status"], "unavailable");
  // The last assignment is kept: data already here is still served.
  EXPECT_EQ(cluster->http(0, "GET", "/items/pre").status, 200);
  nats->start();
  EXPECT_TRUE(wait_until([&] { return cluster->http(0, "GET", "/health").status == 200; }, 30s));
}

}  // namespace
}  // namespace parti::testing
