// The group commit's threading contract (group_commit.h): one write at a time, a batch's
// callbacks only after its write, on the thread that wrote it, the next batch written while the
// previous one's callbacks still run, and a record enqueued while idle written on the enqueuing
// thread itself.
#include "signer/equivocation/group_commit.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "platform/defer_scope.h"

namespace signer::equivocation {
namespace {

Record RecordAt(uint64_t nonce) {
  Record r;
  r.key.nonce = nonce;
  return r;
}

// Writes that note who wrote what; a write can be held until the test lets it go.
struct Writes {
  std::mutex mu;
  std::vector<std::vector<uint64_t>> batches;  // nonces, per write
  std::vector<std::thread::id> writers;
  std::atomic<int> concurrent{0};
  std::atomic<int> max_concurrent{0};
  absl::Notification* hold_first = nullptr;  // the first write waits for it
  absl::Notification first_started;

  GroupCommit::WriteFn Fn() {
    return [this](const std::vector<GroupCommit::Pending>& batch, std::vector<absl::Status>& results) {
      const int now = ++concurrent;
      int seen = max_concurrent.load();
      while (now > seen && !max_concurrent.compare_exchange_weak(seen, now)) {
      }
      bool first;
      {
        std::lock_guard<std::mutex> lock(mu);
        first = batches.empty();
        std::vector<uint64_t> nonces;
        for (const GroupCommit::Pending& p : batch) nonces.push_back(p.record.key.nonce);
        batches.push_back(nonces);
        writers.push_back(std::this_thread::get_id());
      }
      if (first) first_started.Notify();
      if (first && hold_first != nullptr) hold_first->WaitForNotification();
      for (auto& r : results) r = absl::OkStatus();
      --concurrent;
      return absl::OkStatus();
    };
  }
};

// A batch's callbacks run in one platform::DeferScope (its replies' audit records then share one
// write): what they defer runs after the last of them, before the writer goes on.
TEST(GroupCommitTest, ABatchsCallbacksShareOneDeferScope) {
  Writes w;
  GroupCommit gc(64, w.Fn());
  std::vector<std::string> order;
  {
    GroupCommit::BatchOnThisThread together;
    for (uint64_t n = 0; n < 3; ++n) {
      gc.Enqueue(RecordAt(n), [&, n](absl::Status s) {
        EXPECT_TRUE(s.ok());
        EXPECT_TRUE(platform::DeferScope::Active());
        order.push_back("reply " + std::to_string(n));
        platform::DeferScope::AtEnd([&, n] { order.push_back("deferred " + std::to_string(n)); });
      });
    }
  }  // idle: written here, callbacks and deferred work on this thread
  EXPECT_FALSE(platform::DeferScope::Active());
  EXPECT_EQ(order,
            (std::vector<std::string>{"reply 0", "reply 1", "reply 2", "deferred 0", "deferred 1", "deferred 2"}));
  ASSERT_EQ(w.batches.size(), 1u);
}

TEST(GroupCommitTest, RecordsQueuedDuringACommitShareTheNextOne) {
  Writes w;
  absl::Notification release;
  w.hold_first = &release;
  GroupCommit gc(64, w.Fn());
  std::atomic<int> done{0};
  // Enqueued while idle: written on its enqueuing thread, which the held write blocks.
  std::thread lone([&] {
    gc.Enqueue(RecordAt(0), [&](absl::Status s) {
      EXPECT_TRUE(s.ok());
      ++done;
    });
  });
  w.first_started.WaitForNotification();
  for (uint64_t n = 1; n <= 10; ++n) {
    gc.Enqueue(RecordAt(n), [&](absl::Status s) {
      EXPECT_TRUE(s.ok());
      ++done;
    });
  }
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(done.load(), 0) << "no callback before its write returns";
  release.Notify();
  lone.join();
  gc.Stop();
  EXPECT_EQ(done.load(), 11);
  ASSERT_EQ(w.batches.size(), 2u);
  EXPECT_EQ(w.batches[1].size(), 10u) << "the ten queued meanwhile: one commit";
  EXPECT_EQ(w.max_concurrent.load(), 1) << "never two writes at once";
  EXPECT_EQ(gc.commits(), 2u);
  EXPECT_EQ(gc.records_written(), 11u);
}

TEST(GroupCommitTest, CallbacksRunOnTheThreadThatWroteTheirBatchAfterItsAfterFn) {
  Writes w;
  std::mutex mu;
  std::vector<std::thread::id> after_threads;
  std::vector<std::thread::id> callback_threads;
  std::atomic<bool> after_ran{false};
  GroupCommit gc(4, w.Fn(), [&](const std::vector<GroupCommit::Pending>&) {
    std::lock_guard<std::mutex> lock(mu);
    after_threads.push_back(std::this_thread::get_id());
    after_ran = true;
  });
  for (uint64_t n = 0; n < 40; ++n) {
    gc.Enqueue(RecordAt(n), [&](absl::Status s) {
      EXPECT_TRUE(s.ok());
      EXPECT_TRUE(after_ran.load());
      std::lock_guard<std::mutex> lock(mu);
      callback_threads.push_back(std::this_thread::get_id());
    });
  }
  gc.Stop();
  ASSERT_EQ(callback_threads.size(), 40u);
  // Each callback ran on a thread that wrote a batch; the callbacks of records this thread only
  // queued ran elsewhere (on a committer).
  ASSERT_EQ(after_threads.size(), w.writers.size());
  for (std::thread::id t : callback_threads)
    EXPECT_NE(std::find(w.writers.begin(), w.writers.end(), t), w.writers.end());
  size_t written_here = 0;
  for (size_t i = 0; i < w.writers.size(); ++i) {
    EXPECT_EQ(after_threads[i], w.writers[i]) << "after runs on the thread that wrote";
    if (w.writers[i] == std::this_thread::get_id()) written_here += w.batches[i].size();
  }
  EXPECT_EQ(
      static_cast<size_t>(std::count(callback_threads.begin(), callback_threads.end(), std::this_thread::get_id())),
      written_here);
  for (const auto& b : w.batches) EXPECT_LE(b.size(), 4u) << "max_batch bounds a commit";
}

TEST(GroupCommitTest, TheNextBatchIsWrittenWhileThePreviousBatchsCallbacksRun) {
  Writes w;
  GroupCommit gc(64, w.Fn());
  absl::Notification in_callback, second_written;
  std::thread first([&] {
    gc.Enqueue(RecordAt(0), [&](absl::Status) {
      in_callback.Notify();
      // The record queued now is written (on the thread that enqueues it: nothing else is being
      // written) while this callback still runs.
      EXPECT_TRUE(second_written.WaitForNotificationWithTimeout(absl::Seconds(10)));
    });
  });
  in_callback.WaitForNotification();
  gc.Enqueue(RecordAt(1), [&](absl::Status s) {
    EXPECT_TRUE(s.ok());
    second_written.Notify();
  });
  EXPECT_TRUE(second_written.WaitForNotificationWithTimeout(absl::Seconds(10)));
  first.join();
  gc.Stop();
  ASSERT_EQ(w.batches.size(), 2u);
  EXPECT_NE(w.writers[0], w.writers[1]);
}

TEST(GroupCommitTest, ARecordEnqueuedWhileIdleIsWrittenAndAnsweredOnTheEnqueuingThread) {
  Writes w;
  GroupCommit gc(64, w.Fn());
  std::thread::id answered_on;
  bool answered = false;
  gc.Enqueue(RecordAt(0), [&](absl::Status s) {
    EXPECT_TRUE(s.ok());
    answered_on = std::this_thread::get_id();
    answered = true;
  });
  EXPECT_TRUE(answered) << "durable and answered before Enqueue returns: no committer wake-up";
  EXPECT_EQ(answered_on, std::this_thread::get_id());
  ASSERT_EQ(w.writers.size(), 1u);
  EXPECT_EQ(w.writers[0], std::this_thread::get_id());
  gc.Stop();
}

TEST(GroupCommitTest, RecordsEnqueuedInABatchOnThisThreadShareOneCommitWrittenAtItsEnd) {
  Writes w;
  GroupCommit gc(64, w.Fn());
  std::atomic<int> done{0};
  {
    GroupCommit::BatchOnThisThread batch;
    for (uint64_t n = 0; n < 5; ++n) gc.Enqueue(RecordAt(n), [&](absl::Status s) { done += s.ok(); });
    absl::SleepFor(absl::Milliseconds(20));
    EXPECT_EQ(done.load(), 0) << "nothing written while the batch is being started";
    EXPECT_EQ(gc.commits(), 0u);
  }
  EXPECT_EQ(done.load(), 5) << "written and answered when the scope ends, on this thread";
  ASSERT_EQ(w.batches.size(), 1u);
  EXPECT_EQ(w.batches[0].size(), 5u);
  EXPECT_EQ(w.writers[0], std::this_thread::get_id());
  gc.Stop();
}

TEST(GroupCommitTest, ABatchBeingStartedOnOneThreadDoesNotHoldBackOtherThreadsRecords) {
  Writes w;
  GroupCommit gc(64, w.Fn());
  std::atomic<int> held_done{0};
  absl::Notification held_queued, other_answered, end_hold;
  std::thread holder([&] {
    GroupCommit::BatchOnThisThread batch;
    gc.Enqueue(RecordAt(0), [&](absl::Status s) { held_done += s.ok(); });
    held_queued.Notify();
    end_hold.WaitForNotification();
  });
  held_queued.WaitForNotification();
  gc.Enqueue(RecordAt(1), [&](absl::Status s) {
    EXPECT_TRUE(s.ok());
    other_answered.Notify();
  });
  EXPECT_TRUE(other_answered.WaitForNotificationWithTimeout(absl::Seconds(10)))
      << "another thread's record waited for a batch it is not part of";
  EXPECT_EQ(held_done.load(), 0) << "the held record is written when its batch ends, not before";
  end_hold.Notify();
  holder.join();
  EXPECT_EQ(held_done.load(), 1);
  gc.Stop();
}

TEST(GroupCommitTest, StopReturnsOnlyAfterAnInlineWritesCallbacksRan) {
  Writes w;
  GroupCommit gc(64, w.Fn());
  absl::Notification in_callback, release_callback;
  std::atomic<bool> callback_returned{false};
  std::thread lone([&] {
    gc.Enqueue(RecordAt(0), [&](absl::Status) {
      in_callback.Notify();
      release_callback.WaitForNotification();
      callback_returned = true;
    });
  });
  in_callback.WaitForNotification();
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    gc.Stop();
    stopped = true;
  });
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(stopped.load()) << "Stop returned while a batch's callback still ran";
  release_callback.Notify();
  stopper.join();
  EXPECT_TRUE(callback_returned.load());
  lone.join();
}

