#include "parti/coord/kv_watcher.h"

#include <cstring>

#include "parti/coord/kv_bucket.h"

namespace parti::coord {

KvEntry to_entry(kvEntry* e) {
  KvEntry out;
  out.key = kvEntry_Key(e);
  const void* data = kvEntry_Value(e);
  int len = kvEntry_ValueLen(e);
  if (data != nullptr && len > 0) out.value.assign(static_cast<const char*>(data), len);
  out.revision = kvEntry_Revision(e);
  kvOperation op = kvEntry_Operation(e);
  out.deleted = (op == kvOp_Delete || op == kvOp_Purge);
  return out;
}

KvResult<std::unique_ptr<KvWatcher>> KvWatcher::open(std::shared_ptr<Connection> conn,
                                                     const std::string& bucket,
                                                     const std::string& pattern,
                                                     std::chrono::milliseconds heartbeat) {
  using std::chrono::duration_cast;
  using std::chrono::nanoseconds;
  const std::string stream = "KV_" + bucket;
  const std::string prefix = "$KV." + bucket + ".";
  const std::string subject = prefix + pattern;
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.Config.DeliverPolicy = js_DeliverLastPerSubject;
  so.Config.AckPolicy = js_AckNone;
  so.Config.Heartbeat = duration_cast<nanoseconds>(heartbeat).count();
  so.Config.FlowControl = true;
  so.Config.MemoryStorage = true;
  so.Config.Replicas = 1;
  so.Config.InactiveThreshold = duration_cast<nanoseconds>(heartbeat * 5).count();
  natsSubscription* sub = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  natsStatus s = js_SubscribeSync(&sub, conn->jetstream(), subject.c_str(), nullptr, &so, &err);
  if (s != NATS_OK) return {status_from(s), nullptr};
  // With nothing to replay, no message will carry NumPending == 0: say so now.
  jsConsumerInfo* ci = nullptr;
  s = natsSubscription_GetConsumerInfo(&ci, sub, nullptr, &err);
  if (s != NATS_OK) {
    conn->release_subscription(sub);
    return {status_from(s), nullptr};
  }
  const bool nothing_pending = ci->NumPending == 0 && ci->Delivered.Consumer == 0;
  jsConsumerInfo_Destroy(ci);
  return {{},
          std::unique_ptr<KvWatcher>(
              new KvWatcher(std::move(conn), sub, prefix, nothing_pending, heartbeat))};
}

KvWatcher::KvWatcher(std::shared_ptr<Connection> conn, natsSubscription* sub, std::string prefix,
                     bool nothing_pending, std::chrono::milliseconds heartbeat)
    : conn_(std::move(conn)),
      sub_(sub),
      heartbeat_(heartbeat),
      prefix_(std::move(prefix)),
      report_initial_done_(nothing_pending) {}

bool KvWatcher::consumer_alive() {
  jsConsumerInfo* ci = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  natsStatus s = natsSubscription_GetConsumerInfo(&ci, sub_, nullptr, &err);
  jsConsumerInfo_Destroy(ci);
  return s == NATS_OK;
}

// The unsubscribe also deletes the ephemeral consumer.
KvWatcher::~KvWatcher() { conn_->release_subscription(sub_); }

WatchEvent KvWatcher::next(std::chrono::milliseconds timeout) {
  WatchEvent ev;
  if (report_initial_done_) {
    report_initial_done_ = false;
    initial_done_ = true;
    ev.kind = WatchEvent::Kind::InitialDone;
    return ev;
  }
  natsMsg* msg = nullptr;
  natsStatus s = natsSubscription_NextMsg(&msg, sub_, timeout.count());
  const auto now = std::chrono::steady_clock::now();
  if (s == NATS_TIMEOUT) {
    if (now - last_activity_ < 3 * heartbeat_) return ev;
    last_activity_ = now;
    if (consumer_alive()) return ev;
    ev.kind = WatchEvent::Kind::Error;
    ev.status = {KvErrc::Unavailable, "watch consumer is gone"};
    return ev;
  }
  last_activity_ = now;
  if (s != NATS_OK) {
    ev.kind = WatchEvent::Kind::Error;
    ev.status = status_from(s);
    if (ev.status.ok()) ev.status = {KvErrc::Other, "watch failed"};
    return ev;
  }
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) {
    natsMsg_Destroy(msg);
    return ev;  // not a stream message (cannot happen on this subscription): skip it
  }
  ev.kind = WatchEvent::Kind::Entry;
  ev.entry.revision = meta->Sequence.Stream;
  const uint64_t pending = meta->NumPending;
  jsMsgMetaData_Destroy(meta);
  const char* subject = natsMsg_GetSubject(msg);
  if (std::strncmp(subject, prefix_.c_str(), prefix_.size()) == 0) {
    ev.entry.key = subject + prefix_.size();
  }
  const char* op = nullptr;
  if (natsMsgHeader_Get(msg, "KV-Operation", &op) == NATS_OK && op != nullptr) {
    ev.entry.deleted = std::strcmp(op, "DEL") == 0 || std::strcmp(op, "PURGE") == 0;
  }
  const char* data = natsMsg_GetData(msg);
  if (data != nullptr) ev.entry.value.assign(data, static_cast<size_t>(natsMsg_GetDataLength(msg)));
  natsMsg_Destroy(msg);
  if (!initial_done_ && pending == 0) report_initial_done_ = true;
  return ev;
}

}  // namespace parti::coord
