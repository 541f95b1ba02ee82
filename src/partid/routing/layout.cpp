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
  const bool target_extra = split && split->phase == SplitPlan::Phase::Copying;
  return layout.count + (target_extra ? 1 : 0);
}

uint64_t LayoutRecord::start_of(uint32_t partition) const {
  auto it = starts.find(partition);
  return it == starts.end() ? 0 : it->second;
}

std::optional<LayoutRecord> LayoutRecord::begin_split(std::string* error) const {
  if (split) {
    *error = "partition " + std::to_string(split->source) + " is splitting into " +
             std::to_string(split->target) + " (" + phase_name(split->phase) + ")";
    return std::nullopt;
  }
  LayoutRecord next = *this;
  next.split = SplitPlan{layout.next_split_source(), layout.next_split_target(),
                         SplitPlan::Phase::Freezing, 0};
  return next;
}

std::string encode_layout_record(const LayoutRecord& record) {
  nlohmann::json j = {{"base", record.layout.base}, {"count", record.layout.count}};
  nlohmann::json starts = nlohmann::json::object();
  for (const auto& [p, seq] : record.starts) starts[std::to_string(p)] = seq;
  j["starts"] = starts;
  if (record.split) {
    j["split"] = {{"source", record.split->source},
                  {"target", record.split->target},
                  {"phase", phase_name(record.split->phase)},
                  {"start", record.split->start}};
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
  if (j.contains("split")) {
    const auto& s = j.at("split");
    auto phase = phase_from(s.at("phase").get<std::string>());
    if (!phase) return std::nullopt;
    r.split = SplitPlan{s.at("source").get<uint32_t>(), s.at("target").get<uint32_t>(), *phase,
                        s.at("start").get<uint64_t>()};
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
