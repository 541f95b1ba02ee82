#include "support/free_port.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>

namespace parti::testing {
namespace {

// The lowest port of the kernel's ephemeral range (Linux's default when the
// setting cannot be read).
int ephemeral_low() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768;
  in >> low;
  return in ? low : 32768;
}

bool bindable(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

int free_port() {
  static std::mutex mu;
  static std::set<int> handed_out;
  static std::mt19937 rng(std::random_device{}());
  constexpr int kLowest = 10000;
  const int highest = ephemeral_low() - 1;
  if (highest <= kLowest) throw std::runtime_error("no port range below the ephemeral one");
  std::uniform_int_distribution<int> pick(kLowest, highest);
  std::lock_guard lock(mu);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const int port = pick(rng);
    if (handed_out.contains(port) || !bindable(port)) continue;
    handed_out.insert(port);
    return port;
  }
  throw std::runtime_error("no free port below the ephemeral range");
}

}  // namespace parti::testing
