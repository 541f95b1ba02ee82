#include "partid/replication/core_changes.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "partid/overloaded.h"
#include "partid/replication/wire.h"
#include "partid/storage/codec.h"

namespace partid::replication {
namespace {

storage::LogRecord record_of(const core::Entry& e) {
  return {e.seq, e.epoch, e.barrier, e.payload};
}

bool decodes(uint32_t partition, const core::Entry& e) {
  return e.barrier || storage::decode_item_op(partition, record_of(e)).has_value();
}

storage::change::ReplaceState replace_of(uint32_t partition, const core::ReplaceWithSnapshot& r,
                                         const CheckedSnapshot& checked) {
  SnapshotItems items = checked ? checked(r.snapshot) : snapshot_items(r.snapshot.data);
  if (!items) throw std::runtime_error("snapshot does not decode");
  return {partition, std::move(items), r.snapshot.through.seq, r.snapshot.through.epoch,
          r.keep_tail};
}

storage::change::Apply apply_of(uint32_t partition, const std::vector<core::Entry>& entries) {
  storage::change::Apply apply{partition, {}, entries.back().seq, entries.back().epoch};
  for (const auto& e : entries) {
    if (e.barrier) continue;
    auto op = storage::decode_item_op(partition, record_of(e));
    if (!op) throw std::runtime_error("log entry does not decode");
    apply.ops.push_back(std::move(*op));
  }
  return apply;
}

}  // namespace

std::vector<storage::ReplicaChange> storage_changes(uint32_t partition,
                                                    const core::Actions& actions,
                                                    const core::ReplicaCore& core,
                                                    const CheckedSnapshot& checked) {
  namespace ch = storage::change;
  std::vector<storage::ReplicaChange> out;
  for (const auto& op : actions.persist) {
    std::visit(Overloaded{
                   [&](const core::TruncateAfter& t) {
                     out.push_back(ch::TruncateLog{partition, t.seq});
                   },
                   [&](const core::AppendEntries& a) {
                     ch::AppendLog append{partition, {}};
                     for (const auto& e : a.entries) append.records.push_back(record_of(e));
                     out.push_back(std::move(append));
                   },
                   [&](const core::SaveHardState& s) {
                     out.push_back(ch::SaveState{partition, s.state.promised_epoch, s.state.commit,
                                                 s.state.rebuilding});
                   },
                   [&](const core::ReplaceWithSnapshot& r) {
                     out.push_back(replace_of(partition, r, checked));
                   },
               },
               op);
  }
  if (!actions.apply.empty()) out.push_back(apply_of(partition, actions.apply));
  if (actions.trim_through) {
    out.push_back(ch::TrimLog{partition, *actions.trim_through, core.log().base().epoch});
  }
  return out;
}

bool entries_decode(uint32_t partition, const core::Message& message) {
  auto all_decode = [&](const std::vector<core::Entry>& entries) {
    return std::all_of(entries.begin(), entries.end(),
                       [&](const core::Entry& e) { return decodes(partition, e); });
  };
  return std::visit(Overloaded{
                        [&](const core::Replicate& m) { return all_decode(m.entries); },
                        [&](const core::SyncReply& m) { return all_decode(m.entries); },
                        [](const auto&) { return true; },
                    },
                    message);
}

const core::Snapshot* snapshot_in(const core::Message& message) {
  if (const auto* m = std::get_if<core::InstallSnapshot>(&message)) return &m->snapshot;
  if (const auto* m = std::get_if<core::SyncReply>(&message)) {
    return m->snapshot ? &*m->snapshot : nullptr;
  }
  return nullptr;
}

core::Snapshot* snapshot_in(core::Message& message) {
  return const_cast<core::Snapshot*>(snapshot_in(std::as_const(message)));
}

}  // namespace partid::replication
