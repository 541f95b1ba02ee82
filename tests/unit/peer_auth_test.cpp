// The peer handshake's proof of the cluster secret, both halves driven
// against each other (and against a stranger) in memory.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "partid/peer/handshake.h"
#include "partid/peer/peer_auth.h"
#include "support/temp_dir.h"

namespace partid::peer {
namespace {

const std::string kSecret = "sixteen-bytes-or-more-of-secret";

Greeting with_secret(const std::string& secret) {
  if (secret.empty()) return {kProtocol, "c", {}};
  return {kProtocol, "c", {secret}};
}
Greeting with_secrets(std::vector<std::string> secrets) {
  return {kProtocol, "c", std::move(secrets)};
}

// Runs a whole handshake; the acceptor's state and the dialer's verdict.
struct Outcome {
  bool open = false;
  std::optional<std::string> dialer_refused, acceptor_refused;
};
Outcome shake(const Greeting& dialer_side, const Greeting& acceptor_side) {
  DialerHandshake dialer(dialer_side);
  AcceptorHandshake acceptor(acceptor_side);
  Outcome out;
  auto step = acceptor.on_frame(dialer.hello());
  out.acceptor_refused = step.refused;
  if (!step.reply) return out;
  auto verdict = dialer.on_answer(*step.reply);
  out.dialer_refused = verdict.refused;
  if (verdict.refused) return out;
  if (verdict.proof) out.acceptor_refused = acceptor.on_frame(*verdict.proof).refused;
  out.open = acceptor.open();
  return out;
}

TEST(PeerAuthTest, NodesWithTheSameSecretOpenTheConnection) {
  const auto out = shake(with_secret(kSecret), with_secret(kSecret));
  EXPECT_TRUE(out.open);
  EXPECT_EQ(out.dialer_refused, std::nullopt);
  EXPECT_EQ(out.acceptor_refused, std::nullopt);
}

TEST(PeerAuthTest, NodesWithoutASecretStillTalkAsBefore) {
  EXPECT_TRUE(shake(with_secret(""), with_secret("")).open);
}

TEST(PeerAuthTest, ADifferentSecretIsRefusedByTheDialerBeforeItSendsAnything) {
  const auto out = shake(with_secret(kSecret + "-other"), with_secret(kSecret));
  EXPECT_FALSE(out.open);
  EXPECT_EQ(out.dialer_refused, "it could not prove it holds this cluster's secret");
}

// A stranger without the secret that answers the acceptor's challenge with
// a wrong proof (or does not answer it) is refused before anything else.
TEST(PeerAuthTest, AWrongOrMissingDialerProofIsRefused) {
  DialerHandshake stranger(with_secret(kSecret + "-guess"));
  AcceptorHandshake acceptor(with_secret(kSecret));
  ASSERT_TRUE(acceptor.on_frame(stranger.hello()).reply);
  pb::Envelope wrong;
  wrong.mutable_peer_proof()->set_proof(std::string(32, 'x'));
  EXPECT_EQ(acceptor.on_frame(wrong).refused, "its proof of the cluster secret is wrong");
  EXPECT_FALSE(acceptor.open());

  AcceptorHandshake second(with_secret(kSecret));
  ASSERT_TRUE(second.on_frame(stranger.hello()).reply);
  pb::Envelope request;
  request.mutable_forward()->set_method("GET");
  EXPECT_EQ(second.on_frame(request).refused,
            "it sent a request before proving it holds the cluster secret");
  EXPECT_FALSE(second.open());
}

// The acceptor proves itself first, for a nonce the dialer chose: a stranger
// can get such a proof from any node, so it must never pass as a dialer's.
TEST(PeerAuthTest, AnAcceptorsProofReflectedBackIsRefused) {
  AcceptorHandshake acceptor(with_secret(kSecret));
  pb::Envelope hello_with_nonce = hello(with_secret(""));
  hello_with_nonce.mutable_hello()->set_nonce(std::string(kNonceBytes, 'n'));
  auto step = acceptor.on_frame(hello_with_nonce);
  ASSERT_TRUE(step.reply && !step.reply->hello().proof().empty());
  pb::Envelope reflected;
  reflected.mutable_peer_proof()->set_proof(step.reply->hello().proof());
  EXPECT_EQ(acceptor.on_frame(reflected).refused, "its proof of the cluster secret is wrong");
}

// A recorded handshake cannot be replayed: each acceptor picks a fresh nonce.
TEST(PeerAuthTest, AReplayedHandshakeIsRefused) {
  DialerHandshake dialer(with_secret(kSecret));
  AcceptorHandshake first(with_secret(kSecret));
  const pb::Envelope recorded_hello = dialer.hello();
  auto verdict = dialer.on_answer(*first.on_frame(recorded_hello).reply);
  ASSERT_TRUE(verdict.proof);
  first.on_frame(*verdict.proof);
  ASSERT_TRUE(first.open());

  AcceptorHandshake later(with_secret(kSecret));
  ASSERT_TRUE(later.on_frame(recorded_hello).reply);
  EXPECT_EQ(later.on_frame(*verdict.proof).refused, "its proof of the cluster secret is wrong");
  EXPECT_FALSE(later.open());
}

TEST(PeerAuthTest, ASecretOnOneSideOnlyIsRefusedWithTheReason) {
  const auto acceptor_has_one = shake(with_secret(""), with_secret(kSecret));
  EXPECT_FALSE(acceptor_has_one.open);
  EXPECT_EQ(acceptor_has_one.acceptor_refused,
            "it gives no proof of the cluster secret (has it none?)");
  EXPECT_EQ(acceptor_has_one.dialer_refused,
            "it refused this node: it gives no proof of the cluster secret (has it none?)");

  const auto dialer_has_one = shake(with_secret(kSecret), with_secret(""));
  EXPECT_FALSE(dialer_has_one.open);
  EXPECT_EQ(dialer_has_one.dialer_refused,
            "it gives no proof of the cluster secret (has it none?)");
}

// Rolling a secret in: nodes restarted with it (optional) still talk to the
// ones not restarted yet, both ways, and prove themselves to each other.
TEST(PeerAuthTest, AnOptionalSecretTalksToPeersWithoutOneAndProvesToPeersWithOne) {
  Greeting optional = with_secret(kSecret);
  optional.secret_optional = true;
  EXPECT_TRUE(shake(optional, with_secret("")).open);
  EXPECT_TRUE(shake(with_secret(""), optional).open);
  EXPECT_TRUE(shake(optional, optional).open);
  EXPECT_TRUE(shake(optional, with_secret(kSecret)).open);
  EXPECT_TRUE(shake(with_secret(kSecret), optional).open);
  // A wrong secret is refused even so: optional means "none", not "any".
  Greeting wrong = with_secret(kSecret + "-other");
  EXPECT_FALSE(shake(optional, wrong).open);
  DialerHandshake guess(wrong);
  AcceptorHandshake acceptor(optional);
  ASSERT_TRUE(acceptor.on_frame(guess.hello()).reply);
  pb::Envelope forged;
  forged.mutable_peer_proof()->set_proof(std::string(32, 'f'));
  EXPECT_TRUE(acceptor.on_frame(forged).refused);
}

TEST(PeerAuthTest, AChallengeOfTheWrongSizeIsRefused) {
  AcceptorHandshake acceptor(with_secret(kSecret));
  pb::Envelope short_nonce = hello(with_secret(""));
  short_nonce.mutable_hello()->set_nonce("abc");
  EXPECT_EQ(acceptor.on_frame(short_nonce).refused, "its challenge is malformed");
}

TEST(PeerAuthTest, ProofsDependOnRoleSecretClusterAndBothNonces) {
  const std::string a(kNonceBytes, 'a'), b(kNonceBytes, 'b');
  const auto base = proof(kSecret, Role::Dialer, "c", a, b);
  EXPECT_EQ(base.size(), 32u);  // HMAC-SHA256
  EXPECT_TRUE(constant_time_equal(base, proof(kSecret, Role::Dialer, "c", a, b)));
  EXPECT_FALSE(constant_time_equal(base, proof(kSecret, Role::Acceptor, "c", a, b)));
  EXPECT_FALSE(constant_time_equal(base, proof(kSecret + "x", Role::Dialer, "c", a, b)));
  EXPECT_FALSE(constant_time_equal(base, proof(kSecret, Role::Dialer, "d", a, b)));
  EXPECT_FALSE(constant_time_equal(base, proof(kSecret, Role::Dialer, "c", b, a)));
  EXPECT_FALSE(constant_time_equal(base, base.substr(0, 16)));
  EXPECT_NE(fresh_nonce(), fresh_nonce());
}

TEST(PeerAuthTest, ASecretFileIsTrimmedAndMustBeLongEnough) {
  parti::testing::TempDir dir;
  const std::string path = dir.sub("secret");
  std::string error;
  using Secrets = std::vector<std::string>;
  std::ofstream(path) << "  " << kSecret << "\n";
  EXPECT_EQ(load_secrets(path, &error), Secrets{kSecret});
  // While one is rotated: one per line, blank lines skipped, the order kept.
  std::ofstream(path) << kSecret << "-new \n\n\t" << kSecret << "\n";
  EXPECT_EQ(load_secrets(path, &error), (Secrets{kSecret + "-new", kSecret}));

  std::ofstream(path) << kSecret << "\nshort\n";
  EXPECT_EQ(load_secrets(path, &error), std::nullopt);
  EXPECT_NE(error.find("on line 2 of " + path + " has 5 bytes; at least 16"), std::string::npos)
      << error;
  std::ofstream(path) << "\n \n";
  EXPECT_EQ(load_secrets(path, &error), std::nullopt);
  EXPECT_NE(error.find("holds no cluster secret"), std::string::npos) << error;
  EXPECT_EQ(load_secrets(dir.sub("missing"), &error), std::nullopt);
  EXPECT_NE(error.find("cannot read"), std::string::npos) << error;

  const std::string generated = generate_secret();
  EXPECT_EQ(generated.size(), 2 * kNonceBytes);
  EXPECT_EQ(generated.find_first_not_of("0123456789abcdef"), std::string::npos);
}

// Rotation: a node holding [new, old] proves the new one and accepts both, so
// at every step of adding the new secret, making it first and dropping the old
// (each step node by node) every pair of nodes still opens connections; and
// each end knows which secret the other proved, to close what a dropped
// secret opened.
TEST(PeerAuthTest, ASecretIsRotatedThroughListsThatOverlap) {
  const std::string old_secret = kSecret, new_secret = kSecret + "-new";
  const auto old_only = with_secrets({old_secret});
  const auto adding = with_secrets({old_secret, new_secret});
  const auto switched = with_secrets({new_secret, old_secret});
  const auto new_only = with_secrets({new_secret});
  const std::vector<std::pair<Greeting, Greeting>> steps = {
      {old_only, adding},   {adding, adding},     {adding, switched},
      {switched, switched}, {switched, new_only}, {new_only, new_only}};
  for (const auto& [a, b] : steps) {
    EXPECT_TRUE(shake(a, b).open);
    EXPECT_TRUE(shake(b, a).open);
  }
  EXPECT_FALSE(shake(old_only, new_only).open);
  EXPECT_FALSE(shake(new_only, old_only).open);

  DialerHandshake dialer(switched);  // proves the new secret
  AcceptorHandshake acceptor(old_only);
  auto verdict = dialer.on_answer(*acceptor.on_frame(dialer.hello()).reply);
  EXPECT_EQ(verdict.verified_with, old_secret);  // the acceptor could only prove the old one
  EXPECT_EQ(acceptor.on_frame(*verdict.proof).refused, "its proof of the cluster secret is wrong");
  AcceptorHandshake adding_acceptor(adding);
  verdict = dialer.on_answer(*adding_acceptor.on_frame(dialer.hello()).reply);
  ASSERT_TRUE(verdict.proof);
  adding_acceptor.on_frame(*verdict.proof);
  ASSERT_TRUE(adding_acceptor.open());
  EXPECT_EQ(adding_acceptor.verified_with(), new_secret);
  EXPECT_TRUE(secret_retired(old_secret, {new_secret}));
  EXPECT_FALSE(secret_retired(old_secret, {new_secret, old_secret}));
  EXPECT_FALSE(secret_retired("", {new_secret}));  // opened without a proof: not ours to judge
}

}  // namespace
}  // namespace partid::peer
