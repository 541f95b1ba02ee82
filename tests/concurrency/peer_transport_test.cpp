#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "partid/peer/peer_client.h"
#include "partid/peer/peer_server.h"
#include "support/peer_wire.h"
#include "support/raw_socket.h"
#include "support/wait.h"

namespace partid::peer {
namespace {

using namespace std::chrono_literals;

// A PeerServer and PeerClient on one loop thread, over real loopback TCP.
class PeerTransportTest : public ::testing::Test {
 protected:
  void SetUp() override { start(""); }
  // A server and client sharing `secret` (empty: none).
  void start(const std::string& cluster_secret, ChannelLimits limits = {1024, 1 << 20},
             PeerAdmission admission = {}) {
    secret = cluster_secret;
    server = std::make_unique<PeerServer>(
        loop.get_executor(), limits, Greeting{kProtocol, "c", parti::testing::secrets_of(secret)},
        [this](pb::Envelope request, PeerServer::Reply reply) {
          ++requests;
          if (request.has_forward() && request.forward().method() == "THROW") {
            throw std::runtime_error("a handler bug");
          }
          if (request.has_ping()) {
            pb::Envelope pong;
            pong.mutable_pong()->set_node_id("server");
            reply(std::move(pong));
          }  // anything else is left unanswered: the client's deadline handles it
        },
        admission);
    server->listen("127.0.0.1", 0);
    client = std::make_unique<PeerClient>(
        loop.get_executor(), options_for({kProtocol, "c", parti::testing::secrets_of(secret)}));
    runner = std::thread([this] { loop.run(); });
  }
  static ClientOptions options_for(Greeting greeting) {
    ClientOptions o;
    o.greeting = std::move(greeting);
    return o;
  }
  void TearDown() override {
    asio::post(loop, [this] {
      if (other) other->stop();
      client->stop();
      server->stop();
    });
    guard.reset();
    runner.join();
  }
  PeerReply call(const std::string& address, pb::Envelope e, std::chrono::milliseconds timeout) {
    return call_with(*client, address, std::move(e), timeout);
  }
  PeerReply call_with(PeerClient& c, const std::string& address, pb::Envelope e,
                      std::chrono::milliseconds timeout) {
    std::promise<PeerReply> p;
    asio::post(loop, [&] {
      c.call(address, std::move(e), timeout, [&](PeerReply r) { p.set_value(std::move(r)); });
    });
    return p.get_future().get();
  }
  // A client with `greeting` (in `other`) never gets a ping through: its
  // request fails, before it was sent, with `reason`. Stops it after.
  void expect_refused_at_handshake(const Greeting& greeting, const std::string& reason) {
    other = std::make_unique<PeerClient>(loop.get_executor(), options_for(greeting));
    auto r = call_with(*other, address(), ping(), 2000ms);
    EXPECT_FALSE(r.envelope);
    EXPECT_FALSE(r.timed_out);
    EXPECT_FALSE(r.maybe_delivered) << "held until the handshake, so never sent";
    EXPECT_NE(r.error.find(reason), std::string::npos) << r.error;
    std::promise<void> stopped;
    asio::post(loop, [&] {
      other->stop();
      stopped.set_value();
    });
    stopped.get_future().get();
  }
  // Read on the loop, which owns it.
  uint64_t rejected() {
    std::promise<uint64_t> p;
    asio::post(loop, [&] { p.set_value(server->rejected_connections()); });
    return p.get_future().get();
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(server->port()); }
  static pb::Envelope ping() {
    pb::Envelope e;
    e.mutable_ping();
    return e;
  }

