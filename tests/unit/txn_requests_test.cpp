// The JSON of transactions (api/txn_requests.h): what is accepted, what is
// refused with which code, and the transaction id.
#include <gtest/gtest.h>

#include "partid/api/txn_requests.h"
#include "partid/storage/txn_space.h"

namespace partid::api {
namespace {

std::string code_of(const std::variant<TxnRequest, WebError>& r) {
  const auto* e = std::get_if<WebError>(&r);
  return e ? e->code : "";
}

TEST(TxnRequests, ATransactionOfWritesAndDeletesParses) {
  auto r = parse_txn(R"({"writes":[{"partition_key":"a","range_key":"1","message":"x"},)"
                     R"({"partition_key":"b","delete":true,"if_sequence":7},)"
                     R"({"partition_key":"c","message":"y","if_sequence":0}]})",
                     {});
  ASSERT_TRUE(std::holds_alternative<TxnRequest>(r));
  const auto& w = std::get<TxnRequest>(r).writes;
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0], (storage::TxnWrite{"a", "1", "x", false}));
  EXPECT_EQ(w[1], (storage::TxnWrite{"b", "", "", true, 7}));
  EXPECT_EQ(w[2], (storage::TxnWrite{"c", "", "y", false, 0}));
  EXPECT_FALSE(std::get<TxnRequest>(r).retry_deadline_ms);
}

TEST(TxnRequests, ARetryTakesTheDeadlineOfTheAttemptItNames) {
  const std::string earlier = storage::make_txn_id(1234567, 3, 42);
  auto r = parse_txn(
      R"({"retry_of":")" + earlier + R"(","writes":[{"partition_key":"a","message":"x"}]})", {});
  ASSERT_TRUE(std::holds_alternative<TxnRequest>(r)) << code_of(r);
  EXPECT_EQ(std::get<TxnRequest>(r).retry_deadline_ms, 1234567u);
  EXPECT_EQ(std::get<TxnRequest>(r).writes.size(), 1u);
}

TEST(TxnRequests, BadTransactionsAreRefusedWithTheirCode) {
  const Limits limits{
      .max_body_bytes = 4096, .max_key_bytes = 8, .max_message_bytes = 16, .max_batch_items = 2};
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty_body"},
      {"{", "malformed_json"},
      {"[]", "bad_txn"},
      {R"({"writes":[]})", "bad_txn"},
      {R"({"writes":{}})", "bad_txn"},
      {R"({"writes":[{"partition_key":"a","message":"x"}],"more":1})", "bad_txn"},
      {R"({"writes":[1]})", "bad_item"},
      {R"({"writes":[{"message":"x"}]})", "missing_field"},
      {R"({"writes":[{"partition_key":"a"}]})", "bad_item"},
      {R"({"writes":[{"partition_key":"a","message":"x","delete":true}]})", "bad_item"},
      {R"({"writes":[{"partition_key":"a","delete":"yes"}]})", "wrong_type"},
      {R"({"writes":[{"partition_key":1,"message":"x"}]})", "wrong_type"},
      {R"({"writes":[{"partition_key":"a","message":"x","ttl":3}]})", "unknown_field"},
      {R"({"writes":[{"partition_key":"a","message":"x","if_sequence":-1}]})", "wrong_type"},
      {R"({"writes":[{"partition_key":"a","message":"x","if_sequence":"3"}]})", "wrong_type"},
      {R"({"writes":[{"partition_key":"a","message":"x","if_sequence":1.5}]})", "wrong_type"},
      {R"({"writes":[{"partition_key":"","message":"x"}]})", "empty_key"},
      {R"({"writes":[{"partition_key":"\u0000t","message":"x"}]})", "reserved_key"},
      {R"({"writes":[{"partition_key":"123456789","message":"x"}]})", "too_large"},
      {R"({"writes":[{"partition_key":"a","message":"12345678901234567"}]})", "too_large"},
      {R"({"writes":[{"partition_key":"a","message":"x"},{"partition_key":"a","delete":true}]})",
       "duplicate_item"},
      {R"({"writes":[{"partition_key":"a","message":"x"},{"partition_key":"b","message":"x"},)"
       R"({"partition_key":"c","message":"x"}]})",
       "too_large"},
      {std::string(5000, ' '), "too_large"},
      {R"({"retry_of":"3-00000000000004d2","writes":[{"partition_key":"a","message":"x"}]})",
       "bad_retry_of"},  // an id without a deadline names no attempt of today's nodes
      {R"({"retry_of":7,"writes":[{"partition_key":"a","message":"x"}]})", "bad_retry_of"},
      {R"({"retry_of":"nonsense","writes":[{"partition_key":"a","message":"x"}]})", "bad_retry_of"},
      {R"({"retry_of":"nonsense"})", "bad_txn"},
  };
  for (const auto& [body, code] : cases) {
    EXPECT_EQ(code_of(parse_txn(body, limits)), code) << body;
  }
}

