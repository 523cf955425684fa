// JSON-RPC error parsing against the exact shapes anvil 1.7.1 (and geth, where they differ)
// send; see ../shared/facts/dstack-contracts.md §3.3.
#include "chain/jsonrpc/errors.h"

#include <gtest/gtest.h>

#include <string>

#include <boost/json.hpp>

#include "absl/strings/match.h"
#include "chain/jsonrpc/json_codec.h"

namespace chain::jsonrpc {
namespace {

namespace json = boost::json;

RpcError Parse(absl::string_view text) { return ParseRpcError(json::parse(std::string(text))); }

constexpr char kCallerWord[] = "000000000000000000000000f39fd6e51aad88f6f4ce6ab8827279cfffb92266";

TEST(RpcErrors, AnvilCustomErrorRevertIsDecoded) {
  const std::string text = std::string(R"({"code":3,"message":"execution reverted: custom error 0x118cdaa7: )") +
                           kCallerWord + R"(","data":"0x118cdaa7)" + kCallerWord + R"("})";
  RpcError e = Parse(text);
  EXPECT_EQ(e.code, 3);
  EXPECT_EQ(e.kind, RpcErrorKind::kExecutionReverted);
  ASSERT_TRUE(e.revert_data.has_value());
  EXPECT_EQ(e.revert_data->size(), 36u);
  EXPECT_EQ(DescribeRevert(e), "OwnableUnauthorizedAccount(0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266)");

  absl::Status s = ToStatus(e, "eth_estimateGas");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(),
            "eth_estimateGas: execution reverted: "
            "OwnableUnauthorizedAccount(0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266) [json-rpc 3]");
  // The node's own code and message survive in the payload.
  std::optional<RpcError> back = GetRpcError(s);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->code, 3);
  EXPECT_EQ(back->message, e.message);
  EXPECT_EQ(back->kind, RpcErrorKind::kExecutionReverted);
  EXPECT_EQ(back->revert_data, e.revert_data);
  EXPECT_EQ(GetRpcErrorKind(s), RpcErrorKind::kExecutionReverted);
  EXPECT_FALSE(IsRetryable(s));
}

// Found by //chain/fuzz:jsonrpc_fuzz: a code written as a double outside int64 ("-32e600" is -inf)
// was cast to int64_t, which is undefined behaviour. Such a code is no code; an integral double
// within range still counts.
TEST(RpcErrors, CodeOutsideInt64IsIgnored) {
  EXPECT_EQ(Parse(R"({"code":-32e600,"message":"nonce too low"})").code, 0);
  EXPECT_EQ(Parse(R"({"code":1e19,"message":"x"})").code, 0);
  EXPECT_EQ(Parse(R"({"code":-32000.5,"message":"x"})").code, 0);
  RpcError e = Parse(R"({"code":-3.2e4,"message":"nonce too low"})");
  EXPECT_EQ(e.code, -32000);
  EXPECT_EQ(e.kind, RpcErrorKind::kNonceTooLow);
}

TEST(RpcErrors, AnvilErrorStringRevert) {
  // abi.encodeWithSignature("Error(string)", "Invalid owner address")
  const std::string data =
      "0x08c379a0"
      "0000000000000000000000000000000000000000000000000000000000000020"
      "0000000000000000000000000000000000000000000000000000000000000015"
      "496e76616c6964206f776e657220616464726573730000000000000000000000";
  RpcError e = Parse(R"({"code":3,"message":"execution reverted: Invalid owner address","data":")" + data + R"("})");
  EXPECT_EQ(e.kind, RpcErrorKind::kExecutionReverted);
  EXPECT_EQ(DescribeRevert(e), "Error(\"Invalid owner address\")");
  EXPECT_EQ(ToStatus(e, "eth_call").message(),
            "eth_call: execution reverted: Error(\"Invalid owner address\") [json-rpc 3]");
}

TEST(RpcErrors, ImplementationNotSetRevert) {
  // Error("DstackApp implementation not set"), 32 characters.
  const std::string data =
      "0x08c379a0"
      "0000000000000000000000000000000000000000000000000000000000000020"
      "0000000000000000000000000000000000000000000000000000000000000020"
      "44737461636b41707020696d706c656d656e746174696f6e206e6f7420736574";
  RpcError e =
      Parse(R"({"code":3,"message":"execution reverted: DstackApp implementation not set","data":")" + data + R"("})");
  EXPECT_EQ(DescribeRevert(e), "Error(\"DstackApp implementation not set\")");
}

