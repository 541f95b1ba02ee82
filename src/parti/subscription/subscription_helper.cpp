#include "parti/subscription/subscription_helper.h"

namespace parti {

struct SubscriptionHelper::Sub {
  SubscriptionHelper* owner = nullptr;
  std::string partition;
  natsSubscription* sub = nullptr;
  ~Sub() {
    if (sub != nullptr) owner->conn_->release_subscription(sub);
  }
};

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
  auto* s = static_cast<Sub*>(closure);
  const char* data = natsMsg_GetData(msg);
  std::string_view body(data ? data : "", static_cast<size_t>(natsMsg_GetDataLength(msg)));
  bool ok = false;
  try {
    ok = s->owner->handler_(s->partition, natsMsg_GetSubject(msg), body);
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

std::string SubscriptionHelper::subscribe(const std::string& partition) {
  const std::string durable = durable_for(partition);
  const std::string subject = subject_for(partition);
  const std::string deliver = "_parti.deliver." + durable;
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = durable.c_str();
  cc.DeliverSubject = deliver.c_str();
  cc.FilterSubject = subject.c_str();
  cc.AckPolicy = js_AckExplicit;
  cc.AckWait = std::chrono::duration_cast<std::chrono::nanoseconds>(options_.ack_wait).count();
  cc.MaxAckPending = options_.max_ack_pending;
  jsConsumerInfo* info = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  natsStatus s =
      js_AddConsumer(&info, conn_->jetstream(), options_.stream.c_str(), &cc, nullptr, &err);
  jsConsumerInfo_Destroy(info);
  // An existing durable with this config is fine: it carries the ack floor.
  if (s != NATS_OK && err != JSConsumerNameExistErr && err != JSConsumerExistingActiveErr) {
    return partition + ": creating consumer: " + coord::last_nats_error(s);
  }
  auto sub = std::make_unique<Sub>();
  sub->owner = this;
  sub->partition = partition;
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = options_.stream.c_str();
  so.Consumer = durable.c_str();
  so.ManualAck = true;
  s = js_Subscribe(&sub->sub, conn_->jetstream(), subject.c_str(), &SubscriptionHelper::on_message,
                   sub.get(), nullptr, &so, &err);
  if (s != NATS_OK) {
    sub->sub = nullptr;
    return partition + ": subscribing: " + coord::last_nats_error(s);
  }
  subs_[partition] = std::move(sub);
  return {};
}

std::vector<std::string> SubscriptionHelper::update(const std::set<std::string>& partitions) {
  std::lock_guard lock(mu_);
  std::vector<std::string> errors;
  for (auto it = subs_.begin(); it != subs_.end();) {
    it = partitions.count(it->first) ? std::next(it) : subs_.erase(it);
  }
  for (const auto& p : partitions) {
    if (subs_.count(p)) continue;
    if (auto e = subscribe(p); !e.empty()) errors.push_back(e);
  }
  return errors;
}

std::set<std::string> SubscriptionHelper::active() const {
  std::lock_guard lock(mu_);
  std::set<std::string> out;
  for (const auto& [p, s] : subs_) out.insert(p);
  return out;
}

void SubscriptionHelper::close() {
  std::lock_guard lock(mu_);
  subs_.clear();
}

}  // namespace parti
