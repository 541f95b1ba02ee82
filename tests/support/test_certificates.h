// tests: a throwaway certificate authority for TLS tests, made with the
// openssl command line (Debian's `openssl`, installed by the project's script).
#pragma once

#include <string>

namespace parti::testing {

struct TestCertificates {
  std::string ca;                       // the CA's certificate (PEM)
  std::string server_cert, server_key;  // names localhost and 127.0.0.1, signed by `ca`
  std::string client_cert, client_key;  // a client's, signed by `ca`
  std::string other_ca;                 // a CA that signed none of these
};

// Writes them into `dir`; throws std::runtime_error (with openssl's output)
// when openssl fails.
TestCertificates make_test_certificates(const std::string& dir);

}  // namespace parti::testing
