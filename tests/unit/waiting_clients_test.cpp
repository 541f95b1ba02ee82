// Which waiting client connection a node at its cap closes to make room
// (api/waiting_clients.h). Time is passed in, so no test waits for it.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "partid/api/waiting_clients.h"

namespace partid::api {
namespace {

using namespace std::chrono_literals;
using Phase = WaitingClients::Phase;
using Wait = WaitingClients::Wait;

class WaitingClientsTest : public ::testing::Test {
 protected:
  boost::asio::ip::tcp::socket open_socket() {
    boost::asio::ip::tcp::socket s(io);
    s.open(boost::asio::ip::tcp::v4());
    return s;
  }
  const WaitingClients::Clock::time_point start = WaitingClients::Clock::now();
  boost::asio::io_context io;
};

TEST_F(WaitingClientsTest, NoWaitIsCutBeforeItsThreshold) {
  WaitingClients waiting({.idle = 1s, .reading = 5s});
  auto idle_socket = open_socket(), reading_socket = open_socket();
  Wait idle(waiting, Phase::idle, idle_socket);
  Wait reading(waiting, Phase::reading, reading_socket);
  EXPECT_EQ(waiting.cut_one(start), std::nullopt);
  EXPECT_EQ(waiting.cut_one(start + 500ms), std::nullopt);
  EXPECT_FALSE(idle.cut());
  EXPECT_TRUE(idle_socket.is_open());
}

TEST_F(WaitingClientsTest, AnIdleConnectionPastItsThresholdIsClosed) {
  WaitingClients waiting({.idle = 1s, .reading = 5s});
  auto socket = open_socket();
  Wait idle(waiting, Phase::idle, socket);
  EXPECT_EQ(waiting.cut_one(start + 2s), Phase::idle);
  EXPECT_TRUE(idle.cut());
  EXPECT_FALSE(socket.is_open()) << "its descriptor is free at once";
  EXPECT_EQ(waiting.cut_one(start + 2s), std::nullopt) << "a wait is cut once";
}

TEST_F(WaitingClientsTest, IdleConnectionsGoFirstOldestFirstThenSlowRequests) {
  WaitingClients waiting({.idle = 1s, .reading = 1s});
  auto s1 = open_socket(), s2 = open_socket(), s3 = open_socket();
  Wait slow(waiting, Phase::reading, s1);  // the oldest, but losing it loses a request
  Wait older(waiting, Phase::idle, s2);
  Wait newer(waiting, Phase::idle, s3);
  const auto later = WaitingClients::Clock::now() + 10s;
  EXPECT_EQ(waiting.cut_one(later), Phase::idle);
  EXPECT_TRUE(older.cut());
  EXPECT_FALSE(newer.cut());
  EXPECT_EQ(waiting.cut_one(later), Phase::idle);
  EXPECT_TRUE(newer.cut());
  EXPECT_EQ(waiting.cut_one(later), Phase::reading);
  EXPECT_TRUE(slow.cut());
  EXPECT_TRUE(s1.is_open()) << "a slow request's socket stays open: its session answers 408";
}

TEST_F(WaitingClientsTest, ASlowRequestIsCutWhenNoIdleConnectionQualifies) {
  WaitingClients waiting({.idle = 10s, .reading = 1s});
  auto s1 = open_socket(), s2 = open_socket();
  Wait idle(waiting, Phase::idle, s1);
  Wait slow(waiting, Phase::reading, s2);
  EXPECT_EQ(waiting.cut_one(WaitingClients::Clock::now() + 2s), Phase::reading);
  EXPECT_FALSE(idle.cut());
  EXPECT_TRUE(slow.cut());
}

TEST_F(WaitingClientsTest, AWaitThatEndedIsNeverCut) {
  WaitingClients waiting({.idle = 0ms, .reading = 0ms});
  auto socket = open_socket();
  { Wait idle(waiting, Phase::idle, socket); }
  EXPECT_EQ(waiting.cut_one(start + 1h), std::nullopt);
  EXPECT_TRUE(socket.is_open());
}

}  // namespace
}  // namespace partid::api