TEST(GroupCommitTest, StopWaitsForABatchBeingStartedAndRefusesItsRecords) {
  Writes w;
  GroupCommit gc(64, w.Fn());
  absl::Notification held_queued, end_hold;
  absl::Status held_status;
  std::thread holder([&] {
    GroupCommit::BatchOnThisThread batch;
    gc.Enqueue(RecordAt(0), [&](absl::Status s) { held_status = s; });
    held_queued.Notify();
    end_hold.WaitForNotification();
  });
  held_queued.WaitForNotification();
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    gc.Stop();
    stopped = true;
  });
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(stopped.load()) << "Stop returned while a thread still held records for it";
  end_hold.Notify();
  holder.join();
  stopper.join();
  EXPECT_TRUE(absl::IsUnavailable(held_status)) << held_status;
  EXPECT_EQ(gc.records_written(), 0u);
}

TEST(GroupCommitTest, StopWaitsForAWriteOnAnEnqueuingThread) {
  Writes w;
  absl::Notification release;
  w.hold_first = &release;
  GroupCommit gc(64, w.Fn());
  std::atomic<bool> answered{false};
  std::thread lone([&] { gc.Enqueue(RecordAt(0), [&](absl::Status s) { answered = s.ok(); }); });
  w.first_started.WaitForNotification();
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    gc.Stop();
    stopped = true;
  });
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE(stopped.load()) << "Stop returned while a write still ran";
  release.Notify();
  stopper.join();
  lone.join();
  EXPECT_TRUE(answered.load());
  EXPECT_EQ(gc.records_written(), 1u);
}

