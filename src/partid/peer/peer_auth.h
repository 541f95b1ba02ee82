// peer: proof that the two ends of a peer connection hold the cluster's
// secret. Every node of a cluster acts on what its peers send (replication,
// forwarded writes), and the epoch gate only stops messages no assignment
// could explain: without this, anything that reaches the peer port and names
// a partition's leader at its epoch could write into that partition.
//
// A challenge-response over HMAC-SHA256 with fresh 32-byte nonces from both
// ends, so a recorded handshake cannot be replayed. Each proof is labelled
// with the role of the end that computes it, so an acceptor's answer (which a
// stranger can obtain for a nonce of its choosing) never passes as a
// dialer's proof. What it does not give: secrecy or integrity of the frames
// that follow (someone on the network path could still read or alter them;
// that needs TLS), nor which node of the cluster an end is: every holder of
// the secret is trusted alike.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace partid::peer {

inline constexpr size_t kNonceBytes = 32;
// The shortest secret accepted: a guessable one would be no gate at all.
inline constexpr size_t kMinSecretBytes = 16;

enum class Role { Dialer, Acceptor };

// kNonceBytes from the operating system's random source.
std::string fresh_nonce();

// The proof the end in `role` gives for one connection: HMAC-SHA256 keyed by
// the secret over the role, the cluster and both ends' nonces.
std::string proof(const std::string& secret, Role role, const std::string& cluster,
                  const std::string& dialer_nonce, const std::string& acceptor_nonce);

// Compares in time that does not depend on where the two differ (proofs,
// the admin token): a timing difference would let a guesser learn a prefix.
bool constant_time_equal(const std::string& expected, const std::string& given);

// Which of `secrets` gives `given` as the proof of the end in `role` (the
// secret itself), or nullopt when none does. Compares against every one.
std::optional<std::string> proving_secret(const std::vector<std::string>& secrets, Role role,
                                          const std::string& cluster,
                                          const std::string& dialer_nonce,
                                          const std::string& acceptor_nonce,
                                          const std::string& given);

// Reads a cluster secret file: one secret per line (surrounding whitespace
// trimmed, blank lines skipped), the first the one this node proves with,
// every one accepted from peers: a secret is rotated by adding the new one,
// making it first, then dropping the old, each step on every node (SIGHUP
// re-reads the file). nullopt with `error` set when it cannot be read, holds
// none, or a line is shorter than kMinSecretBytes.
std::optional<std::vector<std::string>> load_secrets(const std::string& path, std::string* error);

// A new secret for a local cluster: 32 random bytes, hex-encoded.
std::string generate_secret();

}  // namespace partid::peer
