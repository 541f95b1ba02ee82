// api: TxnRecovery finishes, on a timer, the transactions that coordinators
// left prepared in partitions this node leads (TxnService::resolve_stale_txns):
// a coordinator that dies between its prepares and its resolves must not
// leave items locked. Each pass then erases what transactions past their
// deadline and the retention left behind (TxnService::forget_old_txns). One
// pass at a time. Threading: loop only.
#pragma once

#include <chrono>
#include <memory>

#include "parti/core/periodic.h"
#include "partid/api/api_service.h"

namespace partid::api {

class TxnRecovery {
 public:
  // A transaction prepared longer than `timeout` ago is finished; the timer
  // looks every timeout/4 (at most every second).
  TxnRecovery(asio::any_io_executor loop, ApiService& api, std::chrono::milliseconds timeout);
  void start() { periodic_.start(); }
  void stop();

 private:
  void pass();

  asio::any_io_executor loop_;
  ApiService& api_;
  std::chrono::milliseconds timeout_;
  parti::Periodic periodic_;
  bool running_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace partid::api
