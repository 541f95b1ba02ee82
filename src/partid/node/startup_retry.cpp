#include "partid/node/startup_retry.h"

#include <spdlog/spdlog.h>

#include <thread>

namespace partid::node {

StartupRetry::StartupRetry(Clock::duration patience, Clock::duration pause, Hooks hooks)
    : hooks_(std::move(hooks)), pause_(pause) {
  if (!hooks_.now) hooks_.now = [] { return Clock::now(); };
  if (!hooks_.sleep) hooks_.sleep = [](Clock::duration d) { std::this_thread::sleep_for(d); };
  deadline_ = hooks_.now() + patience;
}

bool StartupRetry::wait_to_retry(const std::string& what, const parti::coord::CoordError& e) {
  if (!e.transient()) return false;
  const auto left = deadline_ - hooks_.now();
  if (left < pause_) return false;
  if (warned_ != what) {
    warned_ = what;
    spdlog::warn("{}: {}; trying again every {} ms for up to {} s more", what, e.what(),
                 std::chrono::duration_cast<std::chrono::milliseconds>(pause_).count(),
                 std::chrono::duration_cast<std::chrono::seconds>(left).count());
  }
  hooks_.sleep(pause_);
  return true;
}

}  // namespace partid::node
