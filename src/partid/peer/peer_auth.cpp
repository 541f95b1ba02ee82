#include "partid/peer/peer_auth.h"
#include "partid/secret_file.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

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

std::optional<std::string> load_secret(const std::string& path, std::string* error) {
  return read_secret_file(path, "the cluster secret", kMinSecretBytes, error);
}

std::string generate_secret() {
  const std::string bytes = fresh_nonce();
  std::string hex;
  for (unsigned char c : bytes) hex += fmt::format("{:02x}", c);
  return hex;
}

}  // namespace partid::peer
