#include "partid/api/json_out.h"

#include <nlohmann/json.hpp>

namespace partid::api {

std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

using json = nlohmann::json;

// One serializer per thread, bound to one reused buffer and one reused string
// value: constructing a serializer allocates (its adapter and indent string),
// which is the cost this file exists to avoid. After warm-up, quoting a string
// allocates nothing; the loop thread reuses these for every response.
struct Escaper {
  std::string buffer;
  json value = "";
  nlohmann::detail::serializer<json> serializer{nlohmann::detail::output_adapter<char>(buffer), ' ',
                                                json::error_handler_t::replace};
  void append_quoted(std::string& out, const std::string& s) {
    buffer.clear();
    value.get_ref<std::string&>().assign(s);
    serializer.dump(value, false, false, 0);
    out.append(buffer);
  }
};

Escaper& escaper() {
  thread_local Escaper e;
  return e;
}

// Printable ASCII other than the quote and the backslash: what dump() writes
// as it is. Messages are mostly this; they skip the serializer's two copies.
bool needs_no_escaping(const std::string& s) {
  for (const unsigned char c : s) {
    if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') return false;
  }
  return true;
}

}  // namespace

void append_json_string(std::string& out, const std::string& s) {
  if (!needs_no_escaping(s)) {
    escaper().append_quoted(out, s);
    return;
  }
  out.push_back('"');
  out.append(s);
  out.push_back('"');
}

JsonObject::JsonObject() {
  out_.reserve(256);
  out_.push_back('{');
}

void JsonObject::key(std::string_view name) {
  if (out_.size() > 1) out_.push_back(',');
  out_.push_back('"');
  out_.append(name);  // keys are this program's own literals: nothing to escape
  out_.append("\":");
}

JsonObject& JsonObject::field(std::string_view name, const std::string& value) {
  key(name);
  append_json_string(out_, value);
  return *this;
}

JsonObject& JsonObject::field(std::string_view name, uint64_t value) {
  key(name);
  out_.append(std::to_string(value));
  return *this;
}

std::string JsonObject::take() {
  out_.push_back('}');
  return std::move(out_);
}

}  // namespace partid::api
