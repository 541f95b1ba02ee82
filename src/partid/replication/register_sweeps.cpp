#include "partid/replication/register_sweeps.h"

#include <algorithm>
#include <utility>

namespace partid::replication {

namespace {
bool names(const core::SealRecord& record, const core::NodeId& node) {
  const auto& members = record.config.members;
  return std::find(members.begin(), members.end(), node) != members.end();
}
}  // namespace

void RegisterSweeps::visit(const std::vector<uint32_t>& held, Visit visit, Partitions done) {
  struct Gather {
    size_t remaining = 0;
    std::vector<uint32_t> picked;
    Partitions done;
    void finish_one() {
      if (--remaining == 0) done(std::move(picked));
    }
  };
  auto gather = std::make_shared<Gather>();
  gather->remaining = held.size();
  gather->done = std::move(done);
  if (held.empty()) {
    asio::post(loop_, [gather] { gather->done({}); });
    return;
  }
  for (uint32_t p : held) {
    seals_.read(p, [p, gather, visit, alive = alive_](core::SealRecord record) {
      if (!*alive) return;
      visit(p, record, [p, gather](bool picked) {
        if (picked) gather->picked.push_back(p);
        gather->finish_one();
      });
    });
  }
}

void RegisterSweeps::naming_self(const std::vector<uint32_t>& held, Partitions done) {
  visit(
      held,
      [self = self_](uint32_t, const core::SealRecord& record, Visited finished) {
        finished(names(record, self));
      },
      std::move(done));
}

void RegisterSweeps::withdraw_self(const std::vector<uint32_t>& held, Partitions done) {
  visit(
      held,
      [this](uint32_t p, const core::SealRecord& record, Visited finished) {
        if (!names(record, self_)) return finished(false);
        core::SealClaim without{{record.config.epoch, {}}, record.revision};
        for (const auto& member : record.config.members) {
          if (member != self_) without.config.members.push_back(member);
        }
        // A lost CAS means another node sealed meanwhile: it no longer needs us.
        seals_.claim(p, without, [finished, alive = alive_](bool, core::SealRecord) {
          if (*alive) finished(true);
        });
      },
      std::move(done));
}

void RegisterSweeps::drop_lost(uint32_t partition, IsLive is_live, Dropped dropped, Failed failed,
                               int attempts) {
  seals_.read(partition, [this, partition, is_live, dropped, failed, attempts,
                          alive = alive_](core::SealRecord record) {
    if (!*alive) return;
    core::SealClaim survivors{{record.config.epoch, {}}, record.revision};
    std::vector<std::string> lost;
    for (const auto& member : record.config.members) {
      (is_live(member) ? survivors.config.members : lost).push_back(member);
    }
    if (lost.empty()) return dropped({});
    if (survivors.config.members.empty()) {
      return seals_.forget(partition, [dropped, lost, alive] {
        if (*alive) dropped(lost);
      });
    }
    seals_.claim(partition, survivors,
                 [this, partition, is_live, dropped, failed, attempts, lost, alive](
                     bool won, core::SealRecord) {
                   if (!*alive) return;
                   if (won) return dropped(lost);
                   if (attempts > 1) {
                     return drop_lost(partition, is_live, dropped, failed, attempts - 1);
                   }
                   failed(
                       "the partition's seal register kept changing meanwhile; nothing was "
                       "dropped, try again");
                 });
  });
}

}  // namespace partid::replication
