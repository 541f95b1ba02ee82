#include "partid/node/descriptor_budget.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <limits>

namespace partid::node {
namespace {

// Floors that keep a node usable under a tiny limit; below roughly 160
// descriptors the shares no longer leave a reserve and a node should not run.
constexpr uint64_t kMinClients = 16;
constexpr uint64_t kMinDbFiles = 64;
constexpr uint64_t kMaxClients = std::numeric_limits<uint32_t>::max();

}  // namespace

DescriptorBudget budget_descriptors(uint64_t limit, uint32_t configured_clients) {
  DescriptorBudget b;
  b.limit = limit;
  if (limit == 0) {
    b.client_connections = configured_clients ? configured_clients : uint32_t(kMaxClients);
    return b;
  }
  const uint64_t half = std::max(kMinClients, limit / 2);
  b.client_connections =
      configured_clients ? configured_clients : uint32_t(std::min(half, kMaxClients));
  b.clients_over_share = configured_clients > half;
  b.db_files = int(std::min<uint64_t>(std::max(kMinDbFiles, limit / 4),
                                      uint64_t(std::numeric_limits<int>::max())));
  return b;
}

uint64_t open_files_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 0;
  return limit.rlim_cur;
}

void log_descriptor_budget(const DescriptorBudget& b) {
  if (b.limit == 0) {
    spdlog::info("open files: no limit; up to {} client connections", b.client_connections);
    return;
  }
  spdlog::info("open files: limit {}; up to {} client connections, up to {} storage files", b.limit,
               b.client_connections, b.db_files);
  if (b.clients_over_share) {
    spdlog::warn(
        "--max-client-connections {} is over half the open-files limit ({}): enough clients "
        "can leave storage without a descriptor, which stops the node",
        b.client_connections, b.limit);
  }
}

}  // namespace partid::node
