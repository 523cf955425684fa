// How a waiting step recognises the owner's call on chain (MatchesEvent), without a chain: the
// log filter semantics the watch and SubmitOwnerTransaction rely on.
#include "orchestrator/flows/owner_action.h"

#include "chain/dstack_app_events.h"
#include "chain/dstack_calls.h"
#include "gtest/gtest.h"

namespace orchestrator::flows {
namespace {

const chain::Address kApp = *chain::Address::Parse("0x9f1ac54BEF0DD2f6f3462EA0fa94fC62300d3a8e");
const chain::Address kOther = *chain::Address::Parse("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
const chain::Hash32 kHash = *chain::Hash32::FromHex("0x" + std::string(64, 'c'));

chain::jsonrpc::Log LogOf(const chain::Address& from, std::vector<chain::Hash32> topics, chain::ByteView data) {
  chain::jsonrpc::Log l;
  l.address = from;
  l.topics = std::move(topics);
  l.data = chain::Bytes(data.begin(), data.end());
  return l;
}

TEST(OwnerActionTest, ComposeHashAddedMatchesOnEmitterTopicAndExactData) {
  const state::ExpectedEvent e = EventWithData(chain::ComposeHashAddedTopic(), kHash.bytes());
  EXPECT_TRUE(MatchesEvent(LogOf(kApp, {chain::ComposeHashAddedTopic()}, kHash.bytes()), kApp, e));
  // Another contract, another event, another hash: not the owner's call.
  EXPECT_FALSE(MatchesEvent(LogOf(kOther, {chain::ComposeHashAddedTopic()}, kHash.bytes()), kApp, e));
  EXPECT_FALSE(MatchesEvent(LogOf(kApp, {chain::DeviceAddedTopic()}, kHash.bytes()), kApp, e));
  const chain::Hash32 other = *chain::Hash32::FromHex("0x" + std::string(64, 'd'));
  EXPECT_FALSE(MatchesEvent(LogOf(kApp, {chain::ComposeHashAddedTopic()}, other.bytes()), kApp, e));
  EXPECT_FALSE(MatchesEvent(LogOf(kApp, {}, kHash.bytes()), kApp, e));
}

TEST(OwnerActionTest, IndexedTopicsWithWildcardsAndAlternativeTopic0) {
  // transferOwnership(new): OwnershipTransferStarted(*, new) or OwnershipTransferred(*, new).
  state::ExpectedEvent e;
  e.set_topic0(ToField(chain::OwnershipTransferStartedTopic()));
  e.add_also_topic0(ToField(chain::OwnershipTransferredTopic()));
  chain::Hash32 new_owner;
  std::copy(kOther.bytes().begin(), kOther.bytes().end(), new_owner.data() + 12);
  e.add_indexed_topics("");
  e.add_indexed_topics(ToField(new_owner));
  const chain::Hash32 previous = *chain::Hash32::FromHex("0x" + std::string(64, '0'));
  for (const chain::Hash32& topic0 : {chain::OwnershipTransferStartedTopic(), chain::OwnershipTransferredTopic()}) {
    EXPECT_TRUE(MatchesEvent(LogOf(kApp, {topic0, previous, new_owner}, {}), kApp, e));
    EXPECT_FALSE(MatchesEvent(LogOf(kApp, {topic0, new_owner, previous}, {}), kApp, e));
    EXPECT_FALSE(MatchesEvent(LogOf(kApp, {topic0, previous}, {}), kApp, e));  // too few topics
  }
  EXPECT_FALSE(MatchesEvent(LogOf(kApp, {chain::DeviceAddedTopic(), previous, new_owner}, {}), kApp, e));
}

}  // namespace
}  // namespace orchestrator::flows
