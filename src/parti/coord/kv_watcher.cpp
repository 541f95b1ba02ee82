#include "parti/coord/kv_watcher.h"

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

KvWatcher::~KvWatcher() {
  kvWatcher_Stop(w_);
  kvWatcher_Destroy(w_);
}

WatchEvent KvWatcher::next(std::chrono::milliseconds timeout) {
  kvEntry* e = nullptr;
  natsStatus s = kvWatcher_Next(&e, w_, timeout.count());
  WatchEvent ev;
  if (s == NATS_OK && e == nullptr) {
    ev.kind = WatchEvent::Kind::InitialDone;
  } else if (s == NATS_OK) {
    ev.kind = WatchEvent::Kind::Entry;
    ev.entry = to_entry(e);
    kvEntry_Destroy(e);
  } else if (s == NATS_TIMEOUT) {
    ev.kind = WatchEvent::Kind::Timeout;
  } else if (s == NATS_ILLEGAL_STATE) {
    ev.kind = WatchEvent::Kind::Stopped;
  } else {
    ev.kind = WatchEvent::Kind::Error;
    ev.status = status_from(s);
  }
  return ev;
}

void KvWatcher::stop() { kvWatcher_Stop(w_); }

}  // namespace parti::coord
