// FragmentSender over real loopback TCP to a PeerServer that assembles what it
// receives: a transfer started while the peer already has as many as it may
// waits for one to end and then goes, whole, instead of being dropped (a
// dropped snapshot is built again, seconds of work for a large partition);
// and a transfer the peer answers busy (no room) is sent again later, not
// abandoned, unless the peer stays busy past the sender's patience.
#include "partid/replication/fragments.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <future>
#include <thread>

#include "partid/peer/peer_server.h"
#include "support/peer_wire.h"
#include "support/run_loop.h"
#include "support/wait.h"

namespace partid::replication {
namespace {

using namespace std::chrono_literals;

class FragmentSenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const peer::Greeting greeting{peer::kProtocol, "c", parti::testing::secrets_of("")};
    server = std::make_unique<peer::PeerServer>(
        loop.get_executor(), peer::ChannelLimits{}, greeting,
        [this](pb::Envelope request, peer::PeerServer::Reply reply) { receive(request, reply); });
    server->listen("127.0.0.1", 0);
    peer::ClientOptions client_options;
    client_options.greeting = greeting;
    client = std::make_unique<peer::PeerClient>(loop.get_executor(), client_options);
    FragmentSender::Options options;
    options.fragment_bytes = 1000;
    options.max_transfers_per_peer = 1;
    options.busy_retry = 10ms;
    options.busy_retry_max = 40ms;
    options.busy_patience = 500ms;
    sender = std::make_unique<FragmentSender>(*client, loop.get_executor(), work.get_executor(),
                                              options);
    runner = std::thread([this] { loop.run(); });
  }
  void TearDown() override {
    on_loop([&] {
      sender.reset();
      client->stop();
      server->stop();
    });
    guard.reset();
    runner.join();
    work.join();
  }
  // On the loop: records which transfer each fragment belongs to, and what
  // each completed transfer carried.
  void receive(const pb::Envelope& request, const peer::PeerServer::Reply& reply) {
    if (!request.has_fragment()) return;
    if (request.fragment().index() == 0 && busy_answers > 0) {
      --busy_answers;
      pb::Envelope ack;
      ack.mutable_fragment_ack()->set_busy(true);
      return reply(std::move(ack));
    }
    order.push_back(request.fragment().transfer());
    auto part = assembler.add(request.fragment(), FragmentAssembler::Clock::now());
    if (part.message) {
      std::lock_guard lock(mu);
      received.push_back(std::move(*part.message));
    }
    pb::Envelope ack;
    ack.mutable_fragment_ack()->set_ok(part.accepted);
    reply(std::move(ack));
  }
  void on_loop(const std::function<void()>& f) { parti::testing::on_loop(loop, f); }
  size_t received_count() {
    std::lock_guard lock(mu);
    return received.size();
  }
  // The receiver records a transfer before it acknowledges the last fragment;
  // the sender counts it completed once that acknowledgement is back.
  bool completes(uint64_t transfers) {
    return parti::testing::wait_until(
        [&] {
          uint64_t done = 0;
          on_loop([&] { done = sender->completed(); });
          return done == transfers;
        },
        std::chrono::seconds(10));
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(server->port()); }

  asio::io_context loop;
  asio::executor_work_guard<asio::io_context::executor_type> guard = asio::make_work_guard(loop);
  asio::thread_pool work{1};
  std::unique_ptr<peer::PeerServer> server;
  std::unique_ptr<peer::PeerClient> client;
  std::unique_ptr<FragmentSender> sender;
  std::thread runner;
  FragmentAssembler assembler;  // loop only
  std::vector<uint64_t> order;  // loop only: each fragment's transfer, as received
  int busy_answers = 0;         // loop only: first fragments still to answer busy
  std::mutex mu;
  std::vector<std::string> received;  // under mu
};

TEST_F(FragmentSenderTest, ATransferPastThePeersLimitWaitsForOneToEndThenGoesWhole) {
  // The first one's head ends inside a fragment: the fragment takes the
  // rest from the tail.
  const TransferBytes first{std::string(2'500, 'h'), std::make_shared<std::string>(8'000, 't')};
  const TransferBytes second{std::string(7'200, 'b'), nullptr};
  bool first_started = false;
  bool second_started = false;
  bool busy_while_waiting = false;
  on_loop([&] {
    first_started = sender->start(address(), 1, "n", [&] { return first; });
    second_started = sender->start(address(), 2, "n", [&] { return second; });
    // The waiting one counts as its partition's transfer: not started twice.
    busy_while_waiting = !sender->start(address(), 2, "n", [&] { return second; });
  });
  EXPECT_TRUE(first_started);
  EXPECT_TRUE(second_started) << "dropped: the peer had no room at that moment";
  EXPECT_TRUE(busy_while_waiting);
  ASSERT_TRUE(parti::testing::wait_until([&] { return received_count() == 2; }, 10s));
  ASSERT_TRUE(completes(2));
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(received[0], first.head + *first.tail);
    EXPECT_EQ(received[1], second.head);
  }
  on_loop([&] {
    EXPECT_EQ(sender->completed(), 2u);
    EXPECT_EQ(sender->abandoned(), 0u);
    // One at a time: every fragment of the first before any of the second.
    ASSERT_EQ(order.size(), 11u + 8u);
    EXPECT_TRUE(std::all_of(order.begin(), order.begin() + 11,
                            [&](uint64_t t) { return t == order.front(); }));
    EXPECT_TRUE(std::all_of(order.begin() + 11, order.end(),
                            [&](uint64_t t) { return t == order.back() && t != order.front(); }));
  });
}

TEST_F(FragmentSenderTest, ATransferThePeerHasNoRoomForIsSentAgainLaterNotAbandoned) {
  const TransferBytes one{std::string(2'500, 'a'), nullptr};
  on_loop([&] {
    busy_answers = 3;
    EXPECT_TRUE(sender->start(address(), 1, "n", [&] { return one; }));
  });
  ASSERT_TRUE(parti::testing::wait_until([&] { return received_count() == 1; }, 10s));
  ASSERT_TRUE(completes(1));
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(received[0], one.head);
  }
  on_loop([&] {
    EXPECT_EQ(sender->busy_refusals(), 3u);
    EXPECT_EQ(sender->completed(), 1u);
    EXPECT_EQ(sender->abandoned(), 0u);
    EXPECT_EQ(sender->started(), 1u) << "serialized once, whatever the waits";
  });
}

TEST_F(FragmentSenderTest, APeerBusyPastThePatienceHasTheTransferAbandoned) {
  const TransferBytes one{std::string(2'500, 'a'), nullptr};
  on_loop([&] {
    busy_answers = 1000000;
    EXPECT_TRUE(sender->start(address(), 1, "n", [&] { return one; }));
  });
  uint64_t abandoned = 0;
  ASSERT_TRUE(parti::testing::wait_until(
      [&] {
        on_loop([&] { abandoned = sender->abandoned(); });
        return abandoned == 1;
      },
      10s));
  on_loop([&] {
    EXPECT_GE(sender->busy_refusals(), 2u);
    EXPECT_EQ(sender->completed(), 0u);
    // Its pair is free again: the core's next request may build anew.
    EXPECT_FALSE(sender->busy(address(), 1));
  });
  EXPECT_EQ(received_count(), 0u);
}

}  // namespace
}  // namespace partid::replication
