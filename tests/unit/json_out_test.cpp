#include "partid/api/json_out.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace partid::api {
namespace {

using nlohmann::json;

std::string dumped(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Sized from the array: the literal holds a NUL, so strlen would stop early.
constexpr char kControls[] = "nul \0 and controls \x01\x1f\t\n\r";

TEST(JsonObject, WritesWhatNlohmannDumpWritesForTheSameFields) {
  const std::vector<std::string> awkward = {
      "",
      "plain",
      "printable ASCII ~ and DEL \x7f",
      "quote \" backslash \\ slash /",
      std::string(kControls, sizeof(kControls) - 1),
      "unicode \xE2\x9C\x93 \xF0\x9F\x98\x80",
      "invalid utf-8 \xC3\x28 \xFF end",
      std::string(5000, 'x'),
  };
  for (const auto& s : awkward) {
    const std::string ours =
        JsonObject().field("a", s).field("b", uint64_t{18446744073709551615u}).field("c", s).take();
    EXPECT_EQ(ours, dumped({{"a", s}, {"b", uint64_t{18446744073709551615u}}, {"c", s}}));
    EXPECT_EQ(json::parse(ours)["b"].get<uint64_t>(), 18446744073709551615u);
  }
}

TEST(JsonObject, AnEmptyObjectIsTwoBraces) { EXPECT_EQ(JsonObject().take(), "{}"); }

}  // namespace
}  // namespace partid::api
