// The signer's health follows its anti-equivocation record (design § 7): without a record it can
// sign nothing, so while the record does not answer (PostgreSQL unreachable) every service is
// NOT_SERVING, and SERVING again as soon as it does. Checked every `interval` on its own thread;
// a state change is logged once.
#ifndef ONCHAIN_KMS_SIGNER_SERVER_RECORD_HEALTH_H_
#define ONCHAIN_KMS_SIGNER_SERVER_RECORD_HEALTH_H_

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "platform/health_service.h"
#include "signer/equivocation/store.h"

namespace signer::server {

class RecordHealth {
 public:
  // Sets SERVING now (the record was just opened) and starts checking.
  RecordHealth(equivocation::Store* store, platform::HealthService* health, absl::Duration interval);
  ~RecordHealth();  // stops checking (before the health service goes away)
  RecordHealth(const RecordHealth&) = delete;
  RecordHealth& operator=(const RecordHealth&) = delete;

 private:
  void Run();

  equivocation::Store* const store_;
  platform::HealthService* const health_;
  const absl::Duration interval_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace signer::server

#endif  // ONCHAIN_KMS_SIGNER_SERVER_RECORD_HEALTH_H_
