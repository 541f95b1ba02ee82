#include <gtest/gtest.h>

#include "partid/api/item_requests.h"
#include "partid/api/route.h"

namespace partid::api {
namespace {

Route route(const std::string& method, const std::string& target) {
  auto r = match_route(method, target);
  EXPECT_TRUE(std::holds_alternative<Route>(r)) << method << " " << target;
  return std::holds_alternative<Route>(r) ? std::get<Route>(r) : Route{};
}

WebError error(const std::string& method, const std::string& target) {
  auto r = match_route(method, target);
  EXPECT_TRUE(std::holds_alternative<WebError>(r)) << method << " " << target;
  return std::holds_alternative<WebError>(r) ? std::get<WebError>(r) : WebError{};
}

TEST(RouteTest, MatchesEveryRouteAndDecodesKeys) {
  EXPECT_EQ(route("POST", "/items").kind, Route::Kind::PutItem);
  EXPECT_EQ(route("POST", "/items/batch").kind, Route::Kind::PutBatch);
  EXPECT_EQ(route("GET", "/items").kind, Route::Kind::Counts);
  auto many = route("GET", "/items/user%2F1?limit=5&consistency=replica");
  EXPECT_EQ(many.kind, Route::Kind::GetItems);
  EXPECT_EQ(many.partition_key, "user/1");
  EXPECT_EQ(many.query["limit"], "5");
  EXPECT_EQ(many.query["consistency"], "replica");
  auto one = route("GET", "/items/a+b/%E2%9C%93");
  EXPECT_EQ(one.kind, Route::Kind::GetItem);
  EXPECT_EQ(one.partition_key, "a+b");  // '+' is literal in a path
  EXPECT_EQ(one.range_key, "\xE2\x9C\x93");
  EXPECT_EQ(route("DELETE", "/items/x").kind, Route::Kind::DeleteItems);
  EXPECT_EQ(route("DELETE", "/items/batch").kind, Route::Kind::DeleteItems);  // a key named batch
  EXPECT_EQ(route("GET", "/items/batch").kind, Route::Kind::GetItems);
  EXPECT_EQ(route("DELETE", "/items/x/y").kind, Route::Kind::DeleteItem);
  EXPECT_EQ(route("GET", "/cluster/topology").kind, Route::Kind::Topology);
  EXPECT_EQ(route("GET", "/cluster/resize").kind, Route::Kind::Resize);
  EXPECT_EQ(route("GET", "/health/").kind, Route::Kind::Health);
  EXPECT_EQ(route("GET", "/").kind, Route::Kind::Dashboard);
  auto admin = route("POST", "/admin/partitions/7/failover");
  EXPECT_EQ(admin.kind, Route::Kind::Admin);
  EXPECT_EQ(admin.partition_key, "7");
  EXPECT_EQ(admin.range_key, "failover");
  auto check = route("GET", "/admin/partitions/7/validate");
  EXPECT_EQ(check.kind, Route::Kind::AdminRead);
  EXPECT_EQ(check.range_key, "validate");
  EXPECT_EQ(error("PUT", "/admin/partitions/7/failover").status, 405);
  auto drain = route("POST", "/cluster/drain/node-2");
  EXPECT_EQ(drain.kind, Route::Kind::Drain);
  EXPECT_EQ(drain.partition_key, "node-2");
  EXPECT_EQ(error("GET", "/cluster/drain/node-2").status, 405);
  EXPECT_EQ(error("POST", "/cluster/drain").status, 404);
}

TEST(RouteTest, RefusesUnknownPathsMethodsAndBadEncodings) {
  EXPECT_EQ(error("GET", "/nope").status, 404);
  EXPECT_EQ(error("GET", "/items/a/b/c").status, 404);
  EXPECT_EQ(error("PATCH", "/items").status, 405);
  EXPECT_EQ(error("POST", "/health").status, 405);
  EXPECT_EQ(error("GET", "/items/%zz").code, "bad_path");
  EXPECT_EQ(error("GET", "/items/%4").code, "bad_path");
  EXPECT_EQ(error("GET", "/items/%C3%28").code, "invalid_utf8");
  EXPECT_EQ(error("GET", "/items/a?limit=%").code, "bad_query");
  EXPECT_EQ(error("GET", "items").code, "bad_target");
}

TEST(RouteTest, NumbersInPathsAndQueriesAreWholeDecimalsOrRefused) {
  EXPECT_EQ(parse_u64("42"), 42u);
  EXPECT_EQ(parse_u64("18446744073709551615"), UINT64_MAX);
  for (const char* bad : {"", "-1", "+1", " 1", "1x", "18446744073709551616"}) {
    EXPECT_FALSE(parse_u64(bad)) << bad;
  }
  uint64_t v = 7;
  EXPECT_TRUE(query_u64(route("GET", "/items/a"), "limit", &v));
  EXPECT_EQ(v, 7u);  // absent: unchanged
  EXPECT_TRUE(query_u64(route("GET", "/items/a?limit=5"), "limit", &v));
  EXPECT_EQ(v, 5u);
  EXPECT_FALSE(query_u64(route("GET", "/items/a?limit=five"), "limit", &v));
}

TEST(RouteTest, PercentEncodingRoundTrips) {
  const std::string key = "a b/c?d%e\xE2\x9C\x93";
  EXPECT_EQ(percent_decode(percent_encode(key)), key);
  EXPECT_TRUE(is_valid_utf8("plain \xE2\x9C\x93"));
  EXPECT_FALSE(is_valid_utf8("\xff"));
}

TEST(ItemRequestsTest, ParsesAValidItemWithAndWithoutRangeKey) {
  Limits limits;
  auto a = parse_item_write(R"({"partition_key":"u","message":"m"})", limits);
  ASSERT_TRUE(std::holds_alternative<ItemWrite>(a));
  EXPECT_EQ(std::get<ItemWrite>(a), (ItemWrite{"u", "", "m"}));
  auto b = parse_item_write(R"({"partition_key":"u","range_key":"r","message":""})", limits);
  EXPECT_EQ(std::get<ItemWrite>(b), (ItemWrite{"u", "r", ""}));
}

TEST(ItemRequestsTest, RejectsEachKindOfBadItemWithItsCode) {
  Limits limits;
  limits.max_key_bytes = 8;
  limits.max_message_bytes = 4;
  auto code = [&](const std::string& body) {
    auto r = parse_item_write(body, limits);
    return std::holds_alternative<WebError>(r) ? std::get<WebError>(r).code : "accepted";
  };
  EXPECT_EQ(code("{"), "malformed_json");
  EXPECT_EQ(code(""), "empty_body");
  EXPECT_EQ(code("\"str\""), "bad_item");
  EXPECT_EQ(code(R"({"partition_key":"u"})"), "missing_field");
  EXPECT_EQ(code(R"({"partition_key":1,"message":"m"})"), "wrong_type");
  EXPECT_EQ(code(R"({"partition_key":"u","message":"m","extra":"x"})"), "unknown_field");
  EXPECT_EQ(code(R"({"partition_key":"","message":"m"})"), "empty_key");
  EXPECT_EQ(code(R"({"partition_key":"123456789","message":"m"})"), "too_large");
  EXPECT_EQ(code(R"({"partition_key":"u","message":"12345"})"), "too_large");
  EXPECT_EQ(code("{\"partition_key\":\"\xc3\x28\",\"message\":\"m\"}"), "malformed_json");
}

TEST(ItemRequestsTest, ABatchIsAllValidOrRefusedWhole) {
  Limits limits;
  limits.max_batch_items = 3;
  auto ok = parse_batch(R"({"items":[{"partition_key":"a","message":"1"},
                                     {"partition_key":"b","message":"2"}]})",
                        limits);
  ASSERT_TRUE(std::holds_alternative<std::vector<ItemWrite>>(ok));
  EXPECT_EQ(std::get<std::vector<ItemWrite>>(ok).size(), 2u);
  auto bad =
      parse_batch(R"({"items":[{"partition_key":"a","message":"1"},{"message":"2"}]})", limits);
  ASSERT_TRUE(std::holds_alternative<WebError>(bad));
  EXPECT_NE(std::get<WebError>(bad).message.find("items[1]"), std::string::npos);
  auto big = parse_batch(R"({"items":[{"partition_key":"a","message":"1"},
      {"partition_key":"a","message":"1"},{"partition_key":"a","message":"1"},
      {"partition_key":"a","message":"1"}]})",
                         limits);
  EXPECT_EQ(std::get<WebError>(big).status, 413);
  EXPECT_EQ(std::get<WebError>(parse_batch(R"({"items":[]})", limits)).code, "empty_batch");
  EXPECT_EQ(std::get<WebError>(parse_batch(R"({"item":[]})", limits)).code, "bad_batch");
}

TEST(WebErrorTest, OneShapeWithTheRightStatuses) {
  EXPECT_EQ(to_json(WebError::bad_request("c", "m")), R"({"error":{"code":"c","message":"m"}})");
  EXPECT_EQ(WebError::partition_locked(3).status, 503);
  EXPECT_GT(WebError::partition_locked(3).retry_after_s, 0);
  EXPECT_EQ(WebError::timeout("t", "m").status, 504);
  EXPECT_EQ(WebError::too_large("m").status, 413);
  EXPECT_EQ(to_json(WebError::internal("bad \xff byte")).find("\xff"), std::string::npos);
}

}  // namespace
}  // namespace partid::api
