// api: answers too large for one peer frame, kept by the node that answered a
// forwarded request until the asking node has pulled them in parts. Without
// it such an answer could only fail (a frame over the limit closes the
// connection and every request in flight on it), so a GET through any node
// but the partition's leader failed where the leader itself would answer.
//
// Guarantees: a part is handed out from the offset the asker names; an answer is forgotten once its
// last part has been handed out, or when no part of it was asked for `idle`; the bytes kept never
// exceed `budget_bytes` (keep() refuses instead). Pure logic on the node's loop: no I/O, no locks.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace partid::api {

class RelayedAnswers {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kMostPartBytes = size_t{1} << 20;
  struct Options {
    size_t part_bytes = kMostPartBytes;
    size_t budget_bytes = size_t{256} << 20;
    std::chrono::milliseconds idle{30000};
  };
  explicit RelayedAnswers(Options options) : options_(options) {}

  // Keeps `body` and returns its id (never 0), or 0 when the budget cannot
  // take it even after forgetting the answers gone quiet.
  uint64_t keep(std::string body, Clock::time_point now);

  struct Part {
    std::string data;
    bool last = false;
  };
  // The part of answer `id` that starts at `offset` (at most part_bytes);
  // nullopt when the answer is not kept (never was, finished, or went quiet)
  // or `offset` is past its end.
  std::optional<Part> part(uint64_t id, uint64_t offset, Clock::time_point now);

  // Forgets the answers no part of which was asked for `idle` before `now`.
  void forget_idle(Clock::time_point now);

  size_t kept_bytes() const { return kept_bytes_; }
  size_t kept_answers() const { return answers_.size(); }
  const Options& options() const { return options_; }

 private:
  struct Kept {
    std::string body;
    Clock::time_point last_asked;
  };
  void forget(std::map<uint64_t, Kept>::iterator it);

  Options options_;
  std::map<uint64_t, Kept> answers_;
  size_t kept_bytes_ = 0;
  uint64_t next_id_ = 1;
};

}  // namespace partid::api
