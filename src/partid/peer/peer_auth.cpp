#include "partid/peer/peer_auth.h"
#include "partid/secret_file.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <sstream>
#include <stdexcept>

namespace partid::peer {
namespace {

// Length-prefixed so that no two (cluster, nonce, nonce) triples read as the
// same bytes.
void append_field(std::string& out, const std::string& field) {
  const uint32_t n = static_cast<uint32_t>(field.size());
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((n >> shift) & 0xff));
  out += field;
}

}  // namespace

std::string fresh_nonce() {
  std::string nonce(kNonceBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), static_cast<int>(nonce.size())) !=
      1) {
    // A predictable nonce would make the handshake replayable: refuse.
    throw std::runtime_error("the system's random source failed");
  }
  return nonce;
}

std::string proof(const std::string& secret, Role role, const std::string& cluster,
                  const std::string& dialer_nonce, const std::string& acceptor_nonce) {
  std::string message = role == Role::Dialer ? "partid-peer-dialer" : "partid-peer-acceptor";
  append_field(message, cluster);
  append_field(message, dialer_nonce);
  append_field(message, acceptor_nonce);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &mac_len);
  return std::string(reinterpret_cast<const char*>(mac), mac_len);
}

bool constant_time_equal(const std::string& expected, const std::string& given) {
  return expected.size() == given.size() &&
         CRYPTO_memcmp(expected.data(), given.data(), expected.size()) == 0;
}

std::optional<std::string> proving_secret(const std::vector<std::string>& secrets, Role role,
                                          const std::string& cluster,
                                          const std::string& dialer_nonce,
                                          const std::string& acceptor_nonce,
                                          const std::string& given) {
  std::optional<std::string> match;
  // Every secret is tried, so the time taken does not tell which one matched.
  for (const auto& secret : secrets) {
    const bool equal =
        constant_time_equal(proof(secret, role, cluster, dialer_nonce, acceptor_nonce), given);
    if (equal && !match) match = secret;
  }
  return match;
}

std::optional<std::vector<std::string>> load_secrets(const std::string& path, std::string* error) {
  const auto content = read_secret_file(path, "the cluster secret", 0, error);
  if (!content) return std::nullopt;
  std::vector<std::string> secrets;
  std::istringstream lines(*content);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) continue;
    line = line.substr(first, line.find_last_not_of(" \t\r") - first + 1);
    if (line.size() < kMinSecretBytes) {
      *error =
          fmt::format("the cluster secret on line {} of {} has {} bytes; at least {} are needed",
                      number, path, line.size(), kMinSecretBytes);
      return std::nullopt;
    }
    secrets.push_back(line);
  }
  if (secrets.empty()) {
    *error = fmt::format("{} holds no cluster secret", path);
    return std::nullopt;
  }
  return secrets;
}

std::string generate_secret() {
  const std::string bytes = fresh_nonce();
  std::string hex;
  for (unsigned char c : bytes) hex += fmt::format("{:02x}", c);
  return hex;
}

}  // namespace partid::peer
