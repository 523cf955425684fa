#include "platform/defer_scope.h"

#include <utility>
#include <vector>

namespace platform {
namespace {

using Work = std::vector<absl::AnyInvocable<void() &&>>;

thread_local int depth = 0;
// Kept (with their capacity) from scope to scope: a scope allocates nothing once warm.
thread_local Work deferred;
thread_local Work running;

}  // namespace

DeferScope::DeferScope() { ++depth; }

DeferScope::~DeferScope() {
  if (depth > 1) {
    --depth;
    return;
  }
  // Still active while the work runs: what it defers joins `deferred` and runs in a later round.
  while (!deferred.empty()) {
    running.swap(deferred);
    for (auto& fn : running) std::move(fn)();
    running.clear();
  }
  depth = 0;
}

bool DeferScope::Active() { return depth > 0; }

void DeferScope::AtEnd(absl::AnyInvocable<void() &&> fn) {
  if (depth == 0) return std::move(fn)();
  deferred.push_back(std::move(fn));
}

}  // namespace platform
