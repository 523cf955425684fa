#include "orchestrator/engine/journaled_events.h"

#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"

namespace orchestrator::engine {

using google::protobuf::util::TimeUtil;

state::JournaledEvents JournalEvents(const std::vector<Event>& events, const google::protobuf::Timestamp& time) {
  state::JournaledEvents out;
  const int64_t micros = TimeUtil::TimestampToMicroseconds(time);
  for (const Event& e : events) {
    state::JournaledEvent* j = out.add_events();
    j->set_type(e.type);
    j->set_step(e.step);
    j->set_transaction_hash(e.transaction_hash);
    j->set_detail(e.detail);
    j->set_time_unix_micros(micros);
  }
  return out;
}

std::vector<v1::OperationEvent> WatchEvents(const state::JournaledEvents& events, const v1::Operation& op) {
  std::vector<v1::OperationEvent> out;
  out.reserve(static_cast<size_t>(events.events_size()));
  for (const state::JournaledEvent& j : events.events()) {
    v1::OperationEvent& ev = out.emplace_back();
    ev.set_operation_id(op.id());
    *ev.mutable_time() = TimeUtil::MicrosecondsToTimestamp(j.time_unix_micros());
    // An unknown number (a newer replica's type) passes through as it came.
    ev.set_type(static_cast<v1::OperationEvent::Type>(j.type()));
    ev.set_step(j.step());
    ev.set_transaction_hash(j.transaction_hash());
    ev.set_detail(j.detail());
    *ev.mutable_operation() = op;
  }
  return out;
}

v1::OperationEvent SnapshotEvent(const v1::Operation& op) {
  v1::OperationEvent ev;
  ev.set_operation_id(op.id());
  *ev.mutable_time() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(absl::Now()));
  ev.set_type(v1::OperationEvent::TYPE_SNAPSHOT);
  *ev.mutable_operation() = op;
  return ev;
}

}  // namespace orchestrator::engine
