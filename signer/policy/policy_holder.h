// The current policy, swapped atomically on reload (SIGHUP). Requests take a snapshot
// (a shared_ptr) and keep it for their whole evaluation, so a reload never drops or splits a
// request; an invalid new file is rejected and the old policy stays in force.
#ifndef ONCHAIN_KMS_SIGNER_POLICY_POLICY_HOLDER_H_
#define ONCHAIN_KMS_SIGNER_POLICY_POLICY_HOLDER_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "signer/policy/policy.h"

namespace signer::policy {

class PolicyHolder {
 public:
  explicit PolicyHolder(std::shared_ptr<const CompiledPolicy> initial) : current_(std::move(initial)) {}

  std::shared_ptr<const CompiledPolicy> Get() const {
    absl::ReaderMutexLock lock(&mu_);
    return current_;
  }
  void Set(std::shared_ptr<const CompiledPolicy> policy) {
    absl::MutexLock lock(&mu_);
    current_ = std::move(policy);
  }
  // Loads and compiles `path`; on success swaps it in, on failure keeps the old one and returns
  // the error (which names the file and field).
  absl::Status Reload(const std::string& path) {
    absl::StatusOr<std::shared_ptr<const CompiledPolicy>> loaded = LoadPolicyFile(path);
    if (!loaded.ok()) return loaded.status();
    Set(*std::move(loaded));
    return absl::OkStatus();
  }

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const CompiledPolicy> current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace signer::policy

#endif  // ONCHAIN_KMS_SIGNER_POLICY_POLICY_HOLDER_H_
