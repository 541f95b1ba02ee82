// A page of a partition key's items: the lookahead, the cursor, and a
// transaction's view laid over what storage read.
#include "partid/api/item_page.h"

#include <gtest/gtest.h>

namespace partid::api {
namespace {

storage::Item item(std::string rk, std::string message = "stored") {
  storage::Item out;
  out.partition_key = "k";
  out.range_key = std::move(rk);
  out.message = std::move(message);
  return out;
}

std::vector<storage::Item> items(std::initializer_list<const char*> rks) {
  std::vector<storage::Item> out;
  for (const char* rk : rks) out.push_back(item(rk));
  return out;
}

std::vector<std::string> range_keys(const ItemListing& page) {
  std::vector<std::string> out;
  for (const auto& i : page.items) out.push_back(i.range_key);
  return out;
}

TEST(ItemPageTest, TheItemReadPastTheLimitOnlySaysTheListingGoesOn) {
  const auto full = take_page(items({"d", "c", "b"}), 2);
  EXPECT_EQ(range_keys(full), (std::vector<std::string>{"d", "c"}));
  EXPECT_TRUE(full.goes_on);
  const auto last = take_page(items({"b", "a"}), 2);
  EXPECT_EQ(range_keys(last), (std::vector<std::string>{"b", "a"}));
  EXPECT_FALSE(last.goes_on) << "exactly the limit and nothing past it: the last page";
}

TEST(ItemPageTest, APageAfterACursorShowsNoneOfTheViewAtOrAboveIt) {
  TxnView view{{"a", item("a", "txn")}, {"c", std::nullopt}, {"e", item("e", "txn")}};
  keep_below(&view, std::string("c"));
  ASSERT_EQ(view.size(), 1u);
  EXPECT_EQ(view.begin()->first, "a");
  TxnView all = {{"z", std::nullopt}};
  keep_below(&all, std::nullopt);
  EXPECT_EQ(all.size(), 1u) << "no cursor: the whole view stays";
}

TEST(ItemPageTest, TheViewAddsReplacesAndRemovesItemsInOrder) {
  TxnView view{{"c", item("c", "txn")}, {"b", std::nullopt}, {"e", item("e", "txn")}};
  const auto page = overlay_page({items({"d", "c", "b", "a"}), false}, view, 10);
  EXPECT_EQ(range_keys(page), (std::vector<std::string>{"e", "d", "c", "a"}));
  EXPECT_EQ(page.items[2].message, "txn");
  EXPECT_FALSE(page.goes_on);
}

// Storage read limit + view.size() items and more exist: even if the view
// removes as many, the page is full and says it goes on, and an item the view
// adds below what was read stays off it (unread stored items come first).
TEST(ItemPageTest, ACutShortReadKeepsThePageAboveWhatWasNotRead) {
  TxnView view{{"e", std::nullopt}, {"a", item("a", "txn")}};
  const auto removed = overlay_page({items({"f", "e", "d", "c"}), true}, view, 2);
  EXPECT_EQ(range_keys(removed), (std::vector<std::string>{"f", "d"}));
  EXPECT_TRUE(removed.goes_on);
  const TxnView two_deletes{{"e", std::nullopt}, {"d", std::nullopt}};
  const auto exact = overlay_page({items({"f", "e", "d", "c", "b"}), true}, two_deletes, 3);
  EXPECT_EQ(range_keys(exact), (std::vector<std::string>{"f", "c", "b"}));
  EXPECT_TRUE(exact.goes_on) << "exactly the limit left, but storage has more than it read";
}

}  // namespace
}  // namespace partid::api
