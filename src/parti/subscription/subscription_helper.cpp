#include "parti/subscription/subscription_helper.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <future>

namespace parti {

// What a subscription's message callback reads. nats.c may still be running
// that callback after an unsubscribe or a drain that timed out returns, so
// this is not owned by the Sub but freed by nats.c's completion callback,
// which comes after the last message callback has returned.
struct SubscriptionHelper::Delivery {
  Handler handler;
  std::string partition;
  std::promise<void> finished;
};

struct SubscriptionHelper::Sub {
  SubscriptionHelper* owner = nullptr;
  natsSubscription* sub = nullptr;
  std::shared_future<void> finished;
  bool draining = false;
  std::chrono::steady_clock::time_point drain_deadline;

  // Drained, the messages already received are handled and acknowledged
  // here rather than left to the next owner after ack_wait. Starting a drain
  // does not wait, so several partitions drain side by side.
  void start_drain() {
    if (sub == nullptr || draining) return;
    const auto timeout = owner->options_.drain_timeout;
    draining = natsSubscription_DrainTimeout(sub, timeout.count()) == NATS_OK;
    drain_deadline = std::chrono::steady_clock::now() + timeout + owner->conn_->request_timeout();
  }
  ~Sub() {
    if (sub == nullptr) return;
    start_drain();
    if (draining && finished.valid()) finished.wait_until(drain_deadline);
    owner->conn_->release_subscription(sub);
  }
};

// Releasing one partition after another would let each slow handler hold
// the next partition's new owner back by a whole drain timeout.
void SubscriptionHelper::release_together(std::vector<std::unique_ptr<Sub>> subs) {
  for (auto& s : subs) s->start_drain();
}  // each destructor waits only for what is left of its own drain

SubscriptionHelper::SubscriptionHelper(std::shared_ptr<coord::Connection> conn, Options options,
                                       Handler handler)
    : conn_(std::move(conn)), options_(std::move(options)), handler_(std::move(handler)) {}

SubscriptionHelper::~SubscriptionHelper() { close(); }

std::string SubscriptionHelper::subject_for(const std::string& partition) const {
  std::string s = options_.subject_template;
  const std::string token = "{partition}";
  for (size_t pos = s.find(token); pos != std::string::npos;
       pos = s.find(token, pos + partition.size())) {
    s.replace(pos, token.size(), partition);
  }
  return s;
}

std::string SubscriptionHelper::durable_for(const std::string& partition) const {
  // Consumer names may not contain '.', '*', '>' or whitespace.
  std::string name = options_.durable_prefix + "-" + partition;
  for (char& c : name) {
    if (c == '.' || c == '*' || c == '>' || c == ' ' || c == '\t') c = '_';
  }
  return name;
}

void SubscriptionHelper::on_message(natsConnection*, natsSubscription*, natsMsg* msg,
                                    void* closure) {
  auto* d = static_cast<Delivery*>(closure);
  const char* data = natsMsg_GetData(msg);
  std::string_view body(data ? data : "", static_cast<size_t>(natsMsg_GetDataLength(msg)));
  bool ok = false;
  try {
    ok = d->handler(d->partition, natsMsg_GetSubject(msg), body);
  } catch (...) {
    ok = false;  // a throwing handler is a failed delivery, not a crash
  }
  if (ok) {
    natsMsg_Ack(msg, nullptr);
  } else {
    natsMsg_Nak(msg, nullptr);
  }
  natsMsg_Destroy(msg);
}

void SubscriptionHelper::on_complete(void* closure) {
  auto* d = static_cast<Delivery*>(closure);
  d->finished.set_value();
  delete d;
}

subscription::ConsumerSpec SubscriptionHelper::consumer_spec(const std::string& partition) const {
  return {options_.stream, durable_for(partition), subject_for(partition), options_.ack_wait,
          options_.max_ack_pending};
}

// Makes the partition's durable (or updates this helper's settings into the
// one there is, where it delivers and where it began kept), then binds it.
std::string SubscriptionHelper::subscribe(const std::string& partition) {
  const auto spec = consumer_spec(partition);
  subscription::ConsumerState state;
  std::string e = subscription::read_consumer(conn_->jetstream(), spec, &state);
  if (e.empty()) {
    const subscription::ConsumerPlace place =
        state.exists ? state.place
                     : subscription::ConsumerPlace{"_parti.deliver." + spec.durable, 0};
    e = subscription::put_consumer(conn_->jetstream(), spec, place);
  }
  if (!e.empty()) return partition + ": " + e;
  return bind(partition);
}

// The old consumer goes, and a new one starts after its ack floor and
// pushes to a subject of its own: the hung owner's subscription, still
// registered at the server, never receives this partition again.
std::string SubscriptionHelper::take_over(const std::string& partition) {
  const auto spec = consumer_spec(partition);
  subscription::ConsumerState state;
  std::string e = subscription::read_consumer(conn_->jetstream(), spec, &state);
  if (!e.empty()) return partition + ": " + e;
  if (!state.exists || !state.bound) return subscribe(partition);  // let go meanwhile
  const subscription::ConsumerPlace place{subscription::fresh_deliver_subject(),
                                          state.ack_floor + 1};
  if (place.deliver_subject.empty()) return partition + ": no inbox for a new deliver subject";
  e = subscription::delete_consumer(conn_->jetstream(), spec);
  if (e.empty()) e = subscription::put_consumer(conn_->jetstream(), spec, place);
  if (!e.empty()) return partition + ": taking over: " + e;
  spdlog::warn(
      "subscription: took partition {} over from a previous owner still bound after {} ms; "
      "delivering again from stream sequence {}",
      partition, options_.take_over_after.count(), place.start_seq);
  return bind(partition);
}

std::string SubscriptionHelper::bind(const std::string& partition) {
  const std::string durable = durable_for(partition);
  const std::string subject = subject_for(partition);
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = options_.stream.c_str();
  so.Consumer = durable.c_str();
  so.ManualAck = true;
  auto* delivery = new Delivery{handler_, partition, {}};
  std::shared_future<void> finished = delivery->finished.get_future().share();
  natsSubscription* raw = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  natsStatus s = js_Subscribe(&raw, conn_->jetstream(), subject.c_str(),
                              &SubscriptionHelper::on_message, delivery, nullptr, &so, &err);
  if (s != NATS_OK) {
    delete delivery;  // no subscription: no callback has it
    return partition + ": subscribing: " + coord::last_nats_error(s);
  }
  auto sub = std::make_unique<Sub>();
  sub->owner = this;
  sub->sub = raw;
  sub->finished = std::move(finished);
  if (natsSubscription_SetOnCompleteCB(raw, &SubscriptionHelper::on_complete, delivery) !=
      NATS_OK) {
    // Closed already (the connection went): whether a callback still runs
    // is unknown, so the delivery is left allocated rather than freed under it.
    sub->finished = {};
  }
  subs_[partition] = std::move(sub);
  return {};
}

bool SubscriptionHelper::due_for_take_over(const std::string& partition, TimePoint now) const {
  auto it = refused_since_.find(partition);
  return options_.take_over_after.count() > 0 && it != refused_since_.end() &&
         now - it->second >= options_.take_over_after;
}

std::vector<std::string> SubscriptionHelper::bind_pending() {
  std::vector<std::string> errors;
  bool bound = false;
  const auto now = std::chrono::steady_clock::now();
  for (const auto& p : wanted_) {
    if (subs_.count(p)) continue;
    auto e = subscribe(p);
    if (!e.empty() && due_for_take_over(p, now)) e = take_over(p);
    if (e.empty()) {
      refused_since_.erase(p);
      bound = true;
    } else {
      refused_since_.try_emplace(p, now);
      errors.push_back(std::move(e));
    }
  }
  // The server learns of a subscription's interest from the SUB nats.c sent,
  // and refuses another owner's bind only once it has: one round trip, so
  // that a bind this returned is one every later bind elsewhere sees.
  if (bound) natsConnection_FlushTimeout(conn_->nats(), conn_->request_timeout().count());
  return errors;
}

std::vector<std::string> SubscriptionHelper::update(const std::set<std::string>& partitions) {
  std::lock_guard lock(mu_);
  wanted_ = partitions;
  std::vector<std::unique_ptr<Sub>> released;
  for (auto it = subs_.begin(); it != subs_.end();) {
    if (wanted_.count(it->first)) {
      ++it;
      continue;
    }
    released.push_back(std::move(it->second));
    it = subs_.erase(it);
  }
  release_together(std::move(released));
  std::erase_if(refused_since_, [&](const auto& r) { return !wanted_.count(r.first); });
  return bind_pending();
}

std::vector<std::string> SubscriptionHelper::retry() {
  std::lock_guard lock(mu_);
  return bind_pending();
}

std::set<std::string> SubscriptionHelper::active() const {
  std::lock_guard lock(mu_);
  std::set<std::string> out;
  for (const auto& [p, s] : subs_) out.insert(p);
  return out;
}

std::set<std::string> SubscriptionHelper::pending() const {
  std::lock_guard lock(mu_);
  std::set<std::string> out;
  for (const auto& p : wanted_) {
    if (!subs_.count(p)) out.insert(p);
  }
  return out;
}

void SubscriptionHelper::close() {
  std::lock_guard lock(mu_);
  wanted_.clear();
  refused_since_.clear();
  std::vector<std::unique_ptr<Sub>> released;
  for (auto& [p, sub] : subs_) released.push_back(std::move(sub));
  subs_.clear();
  release_together(std::move(released));
}

}  // namespace parti
