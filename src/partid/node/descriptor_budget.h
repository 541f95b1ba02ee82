// node: how a node shares its open-files limit. Client connections may take
// at most half and RocksDB's open table files at most a quarter; the rest
// stays for the peer connections, NATS, the write-ahead log and the node's
// own files. Without a share, enough idle clients take every descriptor and
// the next file RocksDB must open (a flush, a compaction) fails its write,
// which stops the node (a storage failure is fail-stop).
#pragma once

#include <cstdint>

namespace partid::node {

struct DescriptorBudget {
  uint64_t limit = 0;               // the soft open-files limit the shares come from
  uint32_t client_connections = 0;  // HTTP sessions served at once; more are refused
  int db_files = -1;                // RocksDB max_open_files (-1: no bound)
  bool clients_over_share = false;  // a configured cap above half the limit
};

// `configured_clients` 0 takes half the limit. A limit of 0 stands for "none"
// (RLIM_INFINITY): nothing is bounded but a configured cap.
DescriptorBudget budget_descriptors(uint64_t open_files_limit, uint32_t configured_clients);

// The process's soft open-files limit now (0 when unlimited or unknown).
uint64_t open_files_limit();

// One line at start saying how the limit is shared; a warning when a
// configured client cap leaves storage and peers less than their share.
void log_descriptor_budget(const DescriptorBudget& budget);

}  // namespace partid::node
