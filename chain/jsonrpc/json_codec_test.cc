#include "chain/jsonrpc/json_codec.h"

#include <gtest/gtest.h>

#include <string>

#include <boost/json.hpp>

#include "absl/strings/match.h"
#include "chain/hex.h"

namespace chain::jsonrpc {
namespace {

namespace json = boost::json;

// An anvil 1.7.1 receipt of a factory deploy (trimmed to two logs), as the node prints it.
constexpr char kReceipt[] = R"({
  "type":"0x2","status":"0x1","cumulativeGasUsed":"0x3de4b",
  "logs":[
    {"address":"0x5fbdb2315678afecb367f032d93f642f64180aa3",
     "topics":["0x0d540ad8f39e07d19909687352b9fa017405d93c91a6760981fbae9cf28bfef7"],
     "data":"0x000000000000000000000000a16e02e87b7454126e5e10d957a927a7f5b5d2be",
     "blockHash":"0x1111111111111111111111111111111111111111111111111111111111111111",
     "blockNumber":"0x3","blockTimestamp":"0x6745f0a1",
     "transactionHash":"0x2222222222222222222222222222222222222222222222222222222222222222",
     "transactionIndex":"0x0","logIndex":"0x5","removed":false},
    {"address":"0x5fbdb2315678afecb367f032d93f642f64180aa3",
     "topics":["0xfd86d7f6962eba3b7a3bf9129c06c0b2f885e1c61ef2c9f0dbb856be0deefdee",
               "0x000000000000000000000000a16e02e87b7454126e5e10d957a927a7f5b5d2be",
               "0x000000000000000000000000f39fd6e51aad88f6f4ce6ab8827279cfffb92266"],
     "data":"0x",
     "blockHash":"0x1111111111111111111111111111111111111111111111111111111111111111",
     "blockNumber":"0x3",
     "transactionHash":"0x2222222222222222222222222222222222222222222222222222222222222222",
     "transactionIndex":"0x0","logIndex":"0x6","removed":false}],
  "logsBloom":"0x00",
  "transactionHash":"0x2222222222222222222222222222222222222222222222222222222222222222",
  "transactionIndex":"0x0",
  "blockHash":"0x1111111111111111111111111111111111111111111111111111111111111111",
  "blockNumber":"0x3","gasUsed":"0x3de4b","effectiveGasPrice":"0x4a817c80",
  "from":"0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266",
  "to":"0x5fbdb2315678afecb367f032d93f642f64180aa3","contractAddress":null})";

TEST(JsonCodec, Receipt) {
  absl::StatusOr<Receipt> r = ParseReceipt(json::parse(kReceipt));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->success);
  EXPECT_EQ(r->type, 2);
  EXPECT_EQ(r->block_number, 3u);
  EXPECT_EQ(r->gas_used, 0x3de4bu);
  EXPECT_EQ(r->effective_gas_price, U256(1250000000));
  EXPECT_EQ(r->from.Hex(), "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266");
  ASSERT_TRUE(r->to.has_value());
  EXPECT_FALSE(r->contract_address.has_value());
  ASSERT_EQ(r->logs.size(), 2u);
  EXPECT_EQ(r->logs[1].topics.size(), 3u);
  EXPECT_TRUE(r->logs[1].data.empty());
  EXPECT_EQ(r->logs[1].log_index, 6u);
  EXPECT_EQ(r->logs[0].data.size(), 32u);
}

TEST(JsonCodec, ReceiptErrorsNameTheField) {
  json::value v = json::parse(kReceipt);
  v.as_object()["logs"].as_array()[1].as_object()["topics"].as_array()[0] = "0x1234";
  absl::Status s = ParseReceipt(v).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(absl::StartsWith(s.message(), "receipt.logs[1].topics[0]: ")) << s;

  json::value w = json::parse(kReceipt);
  w.as_object()["status"] = "0x2";
  EXPECT_FALSE(ParseReceipt(w).ok());
  json::value x = json::parse(kReceipt);
  x.as_object()["gasUsed"] = 12;  // a number, not a quantity string
  EXPECT_TRUE(absl::StrContains(ParseReceipt(x).status().message(), "receipt.gasUsed")) << ParseReceipt(x).status();
  json::value y = json::parse(kReceipt);
  y.as_object().erase("blockHash");
  EXPECT_EQ(ParseReceipt(y).status().message(), "receipt.blockHash: missing");
}