TEST(TxnRequests, StepBodiesRoundTrip) {
  const std::vector<storage::TxnWrite> writes = {
      {"a", "1", "x", false}, {"b", "", "", true, 0}, {"c", "", "z", false, 12}};
  auto prepare = parse_txn_step("prepare", txn_prepare_body(7, writes), {});
  ASSERT_TRUE(std::holds_alternative<TxnStepBody>(prepare));
  EXPECT_EQ(std::get<TxnStepBody>(prepare).home, 7u);
  EXPECT_EQ(std::get<TxnStepBody>(prepare).writes, writes);
  auto decide = parse_txn_step("decide", txn_outcome_body(true), {});
  ASSERT_TRUE(std::holds_alternative<TxnStepBody>(decide));
  EXPECT_TRUE(std::get<TxnStepBody>(decide).commit);
  EXPECT_TRUE(std::holds_alternative<WebError>(parse_txn_step("resolve", "{}", {})));
  EXPECT_TRUE(std::holds_alternative<WebError>(parse_txn_step("prepare", R"({"home":-1})", {})));
}

TEST(TxnRequests, AnIdNamesItsDeadlineAndHomePartitionAndSortsByDeadline) {
  const std::string id = storage::make_txn_id(0x19a2b3c4d5e, 42, 0xabcdef);
  EXPECT_EQ(id, "019a2b3c4d5e-42-0000000000abcdef");
  auto parsed = storage::parse_txn_id(id);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->home, 42u);
  EXPECT_EQ(parsed->deadline_ms, 0x19a2b3c4d5eu);
  EXPECT_LT(storage::make_txn_id(999, 7, 0xffff), storage::make_txn_id(1000, 0, 0));
  // An id made before deadlines: a home and no deadline.
  auto old = storage::parse_txn_id("42-0000000000abcdef");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->home, 42u);
  EXPECT_FALSE(old->deadline_ms);
  for (const char* bad :
       {"", "42", "42-", "x-0000000000abcdef", "42-0000000000ABCDEF", "42-0000000000abcde",
        "-0000000000abcdef", "99999999999-0000000000abcdef", "+4-0000000000abcdef",
        "19a2b3c4d5e-42-0000000000abcdef", "019a2b3c4d5e--0000000000abcdef",
        "019A2B3C4D5E-42-0000000000abcdef", "019a2b3c4d5e-x-0000000000abcdef",
        "0-019a2b3c4d5e-42-0000000000abcdef"}) {
    EXPECT_FALSE(storage::parse_txn_id(bad)) << bad;
  }
}

TEST(TxnRequests, TheWaitDieOrderPutsTheEarlierDeadlineFirstAndIsTotal) {
  const std::string early = storage::make_txn_id(1000, 9, 0xffff);
  const std::string late = storage::make_txn_id(2000, 0, 0);
  const std::string late_too = storage::make_txn_id(2000, 0, 1);
  const std::string undated = "3-0000000000000001";  // made before deadlines
  EXPECT_TRUE(storage::txn_older(early, late));
  EXPECT_FALSE(storage::txn_older(late, early));
  // One deadline: the lower id first, so two transactions never both wait.
  EXPECT_TRUE(storage::txn_older(late, late_too));
  EXPECT_FALSE(storage::txn_older(late_too, late));
  EXPECT_FALSE(storage::txn_older(late, late));
  // Without a deadline: before every dated one.
  EXPECT_TRUE(storage::txn_older(undated, early));
  EXPECT_FALSE(storage::txn_older(early, undated));
  // A malformed id goes after every well-formed one.
  EXPECT_TRUE(storage::txn_older(late, "garbage"));
  EXPECT_FALSE(storage::txn_older("garbage", undated));
  EXPECT_FALSE(storage::txn_older("garbage", "rubbish"));
}

}  // namespace
}  // namespace partid::api
