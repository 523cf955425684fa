// Under --config=tsan (tools/tsan.sh): data handed between threads only through Abseil's
// synchronization draws no report, which it does without absl_sync_annotations.cc. (A real race
// is still reported: tools/tsan.sh's README section says how that was checked.)
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

namespace {

TEST(AbslSyncAnnotations, MutexAwaitCondVarNotificationAndBlockingCounterOrderPlainData) {
  absl::Mutex mu;
  absl::CondVar cv;
  int counter = 0;  // guarded by mu
  int handed_over = 0;
  absl::Notification ready;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        absl::MutexLock lock(&mu);
        ++counter;
        cv.SignalAll();
      }
    });
  }
  std::thread producer([&] {
    handed_over = 42;  // plain write, published by Notify
    ready.Notify();
  });
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](int* c) { return *c >= 1000; }, &counter));
    while (counter < 2000) cv.Wait(&mu);
  }
  ready.WaitForNotification();
  EXPECT_EQ(handed_over, 42);
  for (auto& t : threads) t.join();
  producer.join();
  EXPECT_EQ(counter, 2000);

  int results[3] = {};
  absl::BlockingCounter done(3);
  std::vector<std::thread> workers;
  for (int i = 0; i < 3; ++i) {
    workers.emplace_back([&, i] {
      results[i] = i + 1;
      done.DecrementCount();
    });
  }
  done.Wait();
  EXPECT_EQ(results[0] + results[1] + results[2], 6);
  for (auto& t : workers) t.join();
}

}  // namespace
