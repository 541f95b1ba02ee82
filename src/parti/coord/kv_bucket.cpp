#include "parti/coord/kv_bucket.h"

#include <cstring>
#include <stdexcept>

namespace parti::coord {

KvStatus status_from(natsStatus s) {
  if (s == NATS_OK) return {};
  std::string text = last_nats_error(s);
  auto has = [&](const char* needle) { return text.find(needle) != std::string::npos; };
  KvErrc code = KvErrc::Other;
  if (s == NATS_NOT_FOUND) {
    code = KvErrc::NotFound;
  } else if (s == NATS_TIMEOUT) {
    code = KvErrc::Timeout;
  } else if (s == NATS_CONNECTION_CLOSED || s == NATS_CONNECTION_DISCONNECTED ||
             s == NATS_NO_SERVER || s == NATS_NO_RESPONDERS || s == NATS_STALE_CONNECTION) {
    code = KvErrc::Unavailable;
  } else if (has("key exists")) {
    code = KvErrc::Exists;
  } else if (has("wrong last sequence")) {
    code = KvErrc::WrongRevision;
  }
  return {code, text};
}

KvBucket::KvBucket(std::shared_ptr<Connection> conn, kvStore* kv, std::string name)
    : conn_(std::move(conn)), kv_(kv), name_(std::move(name)) {}

KvBucket::~KvBucket() { kvStore_Destroy(kv_); }

std::shared_ptr<KvBucket> KvBucket::open_or_throw(std::shared_ptr<Connection> conn,
                                                  const std::string& name, const std::string& what,
                                                  int replicas) {
  BucketOptions options;
  options.name = name;
  options.replicas = replicas;
  auto opened = open_or_create(std::move(conn), options);
  if (!opened.ok()) {
    throw CoordError("cannot open the " + what + " bucket " + name + ": " + opened.status.message,
                     opened.status.code);
  }
  return std::move(opened.value);
}

KvResult<std::shared_ptr<KvBucket>> KvBucket::open_or_create(std::shared_ptr<Connection> conn,
                                                             const BucketOptions& options) {
  kvConfig cfg;
  kvConfig_Init(&cfg);
  cfg.Bucket = options.name.c_str();
  cfg.History = options.history;
  // nats.c 3.4 takes the TTL in nanoseconds (it becomes the stream MaxAge).
  cfg.TTL = std::chrono::duration_cast<std::chrono::nanoseconds>(options.ttl).count();
  cfg.StorageType = js_FileStorage;
  cfg.Replicas = options.replicas;
  kvStore* kv = nullptr;
  natsStatus s = js_CreateKeyValue(&kv, conn->jetstream(), &cfg);
  if (s != NATS_OK) {
    // Another process created it with other settings, or it already exists:
    // open what is there rather than fighting over the configuration.
    s = js_KeyValue(&kv, conn->jetstream(), options.name.c_str());
  }
  if (s != NATS_OK) return {status_from(s), nullptr};
  return {{}, std::shared_ptr<KvBucket>(new KvBucket(std::move(conn), kv, options.name))};
}

KvResult<KvEntry> KvBucket::get(const std::string& key) const {
  kvEntry* e = nullptr;
  natsStatus s = kvStore_Get(&e, kv_, key.c_str());
  if (s != NATS_OK) return {status_from(s), {}};
  KvEntry out = to_entry(e);
  kvEntry_Destroy(e);
  if (out.deleted) return {{KvErrc::NotFound, "deleted"}, {}};
  return {{}, std::move(out)};
}

KvResult<uint64_t> KvBucket::put(const std::string& key, const std::string& value) {
  uint64_t rev = 0;
  natsStatus s = kvStore_Put(&rev, kv_, key.c_str(), value.data(), static_cast<int>(value.size()));
  return {status_from(s), rev};
}

KvResult<uint64_t> KvBucket::create(const std::string& key, const std::string& value) {
  // A second try only for a key that lapsed during the first (kv_types.h).
  for (int attempt = 1;; ++attempt) {
    uint64_t rev = 0;
    natsStatus s =
        kvStore_Create(&rev, kv_, key.c_str(), value.data(), static_cast<int>(value.size()));
    KvStatus st = status_from(s);
    if (st.code == KvErrc::WrongRevision) st.code = KvErrc::Exists;
    if (st.code != KvErrc::Other || attempt == 2) return {st, rev};
    if (auto judged = judge_unexplained_create(st, get(key).status)) return {*judged, 0};
  }
}

KvResult<uint64_t> KvBucket::update(const std::string& key, const std::string& value,
                                    uint64_t expected) {
  uint64_t rev = 0;
  natsStatus s = kvStore_Update(&rev, kv_, key.c_str(), value.data(),
                                static_cast<int>(value.size()), expected);
  return {status_from(s), rev};
}

KvStatus KvBucket::erase(const std::string& key) {
  return status_from(kvStore_Delete(kv_, key.c_str()));
}

KvStatus KvBucket::erase_if_revision(const std::string& key, uint64_t expected) {
  const std::string subject = "$KV." + name_ + "." + key;
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, nullptr, 0);
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, "KV-Operation", "DEL");
  jsPubOptions opts;
  if (s == NATS_OK) s = jsPubOptions_Init(&opts);
  opts.ExpectLastSubjectSeq = expected;
  jsPubAck* ack = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  if (s == NATS_OK) s = js_PublishMsg(&ack, conn_->jetstream(), msg, &opts, &err);
  jsPubAck_Destroy(ack);
  natsMsg_Destroy(msg);
  KvStatus st = status_from(s);
  if (err == JSStreamWrongLastSequenceErr) st.code = KvErrc::WrongRevision;
  return st;
}

