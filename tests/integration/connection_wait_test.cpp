// libparti's first connection with Options::wait_for_server: a worker started
// before its nats-server connects once the server is up; one whose server
// never comes up gets a transient error at its deadline, not before.
#include <gtest/gtest.h>

#include <atomic>
#include <stop_token>
#include <thread>

#include "parti/coord/connection.h"
#include "parti/coord/kv_bucket.h"
#include "support/handshake_cutter.h"
#include "support/nats_server.h"
#include "support/wait.h"

namespace parti::testing {
namespace {

using coord::Connection;
using coord::CoordError;
using namespace std::chrono_literals;

Connection::Options waiting(const NatsServer& server, std::chrono::milliseconds wait) {
  Connection::Options o;
  o.url = server.url();
  o.wait_for_server = wait;
  return o;
}

TEST(ConnectionWaitTest, AConnectStartedBeforeItsServerReturnsOnceTheServerIsUp) {
  NatsServer server;
  server.stop();
  std::atomic<bool> waiting_now{false};
  Connection::Options o = waiting(server, 20s);
  o.on_waiting_for_server = [&] { waiting_now = true; };
  std::shared_ptr<Connection> conn;
  std::string error;
  std::thread client([&] {
    try {
      conn = Connection::connect(o);
    } catch (const CoordError& e) {
      error = e.what();
    }
  });
  const bool waited = wait_until([&] { return waiting_now.load(); }, 10s);
  if (waited) server.start();
  client.join();
  ASSERT_TRUE(waited) << error;
  ASSERT_TRUE(conn) << error;
  EXPECT_TRUE(conn->connected());
  auto bucket = coord::KvBucket::open_or_throw(conn, "wait-test", "a probe");
  EXPECT_TRUE(bucket->put("k", "v").ok());
}

// A handshake a busy server cuts short may pass: the connect goes on trying
// (nats.c's own retry-on-failed-connect gives that server up for good).
TEST(ConnectionWaitTest, AConnectWhoseHandshakesAreCutShortKeepsTryingUntilTheServerAnswers) {
  NatsServer server;
  server.stop();
  HandshakeCutter cutter(server.port());
  std::shared_ptr<Connection> conn;
  std::string error;
  std::thread client([&] {
    try {
      conn = Connection::connect(waiting(server, 20s));
    } catch (const CoordError& e) {
      error = e.what();
    }
  });
  const bool cut = wait_until([&] { return cutter.cut() >= 2; }, 10s);
  cutter.close();
  if (cut) server.start();
  client.join();
  ASSERT_TRUE(cut) << error;
  ASSERT_TRUE(conn) << error;
  EXPECT_TRUE(conn->connected());
}

// Without a wait, the same failure is one try, and says it may pass (partid's
// start tries again on its own; it once failed a node at start on it).
TEST(ConnectionWaitTest, AHandshakeCutShortIsATransientFailure) {
  NatsServer server;
  server.stop();
  HandshakeCutter cutter(server.port());
  try {
    Connection::connect(waiting(server, 0ms));
    FAIL() << "connected to a port that cuts every handshake";
  } catch (const CoordError& e) {
    EXPECT_TRUE(e.transient()) << e.what();
  }
  EXPECT_EQ(cutter.cut(), 1);
}

TEST(ConnectionWaitTest, AConnectWhoseServerNeverComesUpFailsAsTransientAtItsDeadline) {
  NatsServer server;
  server.stop();
  const auto t0 = std::chrono::steady_clock::now();
  try {
    Connection::connect(waiting(server, 1500ms));
    FAIL() << "connected to no server";
  } catch (const CoordError& e) {
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_TRUE(e.transient()) << e.what();
    EXPECT_NE(std::string(e.what()).find("(tried for 1500 ms)"), std::string::npos) << e.what();
    EXPECT_GE(took, 1500ms);
    EXPECT_LT(took, 10s);
  }
}

TEST(ConnectionWaitTest, AStopRequestedWhileWaitingEndsTheConnectAtOnce) {
  NatsServer server;
  server.stop();
  std::stop_source stop;
  std::atomic<bool> started_waiting{false};
  auto o = waiting(server, 60s);
  o.stop = stop.get_token();
  o.on_waiting_for_server = [&] { started_waiting = true; };
  std::thread stopper([&] {
    ASSERT_TRUE(wait_until([&] { return started_waiting.load(); }, 30s));
    stop.request_stop();
  });
  const auto t0 = std::chrono::steady_clock::now();
  try {
    Connection::connect(o);
    FAIL() << "connected to no server";
  } catch (const CoordError& e) {
    EXPECT_FALSE(e.transient()) << e.what();  // asked to stop: not worth trying again
    EXPECT_NE(std::string(e.what()).find("stopped while waiting"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 30s);  // not its 60-s wait
  stopper.join();
}

TEST(ConnectionWaitTest, WithoutAWaitAConnectToNoServerFailsAtOnce) {
  NatsServer server;
  server.stop();
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(Connection::connect(waiting(server, 0ms)), CoordError);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
}

}  // namespace
}  // namespace parti::testing
