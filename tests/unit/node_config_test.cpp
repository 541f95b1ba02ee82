#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "partid/node/node_config.h"
#include "support/temp_dir.h"

namespace partid::node {
namespace {

std::variant<NodeConfig, ConfigExit> load(std::vector<std::string> args) {
  args.insert(args.begin(), "partid");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return load_node_config(static_cast<int>(argv.size()), argv.data());
}

class NodeConfigTest : public ::testing::Test {
 protected:
  void TearDown() override {
    unsetenv("PARTID_PARTITIONS");
    unsetenv("PARTID_CLUSTER");
  }
  std::string write_toml(const std::string& text) {
    const std::string path = dir.sub("node.toml");
    std::ofstream(path) << text;
    return path;
  }
  parti::testing::TempDir dir;
};

TEST_F(NodeConfigTest, DefaultsWhenNothingIsGiven) {
  auto c = std::get<NodeConfig>(load({}));
  EXPECT_EQ(c.partitions, 256u);
  EXPECT_EQ(c.replication_factor, 1u);
  EXPECT_TRUE(c.sync);
  EXPECT_FALSE(c.ephemeral);
  EXPECT_EQ(c.memtable_mib, 16u);
  EXPECT_EQ(std::get<NodeConfig>(load({"--memtable-mib", "4"})).memtable_mib, 4u);
  EXPECT_FALSE(std::holds_alternative<NodeConfig>(load({"--memtable-mib", "0"})));
  EXPECT_EQ(c.commit_delay_us, 1000u);
  EXPECT_EQ(c.commit_siblings, 4u);
  EXPECT_EQ(std::get<NodeConfig>(load({"--commit-delay-us", "0"})).commit_delay_us, 0u);
  EXPECT_FALSE(std::holds_alternative<NodeConfig>(load({"--commit-siblings", "0"})));
  EXPECT_EQ(c.max_relayed_bytes, size_t{256} << 20);
  EXPECT_TRUE(c.staged_moves);
  EXPECT_FALSE(std::get<NodeConfig>(load({"--staged-moves", "false"})).staged_moves);
  EXPECT_EQ(std::get<NodeConfig>(load({"--max-relayed-bytes", "1048576"})).max_relayed_bytes,
            size_t{1} << 20);
  EXPECT_FALSE(std::holds_alternative<NodeConfig>(load({"--max-relayed-bytes", "1000"})));
  EXPECT_EQ(c.max_client_connections, 0u) << "0: half the open-files limit";
  EXPECT_EQ(std::get<NodeConfig>(load({"--max-client-connections", "300"})).max_client_connections,
            300u);
  EXPECT_EQ(c.max_answer_bytes, size_t{256} << 20);
  EXPECT_FALSE(std::holds_alternative<NodeConfig>(load({"--max-answer-bytes", "1000"})));
  EXPECT_EQ(c.reclaim_idle_ms, 1000u);
  EXPECT_EQ(c.reclaim_slow_request_ms, 5000u);
  EXPECT_EQ(std::get<NodeConfig>(load({"--reclaim-idle-ms", "0"})).reclaim_idle_ms, 0u);
  EXPECT_EQ(
      std::get<NodeConfig>(load({"--reclaim-slow-request-ms", "250"})).reclaim_slow_request_ms,
      250u);
}

TEST_F(NodeConfigTest, FlagBeatsEnvironmentBeatsFileBeatsDefault) {
  const auto file = write_toml(
      "partitions = 64\ncluster = \"from-file\"\nreplication_factor = 3\nephemeral = true\n");
  auto from_file = std::get<NodeConfig>(load({"--config", file}));
  EXPECT_EQ(from_file.partitions, 64u);
  EXPECT_EQ(from_file.cluster, "from-file");
  EXPECT_EQ(from_file.replication_factor, 3u);
  EXPECT_TRUE(from_file.ephemeral);
  setenv("PARTID_PARTITIONS", "128", 1);
  setenv("PARTID_CLUSTER", "from-env", 1);
  auto from_env = std::get<NodeConfig>(load({"--config", file}));
  EXPECT_EQ(from_env.partitions, 128u);
  EXPECT_EQ(from_env.cluster, "from-env");
  auto from_flag = std::get<NodeConfig>(load({"--config", file, "--partitions", "32"}));
  EXPECT_EQ(from_flag.partitions, 32u);
  EXPECT_EQ(from_flag.cluster, "from-env");
  EXPECT_EQ(from_flag.replication_factor, 3u);  // still from the file
}

TEST_F(NodeConfigTest, MistakesAreErrorsThatSayWhat) {
  auto unknown = load({"--config", write_toml("partitons = 64\n")});
  ASSERT_TRUE(std::holds_alternative<ConfigExit>(unknown));
  EXPECT_EQ(std::get<ConfigExit>(unknown).code, 2);
  EXPECT_NE(std::get<ConfigExit>(unknown).text.find("partitons"), std::string::npos);
  auto bad_toml = load({"--config", write_toml("partitions = = 3\n")});
  EXPECT_EQ(std::get<ConfigExit>(bad_toml).code, 2);
  auto missing = load({"--config", dir.sub("absent.toml")});
  EXPECT_EQ(std::get<ConfigExit>(missing).code, 2);
  EXPECT_EQ(std::get<ConfigExit>(load({"--partitions", "0"})).code, 2);
  EXPECT_EQ(std::get<ConfigExit>(load({"--no-such-flag"})).code, 2);
  auto address = load({"--api-listen", "localhost"});
  EXPECT_NE(std::get<ConfigExit>(address).text.find("host:port"), std::string::npos);
  // Others dial an advertised address, so "any port" makes no sense there.
  auto advertised_any = load({"--peer-advertise", "10.0.0.7:0"});
  EXPECT_NE(std::get<ConfigExit>(advertised_any).text.find("with a port"), std::string::npos);
  EXPECT_EQ(std::get<ConfigExit>(load({"--api-advertise", "nohost"})).code, 2);
  // Connections come from an address, not a host name or a host:port.
  auto source = load({"--peer-source", "10.0.0.7:9080"});
  ASSERT_TRUE(std::holds_alternative<ConfigExit>(source));
  EXPECT_NE(std::get<ConfigExit>(source).text.find("'10.0.0.7:9080' is not an IP address"),
            std::string::npos);
  auto source_ok = load({"--peer-source", "10.0.0.7"});
  ASSERT_TRUE(std::holds_alternative<NodeConfig>(source_ok));
  EXPECT_EQ(std::get<NodeConfig>(source_ok).peer_source, "10.0.0.7");
  // A forwarded request carries a whole body in one peer frame.
  auto frame = load({"--max-body-bytes", "1048576", "--max-peer-frame-bytes", "1048576"});
  ASSERT_TRUE(std::holds_alternative<ConfigExit>(frame));
  EXPECT_EQ(std::get<ConfigExit>(frame).code, 2);
  EXPECT_NE(std::get<ConfigExit>(frame).text.find("needs at least 1114112"), std::string::npos)
      << std::get<ConfigExit>(frame).text;
  auto fits = load({"--max-body-bytes", "1048576", "--max-peer-frame-bytes", "1114112"});
  ASSERT_TRUE(std::holds_alternative<NodeConfig>(fits));
  EXPECT_EQ(std::get<NodeConfig>(fits).max_peer_frame_bytes, 1114112u);
  // Starting must leave room for at least one NATS request of its timings.
  auto hasty = load({"--startup-timeout-ms", "1000"});
  ASSERT_TRUE(std::holds_alternative<ConfigExit>(hasty));
  EXPECT_NE(std::get<ConfigExit>(hasty).text.find("it must exceed 2000 ms"), std::string::npos)
      << std::get<ConfigExit>(hasty).text;
  auto patient = load({"--startup-timeout-ms", "1500", "--fast-timings", "true"});
  ASSERT_TRUE(std::holds_alternative<NodeConfig>(patient));
  EXPECT_EQ(std::get<NodeConfig>(patient).startup_timeout_ms, 1500u);
  // What the node starts with: the flag in place of the set's own deadline,
  // the rest of the fast set unchanged.
  const parti::Timings started = libparti_timings(std::get<NodeConfig>(patient));
  EXPECT_EQ(started.startup_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(started.heartbeat_ttl, parti::fast_timings().heartbeat_ttl);
  EXPECT_EQ(libparti_timings(std::get<NodeConfig>(load({}))).startup_timeout,
            parti::Timings{}.startup_timeout);
  auto help = load({"--help"});
  EXPECT_EQ(std::get<ConfigExit>(help).code, 0);
  EXPECT_NE(std::get<ConfigExit>(help).text.find("--replication-factor"), std::string::npos);
}

// The secret is read when the configuration is: a node never starts with a
// secret file it cannot use, nor with the optional mode and no secret at all.
TEST_F(NodeConfigTest, TheClusterSecretIsReadWithTheConfiguration) {
  EXPECT_TRUE(std::get<NodeConfig>(load({})).cluster_secrets.empty());
  const std::string file = dir.sub("secret");
  std::ofstream(file) << "0123456789abcdef0123\n";
  auto c = std::get<NodeConfig>(load({"--cluster-secret-file", file}));
  EXPECT_EQ(c.cluster_secrets, std::vector<std::string>{"0123456789abcdef0123"});
  EXPECT_FALSE(c.cluster_secret_optional);
  EXPECT_TRUE(
      std::get<NodeConfig>(load({"--config", write_toml("cluster_secret_file = \"" + file +
                                                        "\"\ncluster_secret_optional = true\n")}))
          .cluster_secret_optional);
  auto alone = load({"--cluster-secret-optional", "true"});
  ASSERT_TRUE(std::holds_alternative<ConfigExit>(alone));
  EXPECT_NE(std::get<ConfigExit>(alone).text.find("needs --cluster-secret-file"),
            std::string::npos);
  auto missing = load({"--cluster-secret-file", dir.sub("absent")});
  ASSERT_TRUE(std::holds_alternative<ConfigExit>(missing));
  EXPECT_EQ(std::get<ConfigExit>(missing).code, 2);
}

// NATS credentials come from files, read with the configuration.
TEST_F(NodeConfigTest, NatsCredentialsAreReadFromFilesWithTheConfiguration) {
  const auto plain = std::get<NodeConfig>(load({})).nats_access;
  EXPECT_TRUE(plain.token.empty() && plain.user.empty());
  const std::string token = dir.sub("token"), password = dir.sub("password");
  std::ofstream(token) << "  tok-123\n";
  std::ofstream(password) << "pw-456\n";
  EXPECT_EQ(std::get<NodeConfig>(load({"--nats-token-file", token})).nats_access.token, "tok-123");
  auto c = std::get<NodeConfig>(load({"--config", write_toml("nats_user = \"partid\"\n"
                                                             "nats_password_file = \"" +
                                                             password + "\"\n")}));
  EXPECT_EQ(c.nats_access.user, "partid");
  EXPECT_EQ(c.nats_access.password, "pw-456");

  const auto refused = [&](std::vector<std::string> args, const std::string& why) {
    auto r = load(args);
    ASSERT_TRUE(std::holds_alternative<ConfigExit>(r)) << why;
    EXPECT_EQ(std::get<ConfigExit>(r).code, 2);
    EXPECT_NE(std::get<ConfigExit>(r).text.find(why), std::string::npos)
        << std::get<ConfigExit>(r).text;
  };
  refused({"--nats-token-file", dir.sub("absent")}, "cannot read the NATS token");
  refused({"--nats-password-file", password}, "needs a user");
  refused({"--nats-user", "u", "--nats-token-file", token}, "not both");
  std::ofstream(dir.sub("empty"));
  refused({"--nats-token-file", dir.sub("empty")}, "has 0 bytes");
  refused({"--nats-tls", "true"}, "nats-tls");  // not offered: see parti/coord/nats_access.h
}

TEST_F(NodeConfigTest, TheAdminTokenCanComeFromAFile) {
  const std::string file = dir.sub("admin-token");
  std::ofstream(file) << "adm1n\n";
  EXPECT_EQ(std::get<NodeConfig>(load({"--admin-token-file", file})).admin_token, "adm1n");
  EXPECT_EQ(std::get<NodeConfig>(load({"--admin-token", "flag"})).admin_token, "flag");
  auto both = load({"--admin-token", "flag", "--admin-token-file", file});
  ASSERT_TRUE(std::holds_alternative<ConfigExit>(both));
  EXPECT_NE(std::get<ConfigExit>(both).text.find("not both"), std::string::npos);
  auto absent = load({"--admin-token-file", dir.sub("absent")});
  ASSERT_TRUE(std::holds_alternative<ConfigExit>(absent));
  EXPECT_NE(std::get<ConfigExit>(absent).text.find("cannot read the admin token"),
            std::string::npos);
}

TEST(SplitHostPortTest, AcceptsHostPortOnly) {
  std::string host;
  uint16_t port = 0;
  EXPECT_TRUE(split_host_port("127.0.0.1:0", &host, &port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_FALSE(split_host_port("127.0.0.1", &host, &port));
  EXPECT_FALSE(split_host_port(":80", &host, &port));
  EXPECT_FALSE(split_host_port("h:99999", &host, &port));
  EXPECT_FALSE(split_host_port("h:8o", &host, &port));
}

}  // namespace
}  // namespace partid::node