TEST(GroupCommitTest, StopWritesWhatIsQueuedThenRefusesAtOnce) {
  Writes w;
  absl::Notification release;
  w.hold_first = &release;
  GroupCommit gc(64, w.Fn());
  std::atomic<int> ok{0};
  std::thread lone([&] { gc.Enqueue(RecordAt(0), [&](absl::Status s) { ok += s.ok(); }); });
  w.first_started.WaitForNotification();
  for (uint64_t n = 1; n < 5; ++n) gc.Enqueue(RecordAt(n), [&](absl::Status s) { ok += s.ok(); });
  std::thread stopper([&] { gc.Stop(); });
  absl::SleepFor(absl::Milliseconds(20));
  release.Notify();
  stopper.join();
  lone.join();
  EXPECT_EQ(ok.load(), 5);
  absl::Status late;
  bool ran = false;
  gc.Enqueue(RecordAt(9), [&](absl::Status s) {
    late = s;
    ran = true;
  });
  EXPECT_TRUE(ran) << "refused on the calling thread";
  EXPECT_TRUE(absl::IsUnavailable(late)) << late;
}

TEST(GroupCommitTest, AFailedTransactionFailsEveryRecordOfItsBatch) {
  GroupCommit gc(64, [](const std::vector<GroupCommit::Pending>&, std::vector<absl::Status>&) {
    return absl::UnavailableError("disk full");
  });
  std::atomic<int> unavailable{0};
  for (uint64_t n = 0; n < 3; ++n)
    gc.Enqueue(RecordAt(n), [&](absl::Status s) { unavailable += absl::IsUnavailable(s); });
  gc.Stop();
  EXPECT_EQ(unavailable.load(), 3);
  EXPECT_EQ(gc.commits(), 0u);
}

