#include "platform/health_service.h"

#include <cstdlib>
#include <optional>
#include <utility>

namespace platform {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// One Watch stream. Sends the current status, then every change; at most one write is in flight
// and a change that arrives meanwhile replaces the pending one (only the latest status matters).
class HealthService::WatchReactor final : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  explicit WatchReactor(HealthService* service, std::string name) : service_(service), name_(std::move(name)) {}

  const std::string& name() const { return name_; }

  // Called with service_->mu_ held (which keeps this object alive: OnDone unregisters under it).
  void Update(ServingStatus status) {
    absl::MutexLock lock(&mu_);
    if (finish_requested_ || cancelled_) return;
    if (write_in_flight_) {
      pending_ = status;
      return;
    }
    if (sent_any_ && status == last_sent_) return;
    SendLocked(status);
  }

  // Ends the stream with `status` once the writes in flight are done.
  void RequestFinish(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    if (finish_requested_) return;
    finish_requested_ = true;
    finish_status_ = std::move(status);
    if (!write_in_flight_ && !pending_.has_value()) FinishLocked();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    write_in_flight_ = false;
    if (!ok || cancelled_) {
      cancelled_ = true;
      FinishLocked();
      return;
    }
    if (pending_.has_value()) {
      const ServingStatus next = *pending_;
      pending_.reset();
      if (next != last_sent_) {
        SendLocked(next);
        return;
      }
    }
    if (finish_requested_) FinishLocked();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    finish_status_ = grpc::Status::CANCELLED;
    if (!write_in_flight_) FinishLocked();
  }

  void OnDone() override {
    service_->Unregister(this);
    delete this;
  }

 private:
  void SendLocked(ServingStatus status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    response_.set_status(status);
    last_sent_ = status;
    sent_any_ = true;
    write_in_flight_ = true;
    StartWrite(&response_);
  }

  void FinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(finish_status_);
  }

  HealthService* const service_;
  const std::string name_;
  absl::Mutex mu_;
  HealthCheckResponse response_ ABSL_GUARDED_BY(mu_);
  ServingStatus last_sent_ ABSL_GUARDED_BY(mu_) = HealthCheckResponse::UNKNOWN;
  bool sent_any_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<ServingStatus> pending_ ABSL_GUARDED_BY(mu_);
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status finish_status_ ABSL_GUARDED_BY(mu_);
};

HealthService::~HealthService() {
  absl::MutexLock lock(&mu_);
  // Every stream has ended (OnDone) once the server has shut down; a leftover would dangle.
  if (!watchers_.empty()) std::abort();
}

void HealthService::SetServingStatus(const std::string& service, ServingStatus status) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  statuses_[service] = status;
  for (WatchReactor* w : watchers_) {
    if (w->name() == service) w->Update(status);
  }
}

void HealthService::SetAll(ServingStatus status) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  for (auto& [name, current] : statuses_) current = status;
  for (WatchReactor* w : watchers_) {
    if (statuses_.count(w->name()) != 0) w->Update(status);
  }
}

HealthService::ServingStatus HealthService::GetServingStatus(const std::string& service) const {
  absl::MutexLock lock(&mu_);
  auto it = statuses_.find(service);
  return it == statuses_.end() ? HealthCheckResponse::SERVICE_UNKNOWN : it->second;
}

void HealthService::Shutdown() {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  for (auto& [name, current] : statuses_) current = HealthCheckResponse::NOT_SERVING;
  for (WatchReactor* w : watchers_) {
    w->Update(statuses_.count(w->name()) != 0 ? HealthCheckResponse::NOT_SERVING
                                              : HealthCheckResponse::SERVICE_UNKNOWN);
    w->RequestFinish(grpc::Status::OK);
  }
  shut_down_ = true;
}

grpc::ServerUnaryReactor* HealthService::Check(grpc::CallbackServerContext* context, const HealthCheckRequest* request,
                                               HealthCheckResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const ServingStatus status = GetServingStatus(request->service());
  if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
    reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service \"" + request->service() + "\""));
  } else {
    response->set_status(status);
    reactor->Finish(grpc::Status::OK);
  }
  return reactor;
}

grpc::ServerWriteReactor<HealthCheckResponse>* HealthService::Watch(grpc::CallbackServerContext* /*context*/,
                                                                    const HealthCheckRequest* request) {
  auto* watcher = new WatchReactor(this, request->service());
  absl::MutexLock lock(&mu_);
  watchers_.insert(watcher);
  auto it = statuses_.find(request->service());
  watcher->Update(it == statuses_.end() ? HealthCheckResponse::SERVICE_UNKNOWN : it->second);
  if (shut_down_) watcher->RequestFinish(grpc::Status::OK);
  return watcher;
}

void HealthService::Unregister(WatchReactor* watcher) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(watcher);
}

}  // namespace platform
