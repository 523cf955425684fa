#include "platform/defer_scope.h"

#include <utility>
#include <vector>

namespace platform {
namespace {

thread_local int depth = 0;
thread_local std::vector<absl::AnyInvocable<void()&&>>* deferred = nullptr;

}  // namespace

DeferScope::DeferScope() {
  if (depth++ == 0) deferred = new std::vector<absl::AnyInvocable<void() &&>>();
}

DeferScope::~DeferScope() {
  if (depth > 1) {
    --depth;
    return;
  }
  // Still active while the work runs: what it defers joins the list and runs in a later round.
  while (!deferred->empty()) {
    std::vector<absl::AnyInvocable<void() &&>> round;
    round.swap(*deferred);
    for (auto& fn : round) std::move(fn)();
  }
  delete deferred;
  deferred = nullptr;
  depth = 0;
}

bool DeferScope::Active() { return depth > 0; }

void DeferScope::AtEnd(absl::AnyInvocable<void() &&> fn) {
  if (depth == 0) return std::move(fn)();
  deferred->push_back(std::move(fn));
}

}  // namespace platform
