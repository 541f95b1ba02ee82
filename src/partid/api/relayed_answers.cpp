#include "partid/api/relayed_answers.h"

#include <algorithm>

namespace partid::api {

uint64_t RelayedAnswers::keep(std::string body, Clock::time_point now) {
  if (kept_bytes_ + body.size() > options_.budget_bytes) forget_idle(now);
  if (kept_bytes_ + body.size() > options_.budget_bytes) return 0;
  const uint64_t id = next_id_++;
  kept_bytes_ += body.size();
  answers_.emplace(id, Kept{std::move(body), now});
  return id;
}

std::optional<RelayedAnswers::Part> RelayedAnswers::part(uint64_t id, uint64_t offset,
                                                         Clock::time_point now) {
  auto it = answers_.find(id);
  if (it == answers_.end() || offset >= it->second.body.size()) return std::nullopt;
  const std::string& body = it->second.body;
  const size_t length = std::min<size_t>(options_.part_bytes, body.size() - offset);
  Part out{body.substr(offset, length), offset + length == body.size()};
  if (out.last) {
    forget(it);
  } else {
    it->second.last_asked = now;
  }
  return out;
}

void RelayedAnswers::forget_idle(Clock::time_point now) {
  for (auto it = answers_.begin(); it != answers_.end();) {
    auto next = std::next(it);
    if (now - it->second.last_asked >= options_.idle) forget(it);
    it = next;
  }
}

void RelayedAnswers::forget(std::map<uint64_t, Kept>::iterator it) {
  kept_bytes_ -= it->second.body.size();
  answers_.erase(it);
}

}  // namespace partid::api