// SignBatch's stop_sender_at_refusal (sender_stop.h): once a record of a sender is refused at
// commit, the later commits leave out that sender's records placed after it in its call
// (NotStartedError); other records are written.
TEST(GroupCommitTest, ARefusedRecordStopsItsSendersLaterRecords) {
  std::vector<uint64_t> written;  // on the enqueuing thread: each commit below is written inline
  GroupCommit gc(64, [&](const std::vector<GroupCommit::Pending>& batch, std::vector<absl::Status>& results) {
    for (size_t i = 0; i < batch.size(); ++i) {
      const uint64_t nonce = batch[i].record.key.nonce;
      results[i] = nonce == 2 ? absl::ResourceExhaustedError("over the budget") : absl::OkStatus();
      if (results[i].ok()) written.push_back(nonce);
    }
    return absl::OkStatus();
  });
  auto sender = std::make_shared<SenderStop>();
  auto of_sender = [&](uint64_t nonce, int place) {
    Record r = RecordAt(nonce);
    r.stop_at_refusal = std::make_shared<StopAtRefusal>(sender, place);
    return r;
  };
  std::vector<absl::Status> outcomes(4, absl::UnknownError("not called"));
  auto outcome = [&](int i) { return [&outcomes, i](absl::Status s) { outcomes[i] = std::move(s); }; };
  {
    GroupCommit::BatchOnThisThread one_commit;
    gc.Enqueue(of_sender(1, 0), outcome(0));
    gc.Enqueue(of_sender(2, 1), outcome(1));
  }
  gc.Enqueue(of_sender(3, 2), outcome(2));
  gc.Enqueue(RecordAt(4), outcome(3));
  EXPECT_TRUE(outcomes[0].ok()) << outcomes[0];
  EXPECT_TRUE(absl::IsResourceExhausted(outcomes[1])) << outcomes[1];
  EXPECT_TRUE(IsNotStarted(outcomes[2])) << outcomes[2];
  EXPECT_TRUE(outcomes[3].ok()) << outcomes[3];
  EXPECT_EQ(written, (std::vector<uint64_t>{1, 4}));
  EXPECT_EQ(gc.records_written(), 2u + 1u) << "the record left out is not counted";
}

}  // namespace
}  // namespace signer::equivocation
