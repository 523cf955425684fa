// The events of one change in the two forms they take: journaled with the change
// (state.v1.JournaledEvents, stored by a shared journal for the other replicas) and as a watcher
// receives them (v1.OperationEvent). The replica that runs an operation and a replica that
// follows it from the change log (remote_watch.h) both build the watcher's form with WatchEvents
// from the journaled form and the operation after the change, so their streams are identical
// event for event (the stream numbers them: `sequence` stays 0 here).
#ifndef ONCHAIN_KMS_ORCHESTRATOR_ENGINE_JOURNALED_EVENTS_H_
#define ONCHAIN_KMS_ORCHESTRATOR_ENGINE_JOURNALED_EVENTS_H_

#include <vector>

#include "google/protobuf/timestamp.pb.h"
#include "onchainkms/orchestrator/v1/orchestrator.pb.h"
#include "orchestrator/engine/op_context.h"
#include "orchestrator/state/flow_state.pb.h"

namespace orchestrator::engine {

// `events` of a change made at `time` (the operation's update_time after it).
state::JournaledEvents JournalEvents(const std::vector<Event>& events, const google::protobuf::Timestamp& time);

// One OperationEvent per journaled event, each carrying `op`, the operation after the change.
std::vector<v1::OperationEvent> WatchEvents(const state::JournaledEvents& events, const v1::Operation& op);

// The first event of every stream: the operation as it is now.
v1::OperationEvent SnapshotEvent(const v1::Operation& op);

}  // namespace orchestrator::engine

#endif  // ONCHAIN_KMS_ORCHESTRATOR_ENGINE_JOURNALED_EVENTS_H_
