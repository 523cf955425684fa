#include "signer/server/record_health.h"

#include <string>

#include "platform/log/log.h"

namespace signer::server {

using platform::log::Level;
using platform::log::Log;

RecordHealth::RecordHealth(equivocation::Store* store, platform::HealthService* health, absl::Duration interval)
    : store_(store), health_(health), interval_(interval) {
  health_->SetAll(platform::HealthService::kServing);
  thread_ = std::thread([this] { Run(); });
}

RecordHealth::~RecordHealth() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void RecordHealth::Run() {
  bool serving = true;
  absl::MutexLock lock(&mu_);
  while (!mu_.AwaitWithTimeout(absl::Condition(&stop_), interval_)) {
    mu_.Unlock();  // a ping may take seconds; the destructor must not wait behind the lock meanwhile
    const absl::Status s = store_->Ping();
    mu_.Lock();
    if (stop_ || s.ok() == serving) continue;
    serving = s.ok();
    health_->SetAll(serving ? platform::HealthService::kServing : platform::HealthService::kNotServing);
    if (serving) {
      Log(Level::kInfo, "anti-equivocation record reachable again; serving");
    } else {
      Log(Level::kError, "anti-equivocation record unreachable; not serving (signing requests fail UNAVAILABLE)",
          {{"error", std::string(s.message())}});
    }
  }
}

}  // namespace signer::server
