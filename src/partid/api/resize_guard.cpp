#include "partid/api/resize_guard.h"

#include <map>
#include <string>
#include <vector>

namespace partid::api {
namespace {

// The reason a moving partition holds a resize back, or "" when it does not
// (a follower catching up from the log).
std::string holding_reason(const nlohmann::json& moving) {
  if (moving.value("snapshot", false)) return "copying a snapshot";
  const std::string state = moving.value("state", std::string());
  return state == "catching_up" ? std::string() : state;
}

std::string join(const std::map<std::string, size_t>& counts) {
  std::string out;
  for (const auto& [reason, n] : counts) {
    out += (out.empty() ? "" : ", ") + std::to_string(n) + " " + reason;
  }
  return out;
}

}  // namespace

std::optional<std::string> resize_in_progress(const nlohmann::json& summary) {
  std::map<std::string, size_t> counts;
  size_t holding = 0;
  for (const auto& m : summary.value("moving", nlohmann::json::array())) {
    const std::string reason = holding_reason(m);
    if (reason.empty()) continue;
    ++counts[reason];
    ++holding;
  }
  std::string unreachable;
  for (const auto& node : summary.value("unreachable", nlohmann::json::array())) {
    unreachable += (unreachable.empty() ? "" : ", ") + node.get<std::string>();
  }
  const bool staged_step = summary.value("staged_step", false);
  if (holding == 0 && unreachable.empty() && !staged_step) return std::nullopt;
  std::vector<std::string> parts;
  if (holding > 0) {
    parts.push_back(std::to_string(holding) + " partition" + (holding == 1 ? "" : "s") +
                    " still moving (" + join(counts) + ")");
  }
  if (!unreachable.empty()) parts.push_back(unreachable + " unreachable");
  if (staged_step) {
    parts.push_back(
        "the assignment is a step of a staged move (the next follows a cooldown later)");
  }
  std::string why = "a resize is in progress:";
  for (size_t i = 0; i < parts.size(); ++i) why += (i == 0 ? " " : "; ") + parts[i];
  return why + "; retry once `partictl resize` reports every partition settled, or pass force=true";
}

}  // namespace partid::api