  asio::io_context loop;
  asio::executor_work_guard<asio::io_context::executor_type> guard = asio::make_work_guard(loop);
  std::unique_ptr<PeerServer> server;
  std::unique_ptr<PeerClient> client;
  std::unique_ptr<PeerClient> other;  // a client with another greeting
  std::thread runner;
  std::atomic<int> requests{0};
  std::string secret;  // the server's and `client`'s
};

TEST_F(PeerTransportTest, RequestsGetTheirRepliesOverOneConnection) {
  for (int i = 0; i < 20; ++i) {
    auto r = call(address(), ping(), 2000ms);
    ASSERT_TRUE(r.envelope) << r.error;
    EXPECT_EQ(r.envelope->pong().node_id(), "server");
  }
  EXPECT_EQ(requests.load(), 20);
}

TEST_F(PeerTransportTest, UnansweredRequestTimesOut) {
  pb::Envelope e;
  e.mutable_forward()->set_method("GET");
  auto r = call(address(), e, 100ms);
  EXPECT_FALSE(r.envelope);
  EXPECT_TRUE(r.timed_out);
}

// A connected peer that stops answering: after five timeouts its circuit opens
// and calls fail at once without reaching it; once it answers again a probe
// closes the circuit.
TEST_F(PeerTransportTest, APeerThatKeepsTimingOutIsRefusedAtOnceUntilAProbeSucceeds) {
  pb::Envelope unanswered;
  unanswered.mutable_forward()->set_method("GET");
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(call(address(), unanswered, 50ms).timed_out);
  const int reached = requests.load();
  auto refused = call(address(), ping(), 2000ms);
  EXPECT_TRUE(refused.circuit_open);
  EXPECT_FALSE(refused.envelope);
  EXPECT_EQ(requests.load(), reached);  // never sent
  EXPECT_TRUE(parti::testing::wait_until(
      [&] { return call(address(), ping(), 2000ms).envelope.has_value(); }, 10000ms));
  EXPECT_TRUE(call(address(), ping(), 2000ms).envelope);
  uint64_t opened = 0;
  std::promise<void> read;
  asio::post(loop, [&] {
    opened = client->circuits_opened();
    read.set_value();
  });
  read.get_future().wait();
  EXPECT_EQ(opened, 1u);
}

// A request that measures (a clock probe's ping) is never judged by the
// circuit breaker: its timeouts open no circuit, and an open circuit does not
// stop it.
TEST_F(PeerTransportTest, CallsThatMeasureNeitherOpenACircuitNorAreStoppedByOne) {
  pb::Envelope unanswered;
  unanswered.mutable_forward()->set_method("GET");
  const auto unjudged = [&](pb::Envelope e, std::chrono::milliseconds timeout) {
    std::promise<PeerReply> p;
    asio::post(loop, [&] {
      client->call_unjudged(address(), std::move(e), timeout,
                            [&](PeerReply r) { p.set_value(std::move(r)); });
    });
    return p.get_future().get();
  };
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(unjudged(unanswered, 50ms).timed_out);
  EXPECT_TRUE(call(address(), ping(), 2000ms).envelope) << "no circuit opened";
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(call(address(), unanswered, 50ms).timed_out);
  ASSERT_TRUE(call(address(), ping(), 2000ms).circuit_open);
  auto measured = unjudged(ping(), 2000ms);
  ASSERT_TRUE(measured.envelope) << measured.error;
  EXPECT_EQ(measured.envelope->pong().node_id(), "server");
  EXPECT_TRUE(call(address(), ping(), 2000ms).circuit_open) << "its answer closes nothing";
}

TEST_F(PeerTransportTest, UnreachablePeerFailsFastAndCleanly) {
  auto r = call("127.0.0.1:1", ping(), 2000ms);
  EXPECT_FALSE(r.envelope);
  EXPECT_FALSE(r.timed_out);
  EXPECT_NE(r.error.find("connect"), std::string::npos) << r.error;
  EXPECT_FALSE(r.maybe_delivered);                   // it never left: safe to send elsewhere
  auto again = call("127.0.0.1:1", ping(), 2000ms);  // inside the backoff: refused at once
  EXPECT_NE(again.error.find("down"), std::string::npos) << again.error;
  EXPECT_FALSE(call("not-an-address", ping(), 100ms).envelope);
}

// What the replication shell asks before it builds a snapshot for a peer:
// a peer is known down only after a connect to it failed, until the backoff
// before the next try has passed; a peer never tried, or connected, is not.
TEST_F(PeerTransportTest, APeerIsKnownDownFromAFailedConnectUntilItsBackoffPasses) {
  const auto known_down = [&](const std::string& a) {
    std::promise<bool> p;
    asio::post(loop, [&] { p.set_value(client->known_down(a)); });
    return p.get_future().get();
  };
  EXPECT_FALSE(known_down("127.0.0.1:1"));
  EXPECT_FALSE(call("127.0.0.1:1", ping(), 2000ms).envelope);
  EXPECT_TRUE(known_down("127.0.0.1:1"));
  EXPECT_TRUE(parti::testing::wait_until([&] { return !known_down("127.0.0.1:1"); }, 10s));
  ASSERT_TRUE(call(address(), ping(), 2000ms).envelope);
  EXPECT_FALSE(known_down(address()));
}

// The request left and the connection died before an answer: the peer may
// have acted on it, and the reply says so (a forwarded write is then
// "outcome unknown", never retried).
TEST_F(PeerTransportTest, AConnectionLostAfterTheRequestLeftSaysItMayHaveArrived) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  std::thread peer([&] {
    asio::ip::tcp::socket socket(io);
    acceptor.accept(socket);
    unsigned char header[kFrameHeaderBytes];
    asio::read(socket, asio::buffer(header));
    std::string theirs(decode_length(header), '\0');
    asio::read(socket, asio::buffer(theirs));
    asio::write(socket, asio::buffer(encode_frame(hello({kProtocol, "c", {}}))));
    char first = 0;
    asio::read(socket, asio::buffer(&first, 1));  // the request arrived
    socket.close();
  });
  auto r = call("127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()), ping(), 5000ms);
  peer.join();
  EXPECT_FALSE(r.envelope);
  EXPECT_FALSE(r.timed_out);
  EXPECT_TRUE(r.maybe_delivered) << r.error;
}

TEST_F(PeerTransportTest, GarbageAndOversizedFramesCloseOnlyThatConnection) {
  for (const std::string& bytes :
       {std::string("\x00\x00\x00\x05hello", 9), std::string("\x7f\xff\xff\xff", 4),
        std::string("GET / HTTP/1.1\r\n\r\n")}) {
    asio::io_context io;
    asio::ip::tcp::socket s(io);
    s.connect({asio::ip::make_address("127.0.0.1"), server->port()});
    asio::write(s, asio::buffer(bytes));
    char buf[16];
    boost::system::error_code ec;
    s.read_some(asio::buffer(buf), ec);  // the server closes on us
    EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
  }
  auto r = call(address(), ping(), 2000ms);  // the server still serves others
  ASSERT_TRUE(r.envelope) << r.error;
  EXPECT_EQ(server->rejected_connections(), 3u);
}

// A handler that throws must not leave the connection open and unread (a
// detached coroutine's exception vanishes): the connection closes, saying
// why, and the server goes on serving.
TEST_F(PeerTransportTest, AFrameWhoseHandlingThrowsClosesItsConnectionOnly) {
  pb::Envelope poison;
  poison.mutable_forward()->set_method("THROW");
  auto r = call(address(), poison, 2000ms);
  EXPECT_FALSE(r.envelope);
  EXPECT_FALSE(r.timed_out) << "the connection closed at once";
  EXPECT_TRUE(r.maybe_delivered);
  EXPECT_TRUE(parti::testing::wait_until([&] { return rejected() == 1; }, 5s)) << rejected();
  EXPECT_TRUE(parti::testing::wait_until(
      [&] { return call(address(), ping(), 2000ms).envelope.has_value(); }, 10s));
}

TEST(PeerHandshakeTest, NodesTalkWhenTheirClusterMatchesAndTheirProtocolRangesOverlap) {
  const Greeting ours{{2, 3}, "c", {}};
  const auto theirs = [](uint32_t min, uint32_t max, const std::string& cluster) {
    return hello(Greeting{{min, max}, cluster, {}}).hello();
  };
  EXPECT_EQ(incompatibility(ours, theirs(2, 3, "c")), std::nullopt);
  EXPECT_EQ(incompatibility(ours, theirs(1, 2, "c")), std::nullopt);  // an older node, upgrading
  EXPECT_EQ(incompatibility(ours, theirs(3, 4, "c")), std::nullopt);  // a newer one
  EXPECT_EQ(incompatibility(ours, theirs(1, 1, "c")), "it speaks peer protocol 1-1, this node 2-3");
  EXPECT_EQ(incompatibility(ours, theirs(4, 5, "c")), "it speaks peer protocol 4-5, this node 2-3");
  EXPECT_EQ(incompatibility(ours, theirs(3, 2, "c")), "its protocol range 3-2 is empty");
  EXPECT_EQ(incompatibility(ours, theirs(2, 3, "d")),
            "it belongs to cluster 'd', this node to 'c'");
}

TEST_F(PeerTransportTest, APeerOfAnotherClusterOrProtocolNeverSeesARequest) {
  const uint32_t newer = kProtocol.max + 1;
  for (const auto& [greeting, reason] : std::vector<std::pair<Greeting, std::string>>{
           {{kProtocol, "d", {}}, "cluster 'd'"}, {{{newer, newer}, "c", {}}, "peer protocol"}}) {
    expect_refused_at_handshake(greeting, reason);
  }
  EXPECT_EQ(requests, 0);
  EXPECT_TRUE(parti::testing::wait_until([&] { return rejected() == 2; }, 5s)) << rejected();
  auto r = call(address(), ping(), 2000ms);  // a node of this cluster is served
  ASSERT_TRUE(r.envelope) << r.error;
  EXPECT_EQ(requests, 1);
}

TEST_F(PeerTransportTest, AConnectionThatDoesNotStartWithAHelloIsClosedUnheard) {
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), server->port()});
  asio::write(s, asio::buffer(encode_frame(ping())));
  char buf[16];
  boost::system::error_code ec;
  s.read_some(asio::buffer(buf), ec);
  EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
  EXPECT_EQ(requests, 0);
  EXPECT_TRUE(parti::testing::wait_until([&] { return rejected() == 1; }, 5s)) << rejected();
}

