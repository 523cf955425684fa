#include "crypto/locked_buffer.h"

#include <gtest/gtest.h>

#include <utility>

namespace crypto {
namespace {

TEST(LockedBuffer, AllocatesZeroedLockedMemoryAndMoves) {
  absl::StatusOr<LockedBuffer> b = LockedBuffer::Allocate(32);
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(b->size(), 32u);
  for (uint8_t x : b->view()) EXPECT_EQ(x, 0);
  b->data()[0] = 0xab;
  LockedBuffer moved = std::move(*b);
  EXPECT_TRUE(b->empty());
  EXPECT_EQ(moved.data()[0], 0xab);
  moved.Release();
  EXPECT_TRUE(moved.empty());
  moved.Release();  // idempotent
}

TEST(LockedBuffer, RejectsBadSizes) {
  EXPECT_FALSE(LockedBuffer::Allocate(0).ok());
  EXPECT_FALSE(LockedBuffer::Allocate(size_t{2} << 20).ok());
}

}  // namespace
}  // namespace crypto
