// Cooperative cancellation and deadlines for calls that wait on the network.
//
//   chain::jsonrpc::CancelToken cancel;            // shared with whoever may cancel
//   CallOptions opts{.deadline = absl::Now() + absl::Seconds(30), .cancel = &cancel};
//   ... cancel.Cancel();                           // from any thread; one-way
#ifndef ONCHAIN_KMS_CHAIN_JSONRPC_CANCEL_H_
#define ONCHAIN_KMS_CHAIN_JSONRPC_CANCEL_H_

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace chain::jsonrpc {

// One-way cancellation flag that sleepers can wait on. Thread-safe.
class CancelToken {
 public:
  void Cancel() {
    if (!n_.HasBeenNotified()) n_.Notify();
  }
  bool cancelled() const { return n_.HasBeenNotified(); }
  // Sleeps for `d`; returns early (true) when cancelled.
  bool SleepFor(absl::Duration d) const { return n_.WaitForNotificationWithTimeout(d); }

 private:
  mutable absl::Notification n_;
};

// Per-call limits. A default-constructed value means "no deadline, not cancellable"; the
// transport's own timeouts still bound every single HTTP exchange.
struct CallOptions {
  absl::Time deadline = absl::InfiniteFuture();
  const CancelToken* cancel = nullptr;

  bool cancelled() const { return cancel != nullptr && cancel->cancelled(); }
  // OK, CANCELLED or DEADLINE_EXCEEDED, naming `what`.
  absl::Status Check(absl::string_view what) const {
    if (cancelled()) return absl::CancelledError(absl::StrCat(what, ": cancelled"));
    if (absl::Now() >= deadline) return absl::DeadlineExceededError(absl::StrCat(what, ": deadline exceeded"));
    return absl::OkStatus();
  }
  // Sleeps min(d, time left); false if cancelled or the deadline passed meanwhile.
  bool Sleep(absl::Duration d) const {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    if (left < d) d = left;
    if (cancel != nullptr) {
      if (cancel->SleepFor(d)) return false;
    } else {
      absl::SleepFor(d);
    }
    return !cancelled() && absl::Now() < deadline;
  }
};

}  // namespace chain::jsonrpc

#endif  // ONCHAIN_KMS_CHAIN_JSONRPC_CANCEL_H_