TEST(JsonCodec, PendingTransaction) {
  absl::StatusOr<TransactionInfo> t = ParseTransaction(json::parse(R"({
    "hash":"0x2222222222222222222222222222222222222222222222222222222222222222",
    "from":"0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266","to":"0x5fbdb2315678afecb367f032d93f642f64180aa3",
    "nonce":"0x7","gas":"0x493e0","value":"0x0","input":"0xdfc77223","type":"0x2","chainId":"0x7a69",
    "maxFeePerGas":"0x77359400","maxPriorityFeePerGas":"0x3b9aca00","gasPrice":"0x77359400",
    "blockNumber":null,"blockHash":null,"transactionIndex":null})"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(t->pending());
  EXPECT_EQ(t->nonce, 7u);
  EXPECT_EQ(t->chain_id, 31337u);
  EXPECT_EQ(ToHex(t->input), "0xdfc77223");
  EXPECT_EQ(t->max_priority_fee_per_gas, U256(1000000000));
}

TEST(JsonCodec, FeeHistoryFromAnvil) {
  absl::StatusOr<FeeHistory> h = ParseFeeHistory(
      json::parse(R"({"baseFeePerGas":["0x3b9aca00","0x3b9aca00","0x342a1c58"],"gasUsedRatio":[0.0,0.0007],)"
                  R"("baseFeePerBlobGas":["0x1","0x1","0x1"],"blobGasUsedRatio":[0.0,0.0],"oldestBlock":"0x0",)"
                  R"("reward":[["0x0"],["0x3e95ba80"]]})"));
  ASSERT_TRUE(h.ok()) << h.status();
  ASSERT_EQ(h->base_fee_per_gas.size(), 3u);
  EXPECT_EQ(h->base_fee_per_gas.back(), U256(0x342a1c58));
  ASSERT_EQ(h->reward.size(), 2u);
  EXPECT_EQ(h->reward[1][0], U256(0x3e95ba80));
  EXPECT_DOUBLE_EQ(h->gas_used_ratio[1], 0.0007);
}

TEST(JsonCodec, Requests) {
  CallRequest c;
  c.from = *Address::Parse("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266");
  c.to = *Address::Parse("0x5fbdb2315678afecb367f032d93f642f64180aa3");
  c.data = {0xdf, 0xc7, 0x72, 0x23};
  c.gas = 100000;
  EXPECT_EQ(json::serialize(CallRequestToJson(c)),
            R"({"from":"0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266","to":"0x5fbdb2315678afecb367f032d93f642f64180aa3",)"
            R"("input":"0xdfc77223","data":"0xdfc77223","gas":"0x186a0"})");
  LogFilter f;
  f.from_block = BlockId::Number(0);
  f.to_block = BlockId::Latest();
  f.addresses = {*c.to};
  f.topics = {std::vector<Hash32>{Hash32()}, std::nullopt};
  EXPECT_EQ(json::serialize(LogFilterToJson(f)),
            R"({"fromBlock":"0x0","toBlock":"latest","address":"0x5fbdb2315678afecb367f032d93f642f64180aa3",)"
            R"("topics":["0x0000000000000000000000000000000000000000000000000000000000000000",null]})");
  EXPECT_EQ(BlockId::Number(255).ToParam(), "0xff");
}

TEST(JsonCodec, Scalars) {
  EXPECT_EQ(*ParseUint64(json::string("0x7a69"), "x"), 31337u);
  EXPECT_FALSE(ParseUint64(json::string("7a69"), "x").ok());
  EXPECT_FALSE(ParseUint64(json::string("0x10000000000000000"), "x").ok());
  EXPECT_FALSE(ParseBytes(json::string("0xabc"), "x").ok());
  EXPECT_TRUE(ParseBytes(json::string("0x"), "x")->empty());
  EXPECT_FALSE(*ParseHasCode(json::string("0x"), "eth_getCode"));
  EXPECT_TRUE(*ParseHasCode(json::string("0x6080"), "eth_getCode"));
  EXPECT_FALSE(ParseHasCode(json::string("6080"), "eth_getCode").ok());
  EXPECT_FALSE(ParseHasCode(json::string("0x608"), "eth_getCode").ok());
  EXPECT_FALSE(ParseHasCode(json::value(7), "eth_getCode").ok());
  EXPECT_FALSE(ParseAddress(json::string("0x1234"), "x").ok());
}

}  // namespace
}  // namespace chain::jsonrpc
