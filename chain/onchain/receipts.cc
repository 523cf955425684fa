#include "chain/onchain/receipts.h"

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "chain/abi.h"
#include "chain/dstack_calls.h"

namespace chain::onchain {

absl::StatusOr<Address> AddressFromTopic(const Hash32& topic) {
  for (size_t i = 0; i < 12; ++i) {
    if (topic.data()[i] != 0) return absl::InvalidArgumentError("topic: not an address (high 12 bytes non-zero)");
  }
  return Address::FromBytes(ByteView(topic.data() + 12, Address::kSize));
}

absl::StatusOr<AppDeployedEvent> FindAppDeployed(const jsonrpc::Receipt& receipt, const Address& kms) {
  const Hash32& topic = AppDeployedViaFactoryTopic();
  std::optional<AppDeployedEvent> found;
  int foreign = 0;
  for (const jsonrpc::Log& log : receipt.logs) {
    if (log.topics.empty() || log.topics[0] != topic) continue;
    if (log.address != kms) {
      ++foreign;  // same event signature from another contract: not ours
      continue;
    }
    if (log.topics.size() != 3) {
      return absl::FailedPreconditionError(absl::StrCat("transaction ", receipt.transaction_hash.Hex(),
                                                        ": AppDeployedViaFactory from the KMS has ", log.topics.size(),
                                                        " topics, want 3"));
    }
    absl::StatusOr<Address> app = AddressFromTopic(log.topics[1]);
    absl::StatusOr<Address> deployer = AddressFromTopic(log.topics[2]);
    if (!app.ok() || !deployer.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("transaction ", receipt.transaction_hash.Hex(), ": malformed AppDeployedViaFactory topics"));
    }
    if (found.has_value()) {
      if (found->app_id != *app || found->deployer != *deployer) {
        return absl::FailedPreconditionError(absl::StrCat("transaction ", receipt.transaction_hash.Hex(),
                                                          ": the KMS emitted AppDeployedViaFactory for two apps (",
                                                          found->app_id.Checksummed(), ", ", app->Checksummed(), ")"));
      }
      continue;
    }
    found = AppDeployedEvent{*app, *deployer, log.log_index};
  }
  if (!found.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "transaction ", receipt.transaction_hash.Hex(), " has no AppDeployedViaFactory log from the KMS ",
        kms.Checksummed(), " (", receipt.logs.size(), " logs, ", foreign, " with that topic from other addresses)"));
  }
  return *found;
}

bool IsComposeHashAdded(const jsonrpc::Log& log, const Address& app, const Hash32& hash) {
  return log.address == app && log.topics.size() == 1 && log.topics[0] == ComposeHashAddedTopic() &&
         ByteView(log.data) == hash.bytes();
}

absl::Status VerifyComposeHashAdded(const jsonrpc::Receipt& receipt, const Address& app, const Hash32& hash) {
  for (const jsonrpc::Log& log : receipt.logs) {
    if (IsComposeHashAdded(log, app, hash)) return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat("transaction ", receipt.transaction_hash.Hex(),
                                                    " has no ComposeHashAdded(", hash.Hex(), ") log from app ",
                                                    app.Checksummed(), " (", receipt.logs.size(), " logs)"));
}

absl::StatusOr<Address> DecodeAddressWord(ByteView data) {
  absl::StatusOr<std::vector<abi::Value>> v = abi::DecodeArgs({abi::Type::Address()}, data);
  if (!v.ok()) return v.status();
  return *(*v)[0].AsAddress();
}

absl::StatusOr<bool> DecodeBoolWord(ByteView data) {
  absl::StatusOr<std::vector<abi::Value>> v = abi::DecodeArgs({abi::Type::Bool()}, data);
  if (!v.ok()) return v.status();
  return *(*v)[0].AsBool();
}

}  // namespace chain::onchain
