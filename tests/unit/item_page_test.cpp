// A page of a partition key's items: the lookahead, the cursor, a
// transaction's view laid over what storage read, and its JSON.
#include "partid/api/item_page.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "partid/api/json_out.h"

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
  EXPECT_EQ(full.next, "c") << "the next page reads below the last item shown";
  const auto last = take_page(items({"b", "a"}), 2);
  EXPECT_EQ(range_keys(last), (std::vector<std::string>{"b", "a"}));
  EXPECT_FALSE(last.next) << "exactly the limit and nothing past it: the last page";
}

std::vector<storage::Item> many(size_t n, size_t message_bytes = 1) {
  std::vector<storage::Item> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(item(std::to_string(i), std::string(message_bytes, 'm')));
  return out;
}

TEST(ItemPageTest, APageOfManyItemsOrManyBytesIsNotAnsweredOnTheLoop) {
  EXPECT_TRUE(answered_inline(many(100)));
  EXPECT_TRUE(answered_inline(many(kInlineAnswerItems)));
  EXPECT_FALSE(answered_inline(many(kInlineAnswerItems + 1))) << "small items, too many";
  EXPECT_FALSE(answered_inline(many(2, kInlineAnswerBytes))) << "few items, too many bytes";
}

TEST(ItemPageTest, TheHeadReadOnTheLoopIsWholeOnlyWhenItStoppedShortOfItsBounds) {
  const storage::ItemPage page{.limit = 10001, .max_bytes = size_t{1} << 28, .below = "z"};
  const storage::ItemPage head = inline_head(page);
  EXPECT_EQ(head.limit, kInlineAnswerItems + 1);
  EXPECT_EQ(head.max_bytes, kInlineAnswerBytes);
  EXPECT_EQ(head.below, page.below);
  EXPECT_TRUE(head_is_whole(many(40), head, page)) << "the key had fewer items";
  EXPECT_FALSE(head_is_whole(many(head.limit), head, page)) << "stopped at the head's limit";
  EXPECT_FALSE(head_is_whole(many(3, kInlineAnswerBytes / 2), head, page))
      << "stopped past the head's bytes";
  const storage::ItemPage small{.limit = 101, .max_bytes = size_t{1} << 28, .below = {}};
  EXPECT_EQ(inline_head(small).limit, 101u) << "a default page is read whole on the loop";
  EXPECT_TRUE(head_is_whole(many(101), inline_head(small), small))
      << "its limit is the page's: the lookahead item is all it needs";
}

TEST(ItemPageTest, APageEndsBeforeTheItemThatPassesItsBytes) {
  // Each item: a 1-byte range key and a 4-byte message.
  std::vector<storage::Item> read = {item("d", "1234"), item("c", "1234"), item("b", "1234")};
  ItemListing page = take_page(read, 10);
  ASSERT_TRUE(fit_to_bytes(&page, 12));
  EXPECT_EQ(range_keys(page), (std::vector<std::string>{"d", "c"}));
  EXPECT_EQ(page.next, "c");
  ItemListing all = take_page(read, 10);
  ASSERT_TRUE(fit_to_bytes(&all, 15));
  EXPECT_EQ(all.items.size(), 3u);
  EXPECT_FALSE(all.next) << "everything fits";
  ItemListing none = take_page(read, 10);
  EXPECT_FALSE(fit_to_bytes(&none, 4)) << "not even the first item fits";
  EXPECT_EQ(none.items.size(), 3u);
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
  const auto page = overlay_page({items({"d", "c", "b", "a"}), std::nullopt}, view, 10);
  EXPECT_EQ(range_keys(page), (std::vector<std::string>{"e", "d", "c", "a"}));
  EXPECT_EQ(page.items[2].message, "txn");
  EXPECT_FALSE(page.next);
}

// Storage left items below "c" unread: an item the view adds below them
// waits for the page that reads them, and the page says to read on from
// "c", even when the view removed "c" itself or the page is short.
TEST(ItemPageTest, APageNeverEndsAboveAStoredItemLeftUnread) {
  const TxnView view{{"e", std::nullopt}, {"a", item("a", "txn")}};
  const auto full = overlay_page({items({"f", "e", "d", "c"}), "c"}, view, 2);
  EXPECT_EQ(range_keys(full), (std::vector<std::string>{"f", "d"}));
  EXPECT_EQ(full.next, "d");
  const auto short_page = overlay_page({items({"f", "e", "d", "c"}), "c"}, view, 5);
  EXPECT_EQ(range_keys(short_page), (std::vector<std::string>{"f", "d", "c"}));
  EXPECT_EQ(short_page.next, "c");
  const TxnView removes_c{{"c", std::nullopt}};
  const auto gone = overlay_page({items({"d", "c"}), "c"}, removes_c, 5);
  EXPECT_EQ(range_keys(gone), (std::vector<std::string>{"d"}));
  EXPECT_EQ(gone.next, "c") << "below c is still unread";
}

// What page_json replaced: the same object built as an nlohmann tree.
std::string page_as_tree(const std::string& pk, uint32_t p, const ItemListing& page) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& i : page.items) {
    list.push_back({{"range_key", i.range_key},
                    {"message", i.message},
                    {"sequence", i.version.sequence},
                    {"hlc", i.version.hlc}});
  }
  nlohmann::json out = {{"partition_key", pk}, {"partition", p}};
  if (page.next) out["next"] = *page.next;
  out["items"] = std::move(list);
  return dump(out);
}

TEST(ItemPageTest, APageIsWrittenAsDumpWouldWriteItsTree) {
  ItemListing page;
  page.items = {item("r\"2\"", "line\nbreak \\ and \x01"), item("r1", "bad \xff utf-8")};
  page.items[0].version = {.hlc = 77, .sequence = 9, .epoch = 3};
  page.items[1].version = {.hlc = 76, .sequence = 8, .epoch = 3};
  EXPECT_EQ(page_json("k\xc3\xa9", 5, page), page_as_tree("k\xc3\xa9", 5, page));
  page.next = "r1";
  EXPECT_EQ(page_json("k", 5, page), page_as_tree("k", 5, page));
  EXPECT_EQ(page_json("k", 0, ItemListing{}), page_as_tree("k", 0, ItemListing{}));
  EXPECT_EQ(nlohmann::json::parse(page_json("k", 5, page))["items"][0]["message"],
            "line\nbreak \\ and \x01");
}

}  // namespace
}  // namespace partid::api