// Listing comes from the stream's own per-subject state rather than
// kvStore_Keys: that one replays through a consumer and may declare the replay
// complete while deliveries are still in flight, returning a partial list
// (nats.py #995). Stream info is one server-side snapshot, and its LastSeq is
// the watermark of exactly that snapshot.
KvResult<KvBucket::SubjectListing> KvBucket::list_subjects() const {
  jsOptions opts;
  jsOptions_Init(&opts);
  const std::string prefix = "$KV." + name_ + ".";
  const std::string filter = prefix + ">";
  opts.Stream.Info.SubjectsFilter = filter.c_str();
  jsStreamInfo* si = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  const std::string stream = "KV_" + name_;
  natsStatus s = js_GetStreamInfo(&si, conn_->jetstream(), stream.c_str(), &opts, &err);
  if (s != NATS_OK) return {status_from(s), {}};
  SubjectListing out;
  out.as_of = si->State.LastSeq;
  if (const jsStreamStateSubjects* subjects = si->State.Subjects) {
    for (int i = 0; i < subjects->Count; ++i) {
      std::string subject = subjects->List[i].Subject;
      if (subject.rfind(prefix, 0) == 0) out.keys.push_back(subject.substr(prefix.size()));
    }
  }
  jsStreamInfo_Destroy(si);
  return {{}, std::move(out)};
}

KvResult<KvSnapshot> KvBucket::entry_of(const std::string& key) const {
  auto e = get(key);
  if (e.status.code == KvErrc::NotFound) return {};
  if (!e.ok()) return {e.status, {}};
  return {{}, {{std::move(e.value)}, 0}};
}

KvResult<uint64_t> KvBucket::revision_of(const std::string& key) const {
  auto e = get(key);
  if (e.status.code == KvErrc::NotFound) return {{}, 0};
  return {e.status, e.ok() ? e.value.revision : 0};
}

KvResult<KvSnapshot> KvBucket::entries() const {
  auto listing = list_subjects();
  if (!listing.ok()) return {listing.status, {}};
  KvResult<KvSnapshot> out;
  out.value.as_of = listing.value.as_of;
  // A subject whose last message is a delete or purge marker reads NotFound.
  bool deleted = false;
  for (const auto& k : listing.value.keys) {
    auto e = get(k);
    if (e.status.code == KvErrc::NotFound) {
      deleted = true;
      continue;
    }
    if (!e.ok()) return {e.status, {}};
    out.value.entries.push_back(std::move(e.value));
  }
  if (deleted) {
    auto last = last_revision();
    if (!last.ok()) return {last.status, {}};
    out.value.deleted_by = last.value;
  }
  return out;
}

KvResult<std::vector<std::string>> KvBucket::keys() const {
  auto all = entries();
  KvResult<std::vector<std::string>> out{all.status, {}};
  for (auto& e : all.value.entries) out.value.push_back(std::move(e.key));
  return out;
}

KvResult<KvBucket::StreamFacts> KvBucket::stream_facts() const {
  jsStreamInfo* si = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  const std::string stream = "KV_" + name_;
  natsStatus s = js_GetStreamInfo(&si, conn_->jetstream(), stream.c_str(), nullptr, &err);
  if (s != NATS_OK) return {status_from(s), {}};
  StreamFacts facts{si->State.LastSeq, std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::nanoseconds(si->Config->MaxAge))};
  jsStreamInfo_Destroy(si);
  return {{}, facts};
}

KvResult<uint64_t> KvBucket::last_revision() const {
  auto facts = stream_facts();
  return {facts.status, facts.value.last_seq};
}

KvResult<std::chrono::milliseconds> KvBucket::ttl() const {
  auto facts = stream_facts();
  return {facts.status, facts.value.max_age};
}

KvResult<std::unique_ptr<KvWatcher>> KvBucket::watch(const std::string& pattern) const {
  return KvWatcher::open(conn_, name_, pattern, std::chrono::milliseconds(1000));
}

}  // namespace parti::coord
