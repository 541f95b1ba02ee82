#include "partid/routing/layout.h"

#include <xxhash.h>

#include <nlohmann/json.hpp>

namespace partid::routing {

uint64_t key_hash(std::string_view partition_key) {
  return XXH64(partition_key.data(), partition_key.size(), 0);
}

uint32_t Layout::partition_of(std::string_view partition_key) const {
  return partition_of_hash(key_hash(partition_key));
}

uint32_t Layout::partition_of_hash(uint64_t hash) const {
  if (base == 0) return 0;  // no layout yet: nothing is routed by it
  const auto low = static_cast<uint32_t>(hash % base);
  if (low < count - base) return static_cast<uint32_t>(hash % (2 * uint64_t{base}));
  return low;
}

Layout Layout::after_split() const {
  Layout next{base, count + 1};
  if (next.count == 2 * base) next.base = next.count;
  return next;
}

Layout Layout::after_merge() const {
  if (count > base) return {base, count - 1};
  return {base / 2, count - 1};
}

const char* kind_name(SplitPlan::Kind kind) {
  return kind == SplitPlan::Kind::Merge ? "merge" : "split";
}

const char* phase_name(SplitPlan::Phase phase) {
  switch (phase) {
    case SplitPlan::Phase::Freezing:
      return "freezing";
    case SplitPlan::Phase::Copying:
      return "copying";
    case SplitPlan::Phase::Cleaning:
      return "cleaning";
  }
  return "freezing";
}

uint32_t LayoutRecord::partitions() const {
  if (!split) return layout.count;
  // A split's target exists from Copying on, before the layout counts it; a
  // merge's source still exists while Cleaning, after the layout stopped.
  const auto extra = split->merge() ? SplitPlan::Phase::Cleaning : SplitPlan::Phase::Copying;
  return layout.count + (split->phase == extra ? 1 : 0);
}

uint32_t LayoutRecord::owner_of(uint32_t partition) const {
  if (partition < layout.count || partition >= std::max(peak, layout.count)) return partition;
  const bool copied_into = split && !split->merge() && split->target == partition;
  return copied_into ? partition : layout.owner_of(partition);
}

void LayoutRecord::finish_copy() {
  peak = std::max(peak, layout.count);
  layout = split->merge() ? layout.after_merge() : layout.after_split();
  peak = std::max(peak, layout.count);
  split->phase = SplitPlan::Phase::Cleaning;
}

uint64_t LayoutRecord::start_of(uint32_t partition) const {
  auto it = starts.find(partition);
  return it == starts.end() ? 0 : it->second;
}

namespace {

bool busy(const std::optional<SplitPlan>& plan, std::string* error) {
  if (!plan) return false;
  *error = std::string("a ") + kind_name(plan->kind) + " of partition " +
           std::to_string(plan->source) + " into " + std::to_string(plan->target) +
           " is under way (" + phase_name(plan->phase) + ")";
  return true;
}

}  // namespace

std::optional<LayoutRecord> LayoutRecord::begin_split(std::string* error) const {
  if (busy(split, error)) return std::nullopt;
  LayoutRecord next = *this;
  next.split = SplitPlan{layout.next_split_source(), layout.next_split_target(),
                         SplitPlan::Phase::Freezing, 0};
  return next;
}

std::optional<LayoutRecord> LayoutRecord::begin_merge(std::string* error) const {
  if (busy(split, error)) return std::nullopt;
  if (layout.count < 2) {
    *error = "one partition cannot merge";
    return std::nullopt;
  }
  if (!layout.can_merge()) {
    *error = "a layout of " + std::to_string(layout.count) +
             " partitions that never split cannot merge (the count must be even)";
    return std::nullopt;
  }
  LayoutRecord next = *this;
  next.split = SplitPlan{layout.next_merge_source(), layout.next_merge_target(),
                         SplitPlan::Phase::Freezing, 0, SplitPlan::Kind::Merge};
  return next;
}

std::string encode_layout_record(const LayoutRecord& record) {
  nlohmann::json j = {{"base", record.layout.base}, {"count", record.layout.count}};
  nlohmann::json starts = nlohmann::json::object();
  for (const auto& [p, seq] : record.starts) starts[std::to_string(p)] = seq;
  j["starts"] = starts;
  if (record.peak > record.layout.count) j["peak"] = record.peak;
  if (!record.seal_floors.empty()) {
    nlohmann::json floors = nlohmann::json::object();
    for (const auto& [p, epoch] : record.seal_floors) floors[std::to_string(p)] = epoch;
    j["seal_floors"] = floors;
  }
  if (record.split) {
    j["split"] = {{"source", record.split->source},
                  {"target", record.split->target},
                  {"phase", phase_name(record.split->phase)},
                  {"start", record.split->start}};
    if (record.split->merge()) j["split"]["kind"] = kind_name(record.split->kind);
  }
  return j.dump();
}

namespace {

std::optional<SplitPlan::Phase> phase_from(const std::string& name) {
  for (auto p :
       {SplitPlan::Phase::Freezing, SplitPlan::Phase::Copying, SplitPlan::Phase::Cleaning}) {
    if (name == phase_name(p)) return p;
  }
  return std::nullopt;
}

std::optional<LayoutRecord> parse_record(const nlohmann::json& j) {
  LayoutRecord r;
  r.layout = {j.at("base").get<uint32_t>(), j.at("count").get<uint32_t>()};
  if (!r.layout.valid()) return std::nullopt;
  for (const auto& [p, seq] : j.at("starts").items()) {
    r.starts[static_cast<uint32_t>(std::stoul(p))] = seq.get<uint64_t>();
  }
  r.peak = j.value("peak", 0u);
  if (r.peak <= r.layout.count) r.peak = 0;
  if (j.contains("seal_floors")) {
    for (const auto& [p, epoch] : j.at("seal_floors").items()) {
      r.seal_floors[static_cast<uint32_t>(std::stoul(p))] = epoch.get<uint64_t>();
    }
  }
  if (j.contains("split")) {
    const auto& s = j.at("split");
    auto phase = phase_from(s.at("phase").get<std::string>());
    if (!phase) return std::nullopt;
    const std::string kind = s.value("kind", std::string("split"));
    if (kind != "split" && kind != "merge") return std::nullopt;
    r.split = SplitPlan{s.at("source").get<uint32_t>(), s.at("target").get<uint32_t>(), *phase,
                        s.at("start").get<uint64_t>(),
                        kind == "merge" ? SplitPlan::Kind::Merge : SplitPlan::Kind::Split};
  }
  return r;
}

}  // namespace

std::optional<LayoutRecord> decode_layout_record(std::string_view json) {
  try {
    return parse_record(nlohmann::json::parse(json));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace partid::routing
