// journaled_events.h: what the owner journals for a change is enough to rebuild, anywhere, the
// exact events its own watchers got.
#include "orchestrator/engine/journaled_events.h"

#include <string>
#include <vector>

#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

namespace orchestrator::engine {
namespace {

using google::protobuf::util::TimeUtil;

TEST(JournaledEventsTest, TheJournaledFormRebuildsTheSameEventsAfterASerializationRoundTrip) {
  v1::Operation op;
  op.set_id("op_1");
  op.set_state(v1::OPERATION_STATE_RUNNING);
  *op.mutable_update_time() = TimeUtil::MicrosecondsToTimestamp(1'700'000'000'123'456);
  const std::string tx = "0x" + std::string(64, 'c');
  const std::vector<Event> events = {
      {v1::OperationEvent::TYPE_STEP_PROGRESS, "deploy_app_auth", tx, "sent"},
      {v1::OperationEvent::TYPE_STATE_CHANGED, "", "", "succeeded"},
  };
  const state::JournaledEvents journaled = JournalEvents(events, op.update_time());
  const std::vector<v1::OperationEvent> here = WatchEvents(journaled, op);

  state::JournaledEvents stored;
  ASSERT_TRUE(stored.ParseFromString(journaled.SerializeAsString()));
  v1::Operation stored_op;
  ASSERT_TRUE(stored_op.ParseFromString(op.SerializeAsString()));
  const std::vector<v1::OperationEvent> there = WatchEvents(stored, stored_op);

  ASSERT_EQ(here.size(), 2u);
  ASSERT_EQ(there.size(), 2u);
  for (size_t i = 0; i < here.size(); ++i) EXPECT_EQ(here[i].SerializeAsString(), there[i].SerializeAsString());
  EXPECT_EQ(here[0].operation_id(), "op_1");
  EXPECT_EQ(here[0].type(), v1::OperationEvent::TYPE_STEP_PROGRESS);
  EXPECT_EQ(here[0].step(), "deploy_app_auth");
  EXPECT_EQ(here[0].transaction_hash(), tx);
  EXPECT_EQ(here[0].detail(), "sent");
  EXPECT_EQ(here[0].time(), op.update_time()) << "the change's time";
  EXPECT_EQ(here[0].sequence(), 0u) << "numbered by the stream";
  EXPECT_EQ(here[1].operation().SerializeAsString(), op.SerializeAsString());
  EXPECT_TRUE(WatchEvents(JournalEvents({}, op.update_time()), op).empty());
}

}  // namespace
}  // namespace orchestrator::engine
