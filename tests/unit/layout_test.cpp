// Linear hashing (routing/layout.h) and the layout record: which keys a split
// moves, and how the record goes through a split's phases.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "partid/routing/layout.h"

namespace partid::routing {
namespace {

std::string key(int i) { return "key-" + std::to_string(i); }

TEST(LayoutTest, AnUnsplitLayoutIsTheHashModuloTheCount) {
  for (uint32_t count : {1u, 3u, 7u, 256u}) {
    const Layout layout = Layout::unsplit(count);
    ASSERT_TRUE(layout.valid());
    for (int i = 0; i < 2000; ++i) {
      ASSERT_EQ(layout.partition_of(key(i)), key_hash(key(i)) % count) << count;
    }
  }
}

TEST(LayoutTest, ASplitMovesOnlyKeysOfItsSourceAndOnlyToItsTarget) {
  // From 3 partitions through two doublings of the base: 3 -> 12.
  Layout layout = Layout::unsplit(3);
  while (layout.count < 12) {
    const uint32_t source = layout.next_split_source();
    const uint32_t target = layout.next_split_target();
    const Layout after = layout.after_split();
    ASSERT_TRUE(after.valid());
    ASSERT_EQ(after.count, layout.count + 1);
    int moved = 0, stayed_in_source = 0;
    for (int i = 0; i < 5000; ++i) {
      const uint32_t before = layout.partition_of(key(i));
      const uint32_t now = after.partition_of(key(i));
      ASSERT_LT(now, after.count);
      if (before == now) {
        stayed_in_source += before == source;
        continue;
      }
      ASSERT_EQ(before, source) << "count " << layout.count << ", key " << i;
      ASSERT_EQ(now, target) << "count " << layout.count << ", key " << i;
      ++moved;
    }
    // About half of the source moves (hash bits are even).
    EXPECT_GT(moved, stayed_in_source / 2) << layout.count;
    EXPECT_GT(stayed_in_source, moved / 2) << layout.count;
    layout = after;
  }
  EXPECT_EQ(layout, (Layout{12, 12}));  // the base doubled twice: 3 -> 6 -> 12
  EXPECT_EQ(layout.after_split(), (Layout{12, 13}));
}

TEST(LayoutTest, TheBaseDoublesOnceEveryPartitionOfItHasSplit) {
  Layout layout = Layout::unsplit(4);
  for (int i = 0; i < 4; ++i) layout = layout.after_split();
  EXPECT_EQ(layout, (Layout{8, 8}));
  // A layout that has doubled routes like an unsplit one of its count.
  for (int i = 0; i < 2000; ++i) {
    ASSERT_EQ(layout.partition_of(key(i)), Layout::unsplit(8).partition_of(key(i)));
  }
}

TEST(LayoutTest, ARecordGoesThroughASplitsPhasesAndRefusesASecondOne) {
  LayoutRecord record{Layout::unsplit(4), {}, {}, 0};
  EXPECT_EQ(record.partitions(), 4u);
  std::string why;
  auto begun = record.begin_split(&why);
  ASSERT_TRUE(begun);
  ASSERT_TRUE(begun->split);
  EXPECT_EQ(begun->split->source, 0u);
  EXPECT_EQ(begun->split->target, 4u);
  EXPECT_EQ(begun->partitions(), 4u);  // freezing: the target does not exist yet
  EXPECT_FALSE(begun->begin_split(&why));
  EXPECT_NE(why.find("split of partition 0 into 4"), std::string::npos) << why;
  begun->split->phase = SplitPlan::Phase::Copying;
  begun->starts[4] = 77;
  EXPECT_EQ(begun->partitions(), 5u);  // copying: the target exists, routing is unchanged
  EXPECT_EQ(begun->layout.count, 4u);
  EXPECT_EQ(begun->start_of(4), 77u);
  EXPECT_EQ(begun->start_of(1), 0u);
}

TEST(LayoutTest, ARecordRoundTripsThroughItsJsonAndGarbageIsRefused) {
  LayoutRecord record{Layout{4, 6}, SplitPlan{2, 6, SplitPlan::Phase::Copying, 123}, {}, 0};
  record.starts = {{4, 10}, {5, 20}, {6, 123}};
  auto back = decode_layout_record(encode_layout_record(record));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, record);
  LayoutRecord plain{Layout::unsplit(3), {}, {}, 0};
  EXPECT_EQ(decode_layout_record(encode_layout_record(plain)), plain);
  LayoutRecord merging{Layout{4, 5}, SplitPlan{4, 0, SplitPlan::Phase::Freezing, 0}, {}, 0};
  merging.split->kind = SplitPlan::Kind::Merge;
  merging.seal_floors = {{4, 31}};
  merging.peak = 9;
  EXPECT_EQ(decode_layout_record(encode_layout_record(merging)), merging);
  EXPECT_FALSE(decode_layout_record("{"));
  EXPECT_FALSE(decode_layout_record(R"({"base":4,"count":9,"starts":{}})"));  // not a layout
  EXPECT_FALSE(decode_layout_record(
      R"({"base":4,"count":4,"starts":{},"split":{"source":0,"target":4,"phase":"x","start":0}})"));
}

TEST(LayoutTest, AMergeUndoesTheLastSplitAndMovesOnlyTheLastPartitionsKeys) {
  // Down from 12 partitions (over base 12) to 3, through two halvings.
  Layout layout{12, 12};
  while (layout.count > 3) {
    ASSERT_TRUE(layout.can_merge()) << layout.count;
    const uint32_t source = layout.next_merge_source();
    const uint32_t target = layout.next_merge_target();
    const Layout after = layout.after_merge();
    ASSERT_TRUE(after.valid());
    ASSERT_EQ(after.after_split(), layout);  // exactly the split it undoes
    ASSERT_EQ(source, after.next_split_target());
    ASSERT_EQ(target, after.next_split_source());
    for (int i = 0; i < 3000; ++i) {
      const uint32_t before = layout.partition_of(key(i));
      const uint32_t now = after.partition_of(key(i));
      if (before != source) {
        ASSERT_EQ(now, before) << "count " << layout.count << ", key " << i;
      } else {
        ASSERT_EQ(now, target) << "count " << layout.count << ", key " << i;
      }
    }
    layout = after;
  }
  EXPECT_EQ(layout, (Layout{3, 3}));
  EXPECT_FALSE(layout.can_merge());  // odd and unsplit: no base to halve
  EXPECT_TRUE((Layout{2, 2}).can_merge());
  EXPECT_EQ((Layout{2, 2}).after_merge(), (Layout{1, 1}));
}

TEST(LayoutTest, APartitionThatMergedAwayIsOwnedByThePartitionThatHoldsItsKeys) {
  const Layout layout{4, 6};
  for (uint32_t p = 0; p < 6; ++p) EXPECT_EQ(layout.owner_of(p), p);
  EXPECT_EQ(layout.owner_of(6), 2u);   // merged into 2 (the split 2 -> 6 undone)
  EXPECT_EQ(layout.owner_of(7), 3u);   // and 7 into 3
  EXPECT_EQ(layout.owner_of(14), 2u);  // 14 had merged into 6, which merged into 2
  // Every key of a partition that is gone is where its owner says.
  const Layout bigger{8, 15};
  for (int i = 0; i < 3000; ++i) {
    EXPECT_EQ(layout.owner_of(bigger.partition_of(key(i))), layout.partition_of(key(i))) << i;
  }
}

TEST(LayoutTest, ARecordGoesThroughAMergesPhasesAndRefusesWhatCannotMerge) {
  LayoutRecord record{Layout{4, 5}, {}, {{4, 90}}, 0};
  std::string why;
  auto begun = record.begin_merge(&why);
  ASSERT_TRUE(begun) << why;
  ASSERT_TRUE(begun->split);
  EXPECT_TRUE(begun->split->merge());
  EXPECT_EQ(begun->split->source, 4u);
  EXPECT_EQ(begun->split->target, 0u);
  EXPECT_EQ(begun->partitions(), 5u);
  EXPECT_FALSE(begun->begin_split(&why));
  EXPECT_NE(why.find("merge of partition 4 into 0"), std::string::npos) << why;
  EXPECT_FALSE(begun->begin_merge(&why));
  begun->split->phase = SplitPlan::Phase::Copying;
  begun->finish_copy();
  EXPECT_EQ(begun->split->phase, SplitPlan::Phase::Cleaning);
  EXPECT_EQ(begun->layout, (Layout{4, 4}));
  EXPECT_EQ(begun->peak, 5u);
  EXPECT_EQ(begun->owner_of(4), 0u);   // merged into 0
  EXPECT_EQ(begun->owner_of(5), 5u);   // never existed
  EXPECT_EQ(begun->partitions(), 5u);  // cleaning: the source is still there
  begun->split.reset();
  EXPECT_EQ(begun->partitions(), 4u);
  EXPECT_FALSE((LayoutRecord{Layout::unsplit(3), {}, {}, 0}).begin_merge(&why));
  EXPECT_NE(why.find("even"), std::string::npos) << why;
  EXPECT_FALSE((LayoutRecord{Layout::unsplit(1), {}, {}, 0}).begin_merge(&why));
  EXPECT_TRUE((LayoutRecord{Layout::unsplit(4), {}, {}, 0}).begin_merge(&why));
}

}  // namespace
}  // namespace partid::routing