TEST_F(PeerTransportTest, AListenerThatNeverAnswersTheHelloFailsRequestsAtTheConnectTimeout) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  asio::ip::tcp::socket silent(io);
  std::thread accept([&] { acceptor.accept(silent); });
  ClientOptions o = options_for({kProtocol, "c", parti::testing::secrets_of(secret)});
  o.connect_timeout = 200ms;
  other = std::make_unique<PeerClient>(loop.get_executor(), o);
  auto r = call_with(*other, "127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()),
                     ping(), 30000ms);
  accept.join();
  EXPECT_FALSE(r.envelope);
  EXPECT_FALSE(r.timed_out) << "failed by the handshake deadline, not its own";
  EXPECT_FALSE(r.maybe_delivered);
  EXPECT_NE(r.error.find("no Hello"), std::string::npos) << r.error;
}

// --peer-source: a client given a local address connects from it (what lets a
// firewall, or the tests' proxies, tell one node's connections from
// another's on the same machine); one it cannot bind fails its requests with
// the reason, before anything is sent.
TEST_F(PeerTransportTest, AClientGivenASourceAddressConnectsFromIt) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  asio::ip::tcp::socket accepted(io);
  std::thread accept([&] { acceptor.accept(accepted); });
  ClientOptions o = options_for({kProtocol, "c", parti::testing::secrets_of(secret)});
  o.source = asio::ip::make_address("127.0.0.7");
  o.connect_timeout = 200ms;
  other = std::make_unique<PeerClient>(loop.get_executor(), o);
  auto r = call_with(*other, "127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()),
                     ping(), 30000ms);
  accept.join();
  EXPECT_EQ(accepted.remote_endpoint().address().to_string(), "127.0.0.7");
  EXPECT_FALSE(r.envelope);  // the listener never answers the Hello

  ClientOptions unbindable = o;
  unbindable.source = asio::ip::make_address("192.0.2.1");  // TEST-NET-1: not this machine's
  auto other_client = std::make_unique<PeerClient>(loop.get_executor(), unbindable);
  auto refused = call_with(*other_client, address(), ping(), 2000ms);
  EXPECT_FALSE(refused.envelope);
  EXPECT_FALSE(refused.maybe_delivered);
  EXPECT_NE(refused.error.find("cannot connect from 192.0.2.1"), std::string::npos)
      << refused.error;
  EXPECT_EQ(requests.load(), 0);
  std::promise<void> stopped;
  asio::post(loop, [&] {
    other_client->stop();
    stopped.set_value();
  });
  stopped.get_future().get();
}

