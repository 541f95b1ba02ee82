// subscription: the JetStream side of one partition's durable push consumer:
// reading its state, creating it or updating it in place, and replacing it
// for a take-over. Each call is one blocking JetStream request.
#pragma once

#include <nats/nats.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace parti::subscription {

struct ConsumerSpec {
  std::string stream;
  std::string durable;
  std::string filter_subject;
  std::chrono::milliseconds ack_wait{30000};
  int max_ack_pending = 1000;
};

// Where a consumer pushes and where it began. The server refuses to change
// the start of an existing consumer, so an update keeps it as it is.
struct ConsumerPlace {
  std::string deliver_subject;
  uint64_t start_seq = 0;  // 0: the stream's first message
};

struct ConsumerState {
  bool exists = false;
  bool bound = false;      // a subscription somewhere receives its pushes
  uint64_t ack_floor = 0;  // every message up to this stream sequence is acknowledged
  ConsumerPlace place;
};

// Each returns an empty string on success, else what failed.
std::string read_consumer(jsCtx* js, const ConsumerSpec& spec, ConsumerState* out);
std::string put_consumer(jsCtx* js, const ConsumerSpec& spec, const ConsumerPlace& place);
std::string delete_consumer(jsCtx* js, const ConsumerSpec& spec);

// A deliver subject no other subscription listens on (a NATS inbox).
std::string fresh_deliver_subject();

}  // namespace parti::subscription
