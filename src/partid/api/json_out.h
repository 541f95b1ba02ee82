// api: writes the JSON of the hot responses (an item read, an item write, a
// page of a key's items) straight into one string. Building an
// nlohmann::json first costs a tree of map nodes and strings per response; on
// a leader-aware read that tree took more CPU than the RocksDB lookup (perf
// during bench/cluster_bench.sh). Strings that need escaping are escaped by
// nlohmann's own serializer with the same error handler as api's dump(); the
// others (printable ASCII without a quote or a backslash) are copied as they
// are, which is what dump() writes for them. So the output is byte for byte
// what dump() gives when the fields are added in key order (dump() sorts keys).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace partid::api {

// Every JSON body the API sends: compact, and invalid UTF-8 (which a client
// may have put in a key) replaced rather than thrown on.
std::string dump(const nlohmann::json& j);

// Appends `s` to `out` as a JSON string, quoted and escaped as dump() does.
void append_json_string(std::string& out, const std::string& s);

class JsonObject {
 public:
  JsonObject();
  JsonObject& field(std::string_view key, const std::string& value);
  JsonObject& field(std::string_view key, uint64_t value);
  // The finished object; the writer is spent afterwards.
  std::string take();

 private:
  void key(std::string_view name);
  std::string out_;
};

}  // namespace partid::api
