// tests: helpers to run several Managers against one real nats-server.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "parti/manager/manager.h"
#include "support/nats_server.h"

namespace parti::testing {

inline std::shared_ptr<coord::Connection> connect(const std::string& url) {
  coord::Connection::Options o;
  o.url = url;
  o.request_timeout = std::chrono::milliseconds(1000);
  o.reconnect_wait = std::chrono::milliseconds(100);
  o.ping_interval = std::chrono::milliseconds(250);
  return coord::Connection::connect(o);
}

inline std::shared_ptr<coord::Connection> connect(const NatsServer& server) {
  return connect(server.url());
}

inline Config test_config() {
  Config c;
  c.timings = fast_timings();
  return c;
}

// One worker with its own NATS connection, so that closing the connection
// looks like a crash to everyone else.
struct Worker {
  std::shared_ptr<coord::Connection> conn;
  std::shared_ptr<StaticPartitionSource> source;
  std::unique_ptr<Manager> manager;
};

inline Worker make_worker(const std::string& url, const Config& cfg,
                          std::vector<Partition> partitions,
                          std::shared_ptr<const Strategy> strategy, Hooks hooks = {}) {
  Worker w;
  w.conn = connect(url);
  w.source = std::make_shared<StaticPartitionSource>(std::move(partitions));
  w.manager =
      std::make_unique<Manager>(cfg, w.conn, w.source, std::move(strategy), std::move(hooks));
  return w;
}

// One worker whose partitions come from `source` (Worker::source stays empty).
inline Worker make_worker(const NatsServer& server, const Config& cfg,
                          std::shared_ptr<PartitionSource> source,
                          std::shared_ptr<const Strategy> strategy) {
  Worker w;
  w.conn = connect(server);
  w.manager = std::make_unique<Manager>(cfg, w.conn, std::move(source), std::move(strategy));
  return w;
}

inline Worker make_worker(const NatsServer& server, const Config& cfg,
                          std::vector<Partition> partitions,
                          std::shared_ptr<const Strategy> strategy, Hooks hooks = {}) {
  return make_worker(server.url(), cfg, std::move(partitions), std::move(strategy),
                     std::move(hooks));
}

}  // namespace parti::testing
