#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "partid/replication/write_pipeline.h"
#include "support/temp_dir.h"

namespace partid::replication {
namespace {

using parti::testing::TempDir;

class WritePipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    store = storage::StoreEngine::open(dir.sub("db"), {.sync = false}, &error);
    ASSERT_TRUE(store) << error;
    pipeline = std::make_unique<WritePipeline>(loop.get_executor(), disk, *store,
                                               PipelineOptions{100, 16, 10});
    runner = std::thread([this] { loop.run(); });
  }
  void TearDown() override {
    guard.reset();
    runner.join();
    disk.join();
  }
  static storage::WriteOp op(uint32_t p, const std::string& key) {
    storage::WriteOp o;
    o.partition = p;
    o.partition_key = key;
    o.message = "m";
    o.version.epoch = 3;
    return o;
  }
  // Submits groups all at once, from the loop, and returns their results.
  std::vector<std::vector<WriteResult>> submit(std::vector<std::vector<storage::WriteOp>> groups) {
    std::vector<std::promise<std::vector<WriteResult>>> promises(groups.size());
    asio::post(loop, [&] {
      for (size_t i = 0; i < groups.size(); ++i) {
        pipeline->submit(std::move(groups[i]),
                         [&, i](std::vector<WriteResult> r) { promises[i].set_value(r); });
      }
    });
    std::vector<std::vector<WriteResult>> out;
    for (auto& p : promises) out.push_back(p.get_future().get());
    return out;
  }
  TempDir dir;
  std::unique_ptr<storage::StoreEngine> store;
  asio::io_context loop;
  asio::executor_work_guard<asio::io_context::executor_type> guard = asio::make_work_guard(loop);
  asio::thread_pool disk{1};
  std::unique_ptr<WritePipeline> pipeline;
  std::thread runner;
};

TEST_F(WritePipelineTest, SequencesAreGaplessPerPartitionAndDurableBeforeTheCallback) {
  std::vector<std::vector<storage::WriteOp>> groups;
  for (int i = 0; i < 40; ++i) groups.push_back({op(i % 2, "k" + std::to_string(i))});
  auto results = submit(groups);
  std::vector<uint64_t> seen[2];
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(results[i][0].ok) << results[i][0].error;
    seen[i % 2].push_back(results[i][0].sequence);
    // Durable and applied when the callback ran.
    EXPECT_TRUE(store->get(i % 2, "k" + std::to_string(i), ""));
  }
  for (auto& s : seen) {
    for (size_t k = 0; k < s.size(); ++k) EXPECT_EQ(s[k], k + 1);
  }
  EXPECT_EQ(store->partition_meta(0).watermark, 20u);
  EXPECT_EQ(store->partition_meta(0).epoch, 3u);
  // Grouped: far fewer commits than writes (16 per batch at most).
  EXPECT_LT(pipeline->commits(), 40u);
  EXPECT_GE(pipeline->commits(), 3u);
}

TEST_F(WritePipelineTest, AFullQueueRefusesTheWholeGroup) {
  std::vector<storage::WriteOp> too_many;
  for (int i = 0; i < 101; ++i) too_many.push_back(op(0, "k"));
  auto results = submit({too_many});
  ASSERT_EQ(results[0].size(), 101u);
  for (const auto& r : results[0]) EXPECT_EQ(r.error, "overloaded");
  EXPECT_EQ(store->partition_meta(0).last_sequence, 0u);
}

TEST_F(WritePipelineTest, RestoreContinuesFromTheStoredSequence) {
  ASSERT_TRUE(submit({{op(5, "a"), op(5, "b")}})[0][1].ok);
  auto fresh = std::make_unique<WritePipeline>(loop.get_executor(), disk, *store);
  std::promise<void> restored;
  asio::post(loop, [&] {
    fresh->restore(store->all_partition_meta());
    restored.set_value();
  });
  restored.get_future().get();
  pipeline = std::move(fresh);
  EXPECT_EQ(submit({{op(5, "c")}})[0][0].sequence, 3u);
}

TEST_F(WritePipelineTest, TheLogIsTrimmedBehindTheWatermarkWithARetentionMargin) {
  for (int round = 0; round < 3; ++round) {
    std::vector<std::vector<storage::WriteOp>> groups;
    for (int i = 0; i < 10; ++i) groups.push_back({op(1, "k" + std::to_string(i))});
    submit(groups);
  }
  // on_committed posts the trim after the callbacks: let the loop finish that
  // handler, then join the pool once idle, so the trim job has run.
  std::promise<void> loop_idle;
  asio::post(loop, [&] { loop_idle.set_value(); });
  loop_idle.get_future().get();
  disk.wait();
  const auto log = store->read_log(1, 0, 1000);
  ASSERT_FALSE(log.empty());
  // Watermark 30, retention 10: everything below 20 is gone, 20..30 is kept.
  EXPECT_EQ(log.front().sequence, 20u);
  EXPECT_EQ(log.back().sequence, 30u);
  EXPECT_EQ(log.size(), 11u);
}

}  // namespace
}  // namespace partid::replication
