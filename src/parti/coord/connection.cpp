#include "parti/coord/connection.h"
#include "parti/coord/kv_bucket.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <vector>

namespace parti::coord {

std::string last_nats_error(natsStatus s) {
  natsStatus last = NATS_OK;
  const char* text = nats_GetLastError(&last);
  std::string out = natsStatus_GetText(s);
  // nats.c keeps the last error per thread; it belongs to `s` only if the
  // statuses match (a plain timeout may leave an older call's text behind).
  if (last == s && text != nullptr && *text != '\0') out += std::string(": ") + text;
  return out;
}

void check_nats(natsStatus s, const std::string& what) {
  if (s == NATS_OK) return;
  const KvStatus status = status_from(s);
  throw CoordError(what + ": " + status.message, status.code);
}

namespace {

struct OptionsGuard {
  natsOptions* o = nullptr;
  ~OptionsGuard() { natsOptions_Destroy(o); }
};

}  // namespace

Connection::Connection(Options options) : options_(std::move(options)) {}

std::shared_ptr<Connection> Connection::connect(const Options& options) {
  std::shared_ptr<Connection> c(new Connection(options));
  OptionsGuard opts;
  check_nats(natsOptions_Create(&opts.o), "natsOptions_Create");
  // nats.c takes a list of servers as an array: SetURL passes a comma
  // separated string through whole, and a connect to it finds no server.
  const std::vector<std::string> urls = split_urls(options.url);
  std::vector<const char*> servers;
  for (const auto& url : urls) servers.push_back(url.c_str());
  check_nats(natsOptions_SetServers(opts.o, servers.data(), static_cast<int>(servers.size())),
             "SetServers");
  check_nats(natsOptions_SetName(opts.o, options.name.c_str()), "SetName");
  check_nats(natsOptions_SetTimeout(opts.o, options.request_timeout.count()), "SetTimeout");
  check_nats(natsOptions_SetAllowReconnect(opts.o, true), "SetAllowReconnect");
  check_nats(natsOptions_SetMaxReconnect(opts.o, -1), "SetMaxReconnect");
  check_nats(natsOptions_SetReconnectWait(opts.o, options.reconnect_wait.count()),
             "SetReconnectWait");
  check_nats(natsOptions_SetPingInterval(opts.o, options.ping_interval.count()), "SetPingInterval");
  check_nats(natsOptions_SetMaxPingsOut(opts.o, 2), "SetMaxPingsOut");
  check_nats(natsOptions_SetDisconnectedCB(opts.o, &Connection::on_disconnected, c.get()),
             "SetDisconnectedCB");
  check_nats(natsOptions_SetReconnectedCB(opts.o, &Connection::on_reconnected, c.get()),
             "SetReconnectedCB");
  check_nats(natsOptions_SetClosedCB(opts.o, &Connection::on_closed, c.get()), "SetClosedCB");
  apply_access(options.access, opts.o);
  c->first_connect(opts.o);
  jsOptions jso;
  check_nats(jsOptions_Init(&jso), "jsOptions_Init");
  jso.Wait = options.request_timeout.count();
  check_nats(natsConnection_JetStream(&c->js_, c->nc_, &jso), "JetStream");
  return c;
}

Connection::~Connection() {
  {
    // Callbacks may still fire while closing; they must find no listeners.
    std::lock_guard lock(listeners_mu_);
    listeners_.clear();
  }
  jsCtx_Destroy(js_);
  if (nc_ == nullptr) return;
  // A subscription holds a reference to its connection: free the deferred
  // ones first, or the connection outlives this object. Not without the
  // closed callback, which alone says the read loop is joined.
  if (shut_down()) {
    for (natsSubscription* sub : deferred_) natsSubscription_Destroy(sub);
  }
  natsConnection_Destroy(nc_);
}

// Debian's nats.c (3.4) finds a subscription for an inbound message under the
// connection's lock but locks the subscription only after letting go, without
// holding a reference (nats.c#637, fixed in 3.6). natsConnection_Close removes
// and frees the request-reply subscription while the read loop is still
// running, so a reply arriving at that moment is delivered into freed memory:
// an abort in natsMutex_Lock. Draining first unsubscribes every subscription
// and waits for the server's PONG, after which no message for any of them is
// left to read; then it closes. Drain is refused while reconnecting, when no
// read loop runs, and a plain close is safe.
bool Connection::shut_down() {
  if (natsConnection_DrainTimeout(nc_, options_.request_timeout.count()) != NATS_OK) {
    natsConnection_Close(nc_);
  }
  return wait_closed(options_.request_timeout + std::chrono::seconds(10));
}

bool Connection::wait_closed(std::chrono::milliseconds limit) {
  std::unique_lock lock(closed_mu_);
  return closed_cv_.wait_for(lock, limit, [&] { return closed_; });
}

bool Connection::connected() const {
  return nc_ != nullptr && natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED;
}

void Connection::close() {
  if (nc_ != nullptr) shut_down();
}

// The same nats.c race as in shut_down(), for one subscription: once it is
// unsubscribed no new message finds it, and a flush returns only after the
// read loop has handled the PONG, so whatever it was delivering to the
// subscription is finished. A closed connection has joined its read loop once
// its closed callback ran. Otherwise (the connection is down and reconnecting)
// the subscription waits for the connection's own close: no flush is tried
// then, so a watch dropped during an outage does not hold its thread (or a
// loop joining it) for a whole request timeout.
void Connection::release_subscription(natsSubscription* sub) {
  natsSubscription_Unsubscribe(sub);
  bool quiet = false;
  switch (natsConnection_Status(nc_)) {
    case NATS_CONN_STATUS_CONNECTED:
    case NATS_CONN_STATUS_DRAINING_SUBS:
    case NATS_CONN_STATUS_DRAINING_PUBS:
      quiet = natsConnection_FlushTimeout(nc_, options_.request_timeout.count()) == NATS_OK;
      break;
    case NATS_CONN_STATUS_CLOSED:
      quiet = wait_closed(options_.request_timeout);
      break;
    default:
      break;
  }
  if (quiet) {
    natsSubscription_Destroy(sub);
    return;
  }
  std::lock_guard lock(deferred_mu_);
  deferred_.push_back(sub);
}

int Connection::add_status_listener(StatusListener listener) {
  std::lock_guard lock(listeners_mu_);
  listeners_[next_listener_] = std::move(listener);
  return next_listener_++;
}

void Connection::remove_status_listener(int id) {
  std::lock_guard lock(listeners_mu_);
  listeners_.erase(id);
}

void Connection::on_disconnected(natsConnection*, void* self) {
  static_cast<Connection*>(self)->notify(false);
}

void Connection::on_reconnected(natsConnection*, void* self) {
  static_cast<Connection*>(self)->notify(true);
}

void Connection::on_closed(natsConnection*, void* self) {
  auto* c = static_cast<Connection*>(self);
  std::lock_guard lock(c->closed_mu_);
  c->closed_ = true;
  c->closed_cv_.notify_all();
}

// Written here rather than left to nats.c's natsOptions_SetRetryOnFailedConnect:
// with it, nats.c 3.4 drops a server whose first handshake fails (a busy
// server closing the connection before its PONG) and never tries it again,
// so the wait ends at its deadline with "No server available" even once the
// server answers.
void Connection::first_connect(natsOptions* opts) {
  const auto deadline = std::chrono::steady_clock::now() + options_.wait_for_server;
  bool said_waiting = false;
  for (;;) {
    const natsStatus s = natsConnection_Connect(&nc_, opts);
    if (s == NATS_OK) return;
    const KvStatus failure = connect_failure(s);
    const bool may_pass = is_transient(failure.code);
    const auto left = deadline - std::chrono::steady_clock::now();
    if (!may_pass || left <= std::chrono::steady_clock::duration::zero()) {
      std::string why = "connect to " + redact_urls(options_.url) + ": " + failure.message;
      if (may_pass && options_.wait_for_server.count() > 0) {
        why += " (tried for " + std::to_string(options_.wait_for_server.count()) + " ms)";
      }
      throw CoordError(why, failure.code);
    }
    if (!said_waiting && options_.on_waiting_for_server) options_.on_waiting_for_server();
    said_waiting = true;
    // The last try comes at the deadline.
    pause_between_tries(
        std::min<std::chrono::steady_clock::duration>(options_.reconnect_wait, left));
  }
}

void Connection::pause_between_tries(std::chrono::steady_clock::duration pause) const {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  cv.wait_for(lock, options_.stop, pause, [] { return false; });
  if (options_.stop.stop_requested()) {
    throw CoordError(
        "connect to " + redact_urls(options_.url) + ": stopped while waiting for the server",
        KvErrc::Other);
  }
}

KvStatus connect_failure(natsStatus s) {
  KvStatus status = status_from(s);
  // A handshake cut short (the server busy or going down: "Expected 'PONG',
  // got ''") or a socket error on the way in may pass like no answer at all.
  if (s == NATS_IO_ERROR || s == NATS_PROTOCOL_ERROR) status.code = KvErrc::Unavailable;
  return status;
}

void Connection::notify(bool connected) {
  std::vector<StatusListener> copy;
  {
    std::lock_guard lock(listeners_mu_);
    for (auto& [id, l] : listeners_) copy.push_back(l);
  }
  for (auto& l : copy) l(connected);
}

}  // namespace parti::coord
