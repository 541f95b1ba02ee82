// How a node shares its open-files limit between clients, storage and the
// rest (node/descriptor_budget.h).
#include <gtest/gtest.h>

#include "partid/node/descriptor_budget.h"

namespace partid::node {
namespace {

TEST(DescriptorBudgetTest, ClientsGetHalfTheLimitAndStorageAQuarter) {
  const auto b = budget_descriptors(1024, 0);
  EXPECT_EQ(b.limit, 1024u);
  EXPECT_EQ(b.client_connections, 512u);
  EXPECT_EQ(b.db_files, 256);
  EXPECT_FALSE(b.clients_over_share);
}

TEST(DescriptorBudgetTest, ATinyLimitKeepsFloorsForClientsAndStorage) {
  const auto b = budget_descriptors(20, 0);
  EXPECT_EQ(b.client_connections, 16u);
  EXPECT_EQ(b.db_files, 64);
}

TEST(DescriptorBudgetTest, AConfiguredCapIsKeptAndFlaggedWhenOverHalf) {
  EXPECT_EQ(budget_descriptors(1024, 100).client_connections, 100u);
  EXPECT_FALSE(budget_descriptors(1024, 512).clients_over_share);
  const auto over = budget_descriptors(1024, 513);
  EXPECT_EQ(over.client_connections, 513u);
  EXPECT_TRUE(over.clients_over_share);
  EXPECT_EQ(over.db_files, 256) << "storage keeps its share whatever the client cap";
}

TEST(DescriptorBudgetTest, NoLimitBoundsNothingButAConfiguredCap) {
  const auto none = budget_descriptors(0, 0);
  EXPECT_EQ(none.db_files, -1);
  EXPECT_EQ(none.client_connections, UINT32_MAX);
  EXPECT_EQ(budget_descriptors(0, 300).client_connections, 300u);
  EXPECT_FALSE(budget_descriptors(0, 300).clients_over_share);
}

TEST(DescriptorBudgetTest, AHugeLimitFitsRocksDbsIntOption) {
  const auto b = budget_descriptors(uint64_t{1} << 40, 0);
  EXPECT_EQ(b.db_files, INT32_MAX);
  EXPECT_EQ(b.client_connections, UINT32_MAX);
}

}  // namespace
}  // namespace partid::node
