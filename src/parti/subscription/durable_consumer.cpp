#include "parti/subscription/durable_consumer.h"

#include "parti/coord/connection.h"

namespace parti::subscription {

std::string read_consumer(jsCtx* js, const ConsumerSpec& spec, ConsumerState* out) {
  *out = {};
  jsConsumerInfo* info = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  natsStatus s =
      js_GetConsumerInfo(&info, js, spec.stream.c_str(), spec.durable.c_str(), nullptr, &err);
  if (s != NATS_OK) {
    if (err == JSConsumerNotFoundErr) return {};
    return "reading consumer: " + coord::last_nats_error(s);
  }
  out->exists = true;
  out->bound = info->PushBound;
  out->ack_floor = info->AckFloor.Stream;
  if (info->Config != nullptr) {
    if (info->Config->DeliverSubject != nullptr) {
      out->place.deliver_subject = info->Config->DeliverSubject;
    }
    if (info->Config->DeliverPolicy == js_DeliverByStartSequence) {
      out->place.start_seq = info->Config->OptStartSeq;
    }
  }
  jsConsumerInfo_Destroy(info);
  return {};
}

std::string put_consumer(jsCtx* js, const ConsumerSpec& spec, const ConsumerPlace& place) {
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = spec.durable.c_str();
  cc.DeliverSubject = place.deliver_subject.c_str();
  cc.FilterSubject = spec.filter_subject.c_str();
  cc.AckPolicy = js_AckExplicit;
  cc.AckWait = std::chrono::duration_cast<std::chrono::nanoseconds>(spec.ack_wait).count();
  cc.MaxAckPending = spec.max_ack_pending;
  if (place.start_seq > 0) {
    cc.DeliverPolicy = js_DeliverByStartSequence;
    cc.OptStartSeq = place.start_seq;
  }
  jsConsumerInfo* info = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  natsStatus s = js_AddConsumer(&info, js, spec.stream.c_str(), &cc, nullptr, &err);
  jsConsumerInfo_Destroy(info);
  // Another owner may have made the same one a moment before: it carries the
  // same ack floor.
  if (s != NATS_OK && err != JSConsumerNameExistErr && err != JSConsumerExistingActiveErr) {
    return "creating consumer: " + coord::last_nats_error(s);
  }
  return {};
}

std::string delete_consumer(jsCtx* js, const ConsumerSpec& spec) {
  jsErrCode err = static_cast<jsErrCode>(0);
  natsStatus s = js_DeleteConsumer(js, spec.stream.c_str(), spec.durable.c_str(), nullptr, &err);
  if (s != NATS_OK && err != JSConsumerNotFoundErr) {
    return "deleting consumer: " + coord::last_nats_error(s);
  }
  return {};
}

std::string fresh_deliver_subject() {
  natsInbox* inbox = nullptr;
  if (natsInbox_Create(&inbox) != NATS_OK) return {};
  std::string subject = inbox;
  natsInbox_Destroy(inbox);
  return subject;
}

}  // namespace parti::subscription
