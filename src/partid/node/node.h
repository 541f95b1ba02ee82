// node: one partid process. Node owns the lifecycle and wires the parts
// together; the work is delegated: StoreEngine (storage), Replicator
// (replicated write path), TopologyKeeper (who leads what, from libparti),
// ApiService +
// HttpServer (client API), TxnRecovery (transactions a coordinator left
// unresolved), PeerServer + PeerClient (node-to-node transport),
// and a libparti Manager (membership, leadership, assignment).
//
// Guarantees: start() either leaves the node serving (and the ready file
// written) or throws with a message saying what is wrong (NATS unreachable,
// cluster settings differ, data dir of another cluster); stop() leaves the
// cluster cleanly, lets the write on disk finish (writes not yet durable on a
// quorum were never acknowledged) and, for an ephemeral node, removes its
// data directory. A failed storage write stops the process (exit 70): the
// replicas already count it as durable.
// Threading: one event loop thread owns every component's state; storage
// work runs on a small disk pool; the Manager runs its own threads.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "parti/coord/connection.h"
#include "parti/core/thread_names.h"
#include "parti/manager/manager.h"
#include "partid/api/api_service.h"
#include "partid/api/cluster_view.h"
#include "partid/api/forwarded_requests.h"
#include "partid/api/http_server.h"
#include "partid/api/metrics.h"
#include "partid/api/txn_recovery.h"
#include "partid/node/clock_probe.h"
#include "partid/node/descriptor_budget.h"
#include "partid/node/node_config.h"
#include "partid/node/progress_reporter.h"
#include "partid/node/start_stop.h"
#include "partid/node/startup_retry.h"
#include "partid/node/topology_keeper.h"
#include "partid/peer/peer_client.h"
#include "partid/peer/peer_server.h"
#include "partid/replication/replicator.h"
#include "partid/split/layout_store.h"
#include "partid/split/split_driver.h"
#include "partid/storage/store_engine.h"
#include "partid/upgrade/active_format.h"

namespace partid::node {

class Node final : public api::ClusterView {
 public:
  explicit Node(NodeConfig config);
  ~Node() override;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Throws StartInterrupted when interrupt_start() ended it.
  void start();
  // From another thread while start() runs (the daemon's stop signal): the
  // start ends at once, whatever it waits for. Not concurrently with stop().
  void interrupt_start(int signal) { start_stop_.request(signal); }
  void stop();
  // Reads --cluster-secret-file again (SIGHUP): later handshakes use the
  // secrets in it, and peer connections proved with a secret no longer there
  // close. An unreadable file changes nothing (logged). Not from the loop.
  void reload_cluster_secret();

  // api::ClusterView (loop thread)
  const std::string& self() const override { return self_; }
  std::shared_ptr<const routing::Topology> topology() const override;
  bool locked(uint32_t partition) const override;
  bool serving() const override;
  nlohmann::json describe() const override;
  Coordination coordination() const override;
  uint32_t writable_format() const override;
  void raise_format(std::function<void()> done) override;
  void begin_split(routing::SplitPlan::Kind kind, SplitBegun done) override;

 private:
  uint32_t published_format() const;  // in its record: the build's, or --preserve-format
  upgrade::FormatView format_view() const;
  nlohmann::json format_json() const;
  void open_storage();
  void bind_listeners();
  void warn_where_unprotected() const;
  void join_cluster();
  void start_manager(parti::Manager& manager);
  void write_ready_file() const;
  void drain();
  bool others_remain() const;
  void withdraw_from_registers();
  // Runs a register survey of the replicator's (sealed_with_self,
  // withdraw_from_registers) on the loop and waits for it from the calling
  // thread; nullopt when the registers did not all answer in time.
  std::optional<std::vector<uint32_t>> ask_replicator(
      void (replication::Replicator::*ask)(std::function<void(std::vector<uint32_t>)>),
      std::chrono::milliseconds timeout);
  void start_replication(const std::string& id, StartupRetry& retry);
  void await_peer_addresses(std::chrono::milliseconds patience);
  // A new layout record (a split went on): libparti gets its partitions,
  // routing follows.
  void on_layout(const routing::LayoutRecord& record);
  void on_peer_request(pb::Envelope request, peer::PeerServer::Reply reply);
  // ApiDeps::measure_clock: through the ClockProbe once replication runs.
  std::function<void(const std::string&, std::function<void()>)> measure_clock();
  template <class F>
  void on_loop(F f);

  NodeConfig cfg_;
  DescriptorBudget descriptors_;
  std::string data_path_;
  asio::io_context loop_{1};  // one thread runs it
  parti::NamedThreadPool disk_{2, "partid-disk"};
  parti::NamedThreadPool bulk_{1, "partid-bulk"};  // large answers (ApiDeps::bulk)
  // Partition snapshots built, serialized, parsed and decoded (Replicator):
  // seconds each for a large partition, which on the disk pool held the
  // threads every commit waits for. Two: a rebuilt node parses one transfer
  // while it decodes another; a leader builds at most two partitions' copies
  // at once.
  parti::NamedThreadPool snapshots_{2, "partid-snap"};
  std::unique_ptr<storage::StoreEngine> store_;
  storage::NodeMetadata meta_;
  std::unique_ptr<replication::Replicator> replicator_;
  api::Metrics metrics_;
  std::unique_ptr<peer::PeerClient> peers_;
  std::unique_ptr<peer::PeerServer> peer_server_;
  std::unique_ptr<peer::PeerClocks> peer_clocks_;  // loop-owned: ClockProbe writes, the API reads
  std::unique_ptr<api::ApiService> api_;
  std::unique_ptr<api::ForwardedRequests> forwarded_;  // loop-owned
  std::unique_ptr<api::HttpServer> http_;
  std::unique_ptr<api::TxnRecovery> txn_recovery_;
  std::shared_ptr<parti::coord::Connection> conn_;
  std::unique_ptr<upgrade::ActiveFormat> format_;
  std::unique_ptr<split::LayoutStore> layouts_;
  std::shared_ptr<parti::StaticPartitionSource> source_;
  uint32_t offered_partitions_ = 0;  // what source_ offers libparti (loop)
  // Before manager_: the Manager's heartbeat hook reads it until the Manager stops.
  std::unique_ptr<ProgressReporter> progress_;
  std::unique_ptr<parti::Manager> manager_;
  std::unique_ptr<TopologyKeeper> keeper_;
  std::unique_ptr<ClockProbe> clock_probe_;  // loop-owned
  std::chrono::milliseconds clock_probe_interval_{10000};
  std::unique_ptr<split::SplitDriver> splitter_;
  std::thread loop_thread_;
  std::string self_;
  std::string api_address_, peer_address_;
  bool started_ = false;
  StartStop start_stop_;
  std::atomic<bool> stopped_{false};  // read by serving() on the loop
};

}  // namespace partid::node
