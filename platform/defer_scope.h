// DeferScope: work put off to the end of a scope on one thread, so that what many calls on that
// thread would each do once (the signer's audit log: one write(2) per record) is done once for
// all of them. The signer's group commit runs a batch's replies inside one: each reply's audit
// record is chained at once, and the batch's records reach the file in one write before any of
// those replies leaves.
//
// Scopes nest; only the outermost one's end runs the deferred work, in the order it was deferred,
// on the same thread, and keeps doing so until none is left (work may defer more). Nothing runs
// when work is deferred: the thread does not block, and holds nothing for others meanwhile.
#ifndef ONCHAIN_KMS_PLATFORM_DEFER_SCOPE_H_
#define ONCHAIN_KMS_PLATFORM_DEFER_SCOPE_H_

#include "absl/functional/any_invocable.h"

namespace platform {

class DeferScope {
 public:
  DeferScope();
  ~DeferScope();  // the outermost: runs what was deferred (also what that defers)
  DeferScope(const DeferScope&) = delete;
  DeferScope& operator=(const DeferScope&) = delete;

  // Whether a DeferScope lives on this thread.
  static bool Active();
  // Runs `fn` at the end of this thread's outermost DeferScope; at once if none lives.
  static void AtEnd(absl::AnyInvocable<void() &&> fn);
};

}  // namespace platform

#endif  // ONCHAIN_KMS_PLATFORM_DEFER_SCOPE_H_
