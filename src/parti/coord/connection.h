// coord: one NATS connection with JetStream, reconnecting forever. Owns the
// nats.c connection and fans its status callbacks out to listeners.
// Threading: every method is thread-safe; listeners run on a nats.c thread and
// must only post work elsewhere (never block).
#pragma once

#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <vector>

#include "parti/coord/kv_types.h"
#include "parti/coord/nats_access.h"

namespace parti::coord {

// Whether a call that failed with `code` may succeed if tried again in a
// moment: no server yet, a timeout, no JetStream responders.
inline bool is_transient(KvErrc code) {
  return code == KvErrc::Timeout || code == KvErrc::Unavailable;
}

// A coordination call that could not be made. `code` says whether the server
// may answer otherwise in a moment (`transient`: no server yet, a timeout, no
// JetStream responders) or will keep refusing (`Other`: credentials refused,
// a bucket of another shape).
class CoordError : public std::runtime_error {
 public:
  explicit CoordError(const std::string& what, KvErrc code = KvErrc::Other)
      : std::runtime_error(what), code_(code) {}
  KvErrc code() const { return code_; }
  bool transient() const { return is_transient(code_); }

 private:
  KvErrc code_;
};

class Connection {
 public:
  struct Options {
    std::string url = "nats://127.0.0.1:4222";
    std::string name = "parti";
    std::chrono::milliseconds request_timeout{2000};
    std::chrono::milliseconds reconnect_wait{200};
    std::chrono::milliseconds ping_interval{1000};
    NatsAccess access = {};  // credentials (nats_access.h)
    // How long connect() keeps trying (every reconnect_wait) while the
    // first connection fails in a way that may pass (a worker started
    // before its server, a server too busy to finish a handshake). Zero:
    // one try.
    std::chrono::milliseconds wait_for_server{0};
    // Called once, on connect()'s thread, when the first try failed and
    // connect() starts to wait (for a log line: "waiting for NATS").
    std::function<void()> on_waiting_for_server = {};
    // A stop requested through it (a signal handler's thread, say) ends
    // that wait at once, between tries: connect() then throws a CoordError
    // that is not transient ("stopped while waiting for the server").
    std::stop_token stop = {};
  };
  using StatusListener = std::function<void(bool connected)>;

  // Throws CoordError when the first connection cannot be made (within
  // wait_for_server), transient() when trying again later may succeed; its
  // message shows the URL without credentials (redact_urls).
  static std::shared_ptr<Connection> connect(const Options& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool connected() const;
  // Closes the connection for good (no reconnect) and returns once it is
  // closed. Tests use it to make a worker vanish the way a crashed process does.
  void close();
  // Unsubscribes `sub` and frees it once nats.c's read loop can no longer be
  // delivering to it; when that cannot be known (the connection is down and
  // not closed), it is freed with the connection, after the close. Blocks up
  // to the request timeout.
  void release_subscription(natsSubscription* sub);
  natsConnection* nats() const { return nc_; }
  jsCtx* jetstream() const { return js_; }
  std::chrono::milliseconds request_timeout() const { return options_.request_timeout; }

  int add_status_listener(StatusListener listener);
  void remove_status_listener(int id);

 private:
  explicit Connection(Options options);
  static void on_disconnected(natsConnection*, void* self);
  static void on_reconnected(natsConnection*, void* self);
  static void on_closed(natsConnection*, void* self);
  // Connects nc_ or throws, trying again while that may pass.
  void first_connect(natsOptions* opts);
  // Sleeps `pause`, or throws once Options::stop is requested.
  void pause_between_tries(std::chrono::steady_clock::duration pause) const;
  void notify(bool connected);
  bool shut_down();  // true once nats.c reported the connection closed
  bool wait_closed(std::chrono::milliseconds limit);

  Options options_;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  std::mutex listeners_mu_;
  std::map<int, StatusListener> listeners_;
  int next_listener_ = 0;
  // nats.c runs callbacks on its own thread, after natsConnection_Close returns;
  // the closed callback is the last one, so the destructor waits for it.
  std::mutex closed_mu_;
  std::condition_variable closed_cv_;
  bool closed_ = false;
  // Subscriptions released while nothing told whether the read loop was past
  // them: freed once the connection is closed (its read loop joined).
  std::mutex deferred_mu_;
  std::vector<natsSubscription*> deferred_;
};

std::string last_nats_error(natsStatus s);
// How a failed natsConnection_Connect reads: a server that did not answer or
// cut the handshake short is Unavailable (it may answer in a moment);
// refused credentials or a bad URL are not.
KvStatus connect_failure(natsStatus s);
// Throws CoordError("what: <nats.c's error>") unless `s` is NATS_OK.
void check_nats(natsStatus s, const std::string& what);

}  // namespace parti::coord