// The same transport with a cluster secret: what a stranger can and cannot
// get from a node over a real socket.
class AuthenticatedPeerTransportTest : public PeerTransportTest {
 protected:
  void SetUp() override { start(kSecret, {1 << 20, 1 << 20}, {.handshake_timeout = 300ms}); }
  static inline const std::string kSecret = "the-cluster-secret-of-this-test";
  // A raw connection and the first frame the server sends back, if any.
  std::optional<pb::Envelope> exchange(asio::ip::tcp::socket& s, const std::string& bytes) {
    asio::write(s, asio::buffer(bytes));
    unsigned char header[kFrameHeaderBytes];
    boost::system::error_code ec;
    asio::read(s, asio::buffer(header), ec);
    if (ec) return std::nullopt;
    std::string body(decode_length(header), '\0');
    asio::read(s, asio::buffer(body), ec);
    if (ec) return std::nullopt;
    return decode_envelope(body);
  }
  static bool closed(asio::ip::tcp::socket& s) {
    char buf[16];
    boost::system::error_code ec;
    s.read_some(asio::buffer(buf), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }
};

TEST_F(AuthenticatedPeerTransportTest, PeersThatShareTheSecretTalk) {
  for (int i = 0; i < 5; ++i) {
    auto r = call(address(), ping(), 2000ms);
    ASSERT_TRUE(r.envelope) << r.error;
  }
  EXPECT_EQ(requests.load(), 5);
}

TEST_F(AuthenticatedPeerTransportTest, APeerWithoutTheSecretNeverSeesARequestNorIsHeard) {
  for (const auto& [stranger_secret, reason] : std::vector<std::pair<std::string, std::string>>{
           {"", "gives no proof of the cluster secret"},
           {"a-guess-at-the-cluster-secret", "could not prove it holds this cluster's secret"}}) {
    expect_refused_at_handshake({kProtocol, "c", parti::testing::secrets_of(stranger_secret)},
                                reason);
  }
  // One that ignores the acceptor's proof and sends a request with a wrong
  // proof of its own, or none, is closed unheard.
  for (bool with_proof : {true, false}) {
    asio::io_context io;
    asio::ip::tcp::socket s(io);
    s.connect({asio::ip::make_address("127.0.0.1"), server->port()});
    DialerHandshake guess({kProtocol, "c", {"a-guess-at-the-cluster-secret"}});
    auto answer = exchange(s, encode_frame(guess.hello()));
    ASSERT_TRUE(answer && answer->has_hello() && !answer->hello().nonce().empty());
    pb::Envelope forged;
    forged.mutable_peer_proof()->set_proof(std::string(32, 'f'));
    asio::write(s, asio::buffer((with_proof ? encode_frame(forged) : "") + encode_frame(ping())));
    EXPECT_TRUE(closed(s));
  }
  EXPECT_EQ(requests.load(), 0);
  // Refused by the server: the client without a secret and both raw ones (the
  // client with a wrong secret closed the connection itself).
  EXPECT_TRUE(parti::testing::wait_until([&] { return rejected() == 3; }, 5s)) << rejected();
  ASSERT_TRUE(call(address(), ping(), 2000ms).envelope);  // a holder of the secret is served
  EXPECT_EQ(requests.load(), 1);
}

// A stranger holds neither a socket nor buffers for long: the handshake has a
// deadline, and its frames a small limit that the open connection lifts.
TEST_F(AuthenticatedPeerTransportTest, AHandshakeThatStallsOrSendsABigFrameIsClosed) {
  asio::io_context io;
  asio::ip::tcp::socket silent(io);
  silent.connect({asio::ip::make_address("127.0.0.1"), server->port()});
  EXPECT_TRUE(closed(silent)) << "closed at the handshake deadline";

  asio::ip::tcp::socket big(io);
  big.connect({asio::ip::make_address("127.0.0.1"), server->port()});
  pb::Envelope large;
  large.mutable_forward()->set_body(std::string(kHandshakeFrameBytes, 'x'));
  asio::write(big, asio::buffer(encode_frame(large)));
  EXPECT_TRUE(closed(big));
  EXPECT_TRUE(parti::testing::wait_until([&] { return rejected() == 2; }, 5s)) << rejected();

  // Once open, the channel's own limit applies (the server leaves it unanswered).
  EXPECT_TRUE(call(address(), large, 100ms).timed_out);
  EXPECT_EQ(requests.load(), 1);
  EXPECT_EQ(rejected(), 2u);
}

// Strangers that connect and say nothing hold an opening slot each until the
// handshake deadline; past max_opening of them, connections are closed at
// accept instead of taking descriptors. A peer is heard once they are gone.
class CappedPeerTransportTest : public AuthenticatedPeerTransportTest {
 protected:
  void SetUp() override {
    start(kSecret, {1 << 20, 1 << 20},
          {.handshake_timeout = 10s, .max_opening = 2, .reclaim_after = reclaim_after});
  }
  std::chrono::milliseconds reclaim_after = 1h;  // here: none is reclaimed
  static bool still_open(asio::ip::tcp::socket& s) {
    s.non_blocking(true);
    char buf[16];
    boost::system::error_code ec;
    s.read_some(asio::buffer(buf), ec);
    s.non_blocking(false);
    return ec == asio::error::would_block;
  }
};

TEST_F(CappedPeerTransportTest, ConnectionsPastTheOpeningCapAreClosedAtAccept) {
  asio::io_context io;
  std::vector<asio::ip::tcp::socket> strangers;
  for (int i = 0; i < 2; ++i) strangers.push_back(parti::testing::connect_to(io, address()));
  auto third = parti::testing::connect_to(io, address());
  EXPECT_TRUE(closed(third)) << "closed at accept, long before the 10-s handshake deadline";
  EXPECT_TRUE(parti::testing::wait_until([&] { return rejected() == 1; }, 5s)) << rejected();
  for (auto& s : strangers) EXPECT_TRUE(still_open(s)) << "the two within the cap wait";
  strangers.clear();  // gone: a holder of the secret is heard again
  EXPECT_TRUE(parti::testing::wait_until(
      [&] { return call(address(), ping(), 500ms).envelope.has_value(); }, 10s));
  EXPECT_GE(requests.load(), 1);
}

class ReclaimingPeerTransportTest : public CappedPeerTransportTest {
 protected:
  void SetUp() override {
    reclaim_after = 0ms;  // any connection still opening may be reclaimed
    CappedPeerTransportTest::SetUp();
  }
};

TEST_F(ReclaimingPeerTransportTest, TheConnectionOpeningLongestMakesRoomForANewOne) {
  asio::io_context io;
  auto first = parti::testing::connect_to(io, address());
  auto second = parti::testing::connect_to(io, address());
  auto third = parti::testing::connect_to(io, address());
  EXPECT_TRUE(closed(first)) << "opening longest: closed to admit the third";
  EXPECT_TRUE(parti::testing::wait_until([&] { return rejected() == 1; }, 5s)) << rejected();
  EXPECT_TRUE(still_open(second));
  EXPECT_TRUE(still_open(third));
  // Strangers hold every opening slot, yet a holder of the secret gets in.
  EXPECT_TRUE(call(address(), ping(), 2000ms).envelope.has_value());
  EXPECT_TRUE(closed(second)) << "it made room for the peer";
  EXPECT_TRUE(still_open(third));
}

// Rotation: a secret taken out of the list closes the connections it opened
// (the server's side here), and new connections prove the secrets held now.
TEST_F(AuthenticatedPeerTransportTest, ARetiredSecretClosesTheConnectionsItOpened) {
  const auto on_loop = [&](auto f) {
    std::promise<void> done;
    asio::post(loop, [&] {
      f();
      done.set_value();
    });
    done.get_future().get();
  };
  ASSERT_TRUE(call(address(), ping(), 2000ms).envelope);
  asio::io_context io;
  auto raw = parti::testing::greeted_peer(io, address(), "c", kSecret);
  const std::string next = kSecret + "-next";
  on_loop([&] {
    server->set_secrets({next, kSecret});
    client->set_secrets({next, kSecret});
  });
  ASSERT_TRUE(call(address(), ping(), 2000ms).envelope);  // both accepted: nothing closed
  EXPECT_EQ(rejected(), 0u);

  on_loop([&] { server->set_secrets({next}); });
  EXPECT_TRUE(closed(raw)) << "it proved the retired secret";
  // The client's connection proved it too: closed, and the next one proves `next`.
  EXPECT_TRUE(parti::testing::wait_until(
      [&] { return call(address(), ping(), 2000ms).envelope.has_value(); }, 5s));
  EXPECT_TRUE(parti::testing::wait_until([&] { return rejected() == 2; }, 5s)) << rejected();
  expect_refused_at_handshake({kProtocol, "c", {kSecret}}, "could not prove");
}

}  // namespace
}  // namespace partid::peer
