// replication: the seal register changes that are not part of sealing a
// partition (SealRegister): a leaving node asks which of its partitions'
// registers still name it, or takes itself out of them before its data is
// deleted; an operator drops the replicas that are gone for good from one
// partition's register (drop-lost-replicas). Every change is a
// compare-and-set, so a register another node sealed meanwhile is never
// overwritten with an older view.
// Threading: loop only; answers run on the loop, never after the owner's
// `alive` token went false.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "partid/replication/seal_register.h"

namespace partid::replication {

class RegisterSweeps {
 public:
  using Partitions = std::function<void(std::vector<uint32_t>)>;
  using IsLive = std::function<bool(const std::string& node)>;
  // The nodes taken out of the register (empty: none was lost).
  using Dropped = std::function<void(std::vector<std::string> dropped)>;
  using Failed = std::function<void(std::string why)>;

  RegisterSweeps(asio::any_io_executor loop, SealRegister& seals, core::NodeId self,
                 std::shared_ptr<bool> alive)
      : loop_(std::move(loop)), seals_(seals), self_(std::move(self)), alive_(std::move(alive)) {}

  // Of `held`, the partitions whose register names this node. `done` runs
  // once every read was answered, and never if one was lost.
  void naming_self(const std::vector<uint32_t>& held, Partitions done);
  // Takes this node out of every register of `held` that names it; `done`
  // gets those partitions, as naming_self.
  void withdraw_self(const std::vector<uint32_t>& held, Partitions done);
  // Rewrites the register of `partition` with only its members that are
  // live, retrying from a fresh read when a claim loses to a concurrent
  // change (`attempts` in all); a register left with no member is emptied.
  void drop_lost(uint32_t partition, IsLive is_live, Dropped dropped, Failed failed,
                 int attempts = 3);

 private:
  using Visited = std::function<void(bool picked)>;
  using Visit = std::function<void(uint32_t, const core::SealRecord&, Visited finished)>;
  // Reads the register of each of `held` and hands it to `visit` with a
  // callback it calls once done with it, saying whether it picked that
  // partition; after the last, `done` gets the picked ones.
  void visit(const std::vector<uint32_t>& held, Visit visit, Partitions done);

  asio::any_io_executor loop_;
  SealRegister& seals_;
  core::NodeId self_;
  std::shared_ptr<bool> alive_;
};

}  // namespace partid::replication
