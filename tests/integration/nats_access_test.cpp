// libparti's NATS connection and partid nodes against nats-servers that demand
// credentials: the right ones connect and work; missing or wrong ones are
// refused with a reason, and no error or log line shows a secret.
#include <gtest/gtest.h>

#include <fstream>

#include "parti/coord/connection.h"
#include "parti/coord/kv_bucket.h"
#include "support/partid_cluster.h"
#include "support/temp_dir.h"

namespace parti::testing {
namespace {

using coord::Connection;
using coord::CoordError;
using coord::NatsAccess;
using nlohmann::json;
using namespace std::chrono_literals;

const std::string kToken = "s3cret-token-that-must-never-be-printed";
const std::string kPassword = "pa55word-that-must-never-be-printed";

std::shared_ptr<Connection> connect_with(const std::string& url, NatsAccess access) {
  Connection::Options o;
  o.url = url;
  o.request_timeout = 2000ms;
  o.access = std::move(access);
  return Connection::connect(o);
}

// What connecting fails with ("" when it connects and a KV round trip works).
std::string refusal(const std::string& url, NatsAccess access) {
  try {
    auto conn = connect_with(url, std::move(access));
    auto bucket = coord::KvBucket::open_or_throw(conn, "access-test", "a probe");
    if (!bucket->put("k", "v").ok() || bucket->get("k").value.value != "v") {
      return "connected, but the KV round trip failed";
    }
    return "";
  } catch (const CoordError& e) {
    return e.what();
  }
}

// nats-server's own message for a client it does not admit.
constexpr const char* kDenied = "Authorization Violation";

TEST(NatsAccessTest, ATokenServerAdmitsTheTokenOnlyAndNoErrorShowsIt) {
  NatsServer nats({"--auth", kToken});
  EXPECT_EQ(refusal(nats.url(), {.token = kToken}), "");
  for (const std::string& token : {std::string(), std::string("a-guess")}) {
    const std::string why = refusal(nats.url(), {.token = token});
    EXPECT_NE(why.find(kDenied), std::string::npos) << why;
    EXPECT_EQ(why.find(kToken), std::string::npos) << why;
  }
  // A token written into the URL works too, and the URL in an error hides it.
  const std::string in_url = "nats://" + kToken + "@127.0.0.1:" + std::to_string(nats.port());
  EXPECT_EQ(refusal(in_url, {}), "");
  const std::string bad_url =
      "nats://wrong-" + kToken + "@127.0.0.1:" + std::to_string(nats.port());
  const std::string why = refusal(bad_url, {});
  EXPECT_NE(why.find("connect to nats://***@127.0.0.1"), std::string::npos) << why;
  EXPECT_EQ(why.find(kToken), std::string::npos) << why;
}

TEST(NatsAccessTest, AUserServerAdmitsTheRightPasswordOnly) {
  NatsServer nats({"--user", "partid", "--pass", kPassword});
  EXPECT_EQ(refusal(nats.url(), {.user = "partid", .password = kPassword}), "");
  const std::string why = refusal(nats.url(), {.user = "partid", .password = "guess"});
  EXPECT_NE(why.find(kDenied), std::string::npos) << why;
  EXPECT_NE(refusal(nats.url(), {}).find(kDenied), std::string::npos);
  // Settings that cannot mean anything are refused before any connection.
  EXPECT_NE(refusal(nats.url(), {.password = kPassword}).find("needs a user"), std::string::npos);
}

// A node given its NATS token in a file joins, serves writes and says
// nothing of the token; a node with the wrong token stops at once with the
// server's refusal, and a URL with credentials in it draws a warning that
// shows the URL without them.
TEST(NatsAccessTest, ANodeReachesNatsWithATokenFile) {
  TempDir dir;
  NatsServer nats({"--auth", kToken});
  const std::string token_file = dir.sub("nats-token");
  std::ofstream(token_file) << kToken << "\n";
  PartidCluster cluster(nats);
  PartidOptions options;
  options.extra_args = {"--nats-token-file", token_file};
  const size_t n = cluster.start(options);
  ASSERT_TRUE(cluster.wait_converged(1, 20s));
  const json write = {{"partition_key", "with-a-token"}, {"message", "hello"}};
  EXPECT_EQ(cluster.http(n, "POST", "/items", write.dump()).status, 200);
  EXPECT_EQ(cluster.get_json(n, "/items/with-a-token")["items"][0]["message"], "hello");

  const std::string wrong_file = dir.sub("wrong-token");
  std::ofstream(wrong_file) << "not-" << kToken << "\n";
  PartidOptions wrong;
  wrong.extra_args = {"--nats-token-file", wrong_file};
  std::string log;
  EXPECT_EQ(cluster.start_expecting_failure(wrong, &log), 1);
  EXPECT_NE(log.find(kDenied), std::string::npos) << log;
  EXPECT_EQ(log.find(kToken), std::string::npos) << log;

  PartidOptions in_url;
  in_url.nats_url = "nats://" + kToken + "@127.0.0.1:" + std::to_string(nats.port());
  const size_t second = cluster.start(in_url);
  const std::string second_log = read_file(cluster.node(second).log);
  EXPECT_NE(second_log.find("the NATS URL carries credentials (nats://***@127.0.0.1"),
            std::string::npos)
      << second_log;
  EXPECT_EQ(second_log.find(kToken), std::string::npos);
  EXPECT_EQ(read_file(cluster.node(n).log).find(kToken), std::string::npos);
}

}  // namespace
}  // namespace parti::testing
