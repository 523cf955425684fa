#include "signer/equivocation/slot_locks.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"

namespace signer::equivocation {
namespace {

SlotKey Key(uint64_t nonce) { return SlotKey{31337, chain::Address(), nonce}; }

TEST(SlotLocksTest, AFreeSlotIsHeldAtOnceOnTheCallersThread) {
  SlotLocks locks;
  std::thread::id ran_on;
  std::shared_ptr<Slot> held;
  locks.Acquire(Key(1), [&](std::shared_ptr<Slot> slot) {
    ran_on = std::this_thread::get_id();
    held = std::move(slot);
  });
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_EQ(held->key(), Key(1));
}

TEST(SlotLocksTest, WaitersQueueWithoutBlockingAndGetTheSlotInArrivalOrder) {
  SlotLocks locks;
  std::shared_ptr<Slot> first;
  locks.Acquire(Key(7), [&](std::shared_ptr<Slot> slot) { first = std::move(slot); });
  ASSERT_NE(first, nullptr);

  constexpr int kWaiters = 50;
  std::mutex mu;
  std::vector<int> order;
  std::vector<std::thread::id> threads;
  std::atomic<int> holding{0};
  std::atomic<bool> overlapped{false};
  absl::Notification all_done;
  for (int i = 0; i < kWaiters; ++i) {
    // Returns at once although the slot is held: the waiter holds no thread.
    locks.Acquire(Key(7), [&, i](std::shared_ptr<Slot> slot) {
      if (holding.fetch_add(1) != 0) overlapped = true;
      {
        std::lock_guard<std::mutex> lock(mu);
        order.push_back(i);
        threads.push_back(std::this_thread::get_id());
      }
      holding.fetch_sub(1);
      const bool last = i == kWaiters - 1;
      slot.reset();  // the next waiter gets it
      if (last) all_done.Notify();
    });
  }
  EXPECT_EQ(locks.waiting(), static_cast<size_t>(kWaiters));
  // Another slot is not affected.
  bool other = false;
  locks.Acquire(Key(8), [&](std::shared_ptr<Slot>) { other = true; });
  EXPECT_TRUE(other);
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_TRUE(order.empty()) << "nobody runs while the slot is held";
  }

  first.reset();
  ASSERT_TRUE(all_done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(order.size(), static_cast<size_t>(kWaiters));
  for (int i = 0; i < kWaiters; ++i) EXPECT_EQ(order[static_cast<size_t>(i)], i) << "FIFO";
  for (std::thread::id t : threads) EXPECT_NE(t, std::this_thread::get_id()) << "on a hand-over thread";
  EXPECT_FALSE(overlapped) << "one holder at a time";
  EXPECT_EQ(locks.waiting(), 0u);
}

TEST(SlotLocksTest, ManyThreadsManySlotsOneHolderAtATime) {
  SlotLocks locks;
  constexpr int kThreads = 8, kPerThread = 200, kSlots = 4;
  std::atomic<int> holders[kSlots] = {};
  std::atomic<int> violations{0}, finished{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int s = (t + i) % kSlots;
        locks.Acquire(Key(static_cast<uint64_t>(s)), [&, s](std::shared_ptr<Slot> /*held until the end*/) {
          if (holders[s].fetch_add(1) != 0) violations.fetch_add(1);
          holders[s].fetch_sub(1);
          finished.fetch_add(1);
        });
      }
    });
  }
  for (auto& t : ts) t.join();
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (finished.load() < kThreads * kPerThread && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(finished.load(), kThreads * kPerThread);
  EXPECT_EQ(violations.load(), 0);
}

TEST(SlotLocksTest, StopHandsEveryWaiterItsSlot) {
  auto locks = std::make_unique<SlotLocks>(1);
  std::shared_ptr<Slot> first;
  locks->Acquire(Key(3), [&](std::shared_ptr<Slot> slot) { first = std::move(slot); });
  std::atomic<int> ran{0};
  for (int i = 0; i < 10; ++i) locks->Acquire(Key(3), [&](std::shared_ptr<Slot>) { ran.fetch_add(1); });
  first.reset();
  locks->Stop();
  EXPECT_EQ(ran.load(), 10) << "every waiter ran exactly once";
  // After Stop, a hand-over runs on the releasing thread.
  locks->Acquire(Key(4), [&](std::shared_ptr<Slot> slot) { first = std::move(slot); });
  std::thread::id ran_on;
  locks->Acquire(Key(4), [&](std::shared_ptr<Slot>) { ran_on = std::this_thread::get_id(); });
  first.reset();
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

}  // namespace
}  // namespace signer::equivocation