TEST(RpcErrors, PanicAndEmptyAndNestedData) {
  RpcError panic = Parse(
      R"j({"code":3,"message":"execution reverted: panic: arithmetic underflow or overflow (0x11)","data":"0x4e487b710000000000000000000000000000000000000000000000000000000000000011"})j");
  EXPECT_EQ(panic.kind, RpcErrorKind::kExecutionReverted);
  EXPECT_TRUE(absl::StrContains(DescribeRevert(panic), "Panic(0x11")) << DescribeRevert(panic);

  // geth without data, and anvil's `revert()` with empty data.
  RpcError geth = Parse(R"({"code":-32000,"message":"execution reverted"})");
  EXPECT_EQ(geth.kind, RpcErrorKind::kExecutionReverted);
  EXPECT_EQ(DescribeRevert(geth), "empty revert data");
  RpcError empty = Parse(R"({"code":3,"message":"execution reverted","data":"0x"})");
  EXPECT_EQ(empty.kind, RpcErrorKind::kExecutionReverted);
  EXPECT_EQ(DescribeRevert(empty), "empty revert data");

  // Some providers nest the revert data one level deeper.
  RpcError nested = Parse(R"({"code":-32603,"message":"execution reverted","data":{"data":"0x118cdaa7)" +
                          std::string(kCallerWord) + R"(","message":"x"}})");
  EXPECT_EQ(nested.kind, RpcErrorKind::kExecutionReverted);
  EXPECT_TRUE(absl::StartsWith(DescribeRevert(nested), "OwnableUnauthorizedAccount(")) << DescribeRevert(nested);

  // Unknown custom error: selector and size.
  RpcError unknown = Parse(R"({"code":3,"message":"execution reverted","data":"0x12345678"})");
  EXPECT_EQ(DescribeRevert(unknown), "custom error 0x12345678 (0 bytes)");
}

struct KindCase {
  const char* json;
  RpcErrorKind kind;
  absl::StatusCode code;
};

class KindTest : public ::testing::TestWithParam<KindCase> {};

