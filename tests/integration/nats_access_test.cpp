// libparti's NATS connection and partid nodes against nats-servers that demand
// credentials or TLS: the right ones connect and work; missing or wrong ones
// are refused with a reason, and no error or log line shows a secret.
#include <gtest/gtest.h>

#include <fstream>

#include "parti/coord/connection.h"
#include "parti/coord/kv_bucket.h"
#include "support/partid_cluster.h"
#include "support/temp_dir.h"
#include "support/test_certificates.h"

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

class NatsTlsTest : public ::testing::Test {
 protected:
  TempDir dir;
  TestCertificates certs = make_test_certificates(dir.path());
  NatsAccess trusting(const std::string& ca) const { return {.tls = true, .tls_ca_file = ca}; }
};

// The server's certificate is checked against the CA given (not the system's
// alone), and against the name asked for.
TEST_F(NatsTlsTest, TheServerIsVerifiedByItsCaAndItsName) {
  NatsServer nats({"--tls", "--tlscert", certs.server_cert, "--tlskey", certs.server_key});
  EXPECT_EQ(refusal(nats.url(), trusting(certs.ca)), "");
  NatsAccess named = trusting(certs.ca);
  named.tls_hostname = "localhost";
  EXPECT_EQ(refusal(nats.url(), named), "");

  std::string why = refusal(nats.url(), {.tls = true});  // the system's CAs only
  EXPECT_NE(why.find("unable to get local issuer certificate"), std::string::npos) << why;
  why = refusal(nats.url(), trusting(certs.other_ca));
  EXPECT_NE(why.find("SSL"), std::string::npos) << why;
  named.tls_hostname = "nats.example.org";
  why = refusal(nats.url(), named);
  EXPECT_NE(why.find("hostname mismatch"), std::string::npos) << why;
  // Without TLS the client never gets as far as the server's INFO it expects.
  EXPECT_NE(refusal(nats.url(), {}), "");
  why = refusal(nats.url(), trusting(dir.sub("absent.pem")));
  EXPECT_NE(why.find("loading the NATS CA file"), std::string::npos) << why;
}

TEST_F(NatsTlsTest, AServerThatVerifiesClientsAdmitsOnlyACertifiedOne) {
  NatsServer nats({"--tlsverify", "--tlscert", certs.server_cert, "--tlskey", certs.server_key,
                   "--tlscacert", certs.ca});
  NatsAccess certified = trusting(certs.ca);
  certified.tls_cert_file = certs.client_cert;
  certified.tls_key_file = certs.client_key;
  EXPECT_EQ(refusal(nats.url(), certified), "");
  EXPECT_NE(refusal(nats.url(), trusting(certs.ca)), "");
  certified.tls_key_file.clear();
  EXPECT_NE(refusal(nats.url(), certified).find("needs its key"), std::string::npos);
}

// A node given its NATS token and TLS settings in files joins, serves writes
// and says nothing of the token; a node with the wrong token stops at once
// with the server's refusal, and a URL with credentials in it draws a warning
// that shows the URL without them.
TEST_F(NatsTlsTest, ANodeReachesNatsWithATokenFileAndTls) {
  NatsServer nats(
      {"--auth", kToken, "--tls", "--tlscert", certs.server_cert, "--tlskey", certs.server_key});
  const std::string token_file = dir.sub("nats-token");
  std::ofstream(token_file) << kToken << "\n";
  PartidCluster cluster(nats);
  PartidOptions options;
  options.extra_args = {"--nats-token-file", token_file, "--nats-tls-ca", certs.ca};
  const size_t n = cluster.start(options);
  ASSERT_TRUE(cluster.wait_converged(1, 20s));
  const json write = {{"partition_key", "over-tls"}, {"message", "hello"}};
  EXPECT_EQ(cluster.http(n, "POST", "/items", write.dump()).status, 200);
  EXPECT_EQ(cluster.get_json(n, "/items/over-tls")["items"][0]["message"], "hello");

  const std::string wrong_file = dir.sub("wrong-token");
  std::ofstream(wrong_file) << "not-" << kToken << "\n";
  PartidOptions wrong;
  wrong.extra_args = {"--nats-token-file", wrong_file, "--nats-tls-ca", certs.ca};
  std::string log;
  EXPECT_EQ(cluster.start_expecting_failure(wrong, &log), 1);
  EXPECT_NE(log.find(kDenied), std::string::npos) << log;
  EXPECT_EQ(log.find(kToken), std::string::npos) << log;

  PartidOptions in_url;
  in_url.nats_url = "nats://" + kToken + "@127.0.0.1:" + std::to_string(nats.port());
  in_url.extra_args = {"--nats-tls-ca", certs.ca};
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
