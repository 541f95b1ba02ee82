#include "support/test_certificates.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace parti::testing {
namespace {

void openssl(const std::string& dir, const std::string& args) {
  const std::string log = dir + "/openssl.log";
  const std::string command = "cd '" + dir + "' && openssl " + args + " >>'" + log + "' 2>&1";
  if (std::system(command.c_str()) != 0) {
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    throw std::runtime_error("openssl " + args + " failed: " + text.str());
  }
}

// A P-256 key and a certificate request for `name`.
void key_and_request(const std::string& dir, const std::string& name, const std::string& cn) {
  openssl(dir, "req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + name +
                   ".key -out " + name + ".csr -subj '/CN=" + cn + "'");
}

void self_signed_ca(const std::string& dir, const std::string& name) {
  openssl(dir, "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + name +
                   ".key -out " + name + ".pem -days 2 -subj '/CN=parti test " + name + "'");
}

void sign(const std::string& dir, const std::string& name, const std::string& extensions) {
  std::ofstream(dir + "/" + name + ".ext") << extensions << "\n";
  openssl(dir, "x509 -req -in " + name + ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -out " +
                   name + ".pem -days 2 -extfile " + name + ".ext");
}

}  // namespace

TestCertificates make_test_certificates(const std::string& dir) {
  self_signed_ca(dir, "ca");
  self_signed_ca(dir, "other-ca");
  key_and_request(dir, "server", "localhost");
  sign(dir, "server", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth");
  key_and_request(dir, "client", "partid test client");
  sign(dir, "client", "extendedKeyUsage=clientAuth");
  return TestCertificates{.ca = dir + "/ca.pem",
                          .server_cert = dir + "/server.pem",
                          .server_key = dir + "/server.key",
                          .client_cert = dir + "/client.pem",
                          .client_key = dir + "/client.key",
                          .other_ca = dir + "/other-ca.pem"};
}

}  // namespace parti::testing