TEST_P(KindTest, Classifies) {
  RpcError e = Parse(GetParam().json);
  EXPECT_EQ(e.kind, GetParam().kind) << GetParam().json << " -> " << RpcErrorKindName(e.kind);
  absl::Status s = ToStatus(e, "m");
  EXPECT_EQ(s.code(), GetParam().code) << s;
  EXPECT_FALSE(e.revert_data.has_value());
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, KindTest,
    ::testing::Values(
        // anvil 1.7.1, eth_sendRawTransaction (captured on this machine)
        KindCase{R"({"code":-32003,"message":"Insufficient funds for gas * price + value"})",
                 RpcErrorKind::kInsufficientFunds, absl::StatusCode::kFailedPrecondition},
        KindCase{R"({"code":-32003,"message":"transaction already imported"})", RpcErrorKind::kAlreadyKnown,
                 absl::StatusCode::kAlreadyExists},
        KindCase{R"({"code":-32003,"message":"nonce too low"})", RpcErrorKind::kNonceTooLow,
                 absl::StatusCode::kAborted},
        KindCase{R"({"code":-32003,"message":"replacement transaction underpriced"})",
                 RpcErrorKind::kReplacementUnderpriced, absl::StatusCode::kAborted},
        KindCase{R"({"code":-32003,"message":"max fee per gas less than block base fee"})", RpcErrorKind::kUnderpriced,
                 absl::StatusCode::kFailedPrecondition},
        KindCase{R"({"code":-32003,"message":"invalid chain id for signer"})", RpcErrorKind::kInvalidTransaction,
                 absl::StatusCode::kInvalidArgument},
        KindCase{R"({"code":-32000,"message":"intrinsic gas too low"})", RpcErrorKind::kIntrinsicGas,
                 absl::StatusCode::kFailedPrecondition},
        // anvil, eth_estimateGas with maxFeePerGas from an empty account
        KindCase{R"({"code":-32003,"message":"Out of gas: gas required exceeds allowance: 0"})",
                 RpcErrorKind::kGasAllowanceExceeded, absl::StatusCode::kFailedPrecondition},
        // anvil, generic JSON-RPC errors
        KindCase{R"({"code":-32601,"message":"Method not found"})", RpcErrorKind::kMethodNotFound,
                 absl::StatusCode::kUnimplemented},
        KindCase{R"({"code":-32602,"message":"invalid string length"})", RpcErrorKind::kInvalidParams,
                 absl::StatusCode::kInvalidArgument},
        // geth's wording of the same conditions
        KindCase{R"({"code":-32000,"message":"already known"})", RpcErrorKind::kAlreadyKnown,
                 absl::StatusCode::kAlreadyExists},
        KindCase{R"({"code":-32000,"message":"nonce too low: next nonce 5, tx nonce 3"})", RpcErrorKind::kNonceTooLow,
                 absl::StatusCode::kAborted},
        KindCase{
            R"({"code":-32000,"message":"insufficient funds for gas * price + value: balance 0, tx cost 21000000000000, overshot 21000000000000"})",
            RpcErrorKind::kInsufficientFunds, absl::StatusCode::kFailedPrecondition},
        KindCase{R"({"code":-32000,"message":"transaction underpriced: tip needed 1, tip permitted 0"})",
                 RpcErrorKind::kUnderpriced, absl::StatusCode::kFailedPrecondition},
        KindCase{R"({"code":-32000,"message":"max priority fee per gas higher than max fee per gas"})",
                 RpcErrorKind::kInvalidTransaction, absl::StatusCode::kInvalidArgument},
        KindCase{R"({"code":-32000,"message":"header not found"})", RpcErrorKind::kNodeBehind,
                 absl::StatusCode::kUnavailable},
        KindCase{R"({"code":-32005,"message":"daily request count exceeded, request rate limited"})",
                 RpcErrorKind::kLimitExceeded, absl::StatusCode::kResourceExhausted},
        KindCase{R"({"code":-32000,"message":"txpool is full"})", RpcErrorKind::kLimitExceeded,
                 absl::StatusCode::kResourceExhausted},
        KindCase{R"({"code":-32603,"message":"internal error"})", RpcErrorKind::kInternal, absl::StatusCode::kInternal},
        KindCase{R"({"code":-32099,"message":"something new"})", RpcErrorKind::kOther, absl::StatusCode::kUnknown},
        // a non-object error member
        KindCase{R"("boom")", RpcErrorKind::kOther, absl::StatusCode::kUnknown}));

TEST(RpcErrors, RetryableOnlyForTransientKinds) {
  EXPECT_TRUE(IsRetryable(ToStatus(Parse(R"({"code":-32000,"message":"header not found"})"), "m")));
  EXPECT_TRUE(IsRetryable(ToStatus(Parse(R"({"code":-32005,"message":"limit exceeded"})"), "m")));
  EXPECT_FALSE(IsRetryable(ToStatus(Parse(R"({"code":-32003,"message":"nonce too low"})"), "m")));
  EXPECT_FALSE(IsRetryable(absl::UnavailableError("plain status without payload")));
  absl::Status t = TransportError(absl::StatusCode::kUnavailable, "x", {.maybe_sent = false, .endpoint = "http://h:1"});
  EXPECT_TRUE(IsRetryable(t));
  std::optional<TransportDetail> d = GetTransportDetail(t);
  ASSERT_TRUE(d.has_value());
  EXPECT_FALSE(d->maybe_sent);
  EXPECT_EQ(d->endpoint, "http://h:1");
  EXPECT_FALSE(GetRpcError(t).has_value());
}

TEST(RpcErrors, ResultOrError) {
  json::object ok = json::parse(R"({"jsonrpc":"2.0","id":1,"result":"0x7a69"})").as_object();
  absl::StatusOr<json::value> r = ResultOrError(ok, "eth_chainId");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->as_string(), "0x7a69");
  json::object null_result = json::parse(R"({"jsonrpc":"2.0","id":1,"result":null})").as_object();
  ASSERT_TRUE(ResultOrError(null_result, "m").ok());
  json::object neither = json::parse(R"({"jsonrpc":"2.0","id":1})").as_object();
  EXPECT_EQ(ResultOrError(neither, "m").status().code(), absl::StatusCode::kInternal);
  json::object err =
      json::parse(R"({"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}})").as_object();
  EXPECT_EQ(ResultOrError(err, "eth_fooBar").status().message(), "eth_fooBar: Method not found [json-rpc -32601]");
}

}  // namespace
}  // namespace chain::jsonrpc
