#include "test/anvil/pool_doctor.h"

#include <iostream>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"

namespace anvil {
namespace {

namespace json = boost::json;

// txpool_content's "pending" / "queued": {sender: {"<decimal nonce>": tx}} -> {sender: {nonce: hash}}.
std::map<std::string, std::map<uint64_t, std::string>> BySender(const json::value& part) {
  std::map<std::string, std::map<uint64_t, std::string>> out;
  if (!part.is_object()) return out;
  for (const auto& [sender, txs] : part.as_object()) {
    if (!txs.is_object()) continue;
    for (const auto& [nonce, tx] : txs.as_object()) {
      uint64_t n = 0;
      const json::value* hash = tx.is_object() ? tx.as_object().if_contains("hash") : nullptr;
      if (!absl::SimpleAtoi(std::string(nonce), &n) || hash == nullptr || !hash->is_string()) continue;
      out[std::string(sender)][n] = std::string(hash->as_string());
    }
  }
  return out;
}

bool QuantityIs(const json::value& v, uint64_t want) {
  uint64_t got = 0;
  return v.is_string() && absl::SimpleHexAtoi(std::string(v.as_string()), &got) && got == want;
}

}  // namespace

PoolDoctor::PoolDoctor(std::string host, uint16_t port, absl::Duration interval)
    : rpc_(std::move(host), port, absl::Seconds(1)), interval_(interval), thread_([this] { Run(); }) {}

PoolDoctor::~PoolDoctor() {
  stop_.Notify();
  thread_.join();
}

int PoolDoctor::resent() const {
  absl::MutexLock l(&mu_);
  return resent_;
}

void PoolDoctor::Run() {
  while (!stop_.WaitForNotificationWithTimeout(interval_)) Examine();
}

void PoolDoctor::Examine() {
  // The common case costs one small call: nothing queued.
  absl::StatusOr<json::value> status = rpc_.Call("txpool_status", {});
  if (!status.ok() || !status->is_object() || QuantityIs(status->as_object()["queued"], 0)) {
    suspects_.clear();
    return;
  }
  absl::StatusOr<json::value> content = rpc_.Call("txpool_content", {});
  if (!content.ok() || !content->is_object()) return;
  const auto pending = BySender(content->as_object()["pending"]);
  const auto queued = BySender(content->as_object()["queued"]);
  std::map<std::string, std::string> now;
  for (const auto& [sender, txs] : queued) {
    if (txs.empty() || pending.count(sender) > 0) continue;
    absl::StatusOr<json::value> count = rpc_.Call("eth_getTransactionCount", {json::string(sender), "latest"});
    if (!count.ok() || !QuantityIs(*count, txs.begin()->first)) continue;  // a gap below: genuinely queued
    now[sender] = txs.begin()->second;
  }
  for (const auto& [sender, hash] : now) {
    auto seen = suspects_.find(sender);
    if (seen != suspects_.end() && seen->second == hash) Repair(sender);
  }
  suspects_ = std::move(now);
}

void PoolDoctor::Repair(const std::string& sender) {
  // Read again: the raw bytes of each queued transaction, lowest nonce first.
  absl::StatusOr<json::value> content = rpc_.Call("txpool_content", {});
  if (!content.ok() || !content->is_object()) return;
  const auto queued = BySender(content->as_object()["queued"]);
  auto it = queued.find(sender);
  if (it == queued.end()) return;
  std::vector<std::string> raws;
  for (const auto& [nonce, hash] : it->second) {
    absl::StatusOr<json::value> raw = rpc_.Call("eth_getRawTransactionByHash", {json::string(hash)});
    if (!raw.ok() || !raw->is_string()) return;  // changed meanwhile: the next polls look again
    raws.emplace_back(raw->as_string());
  }
  if (!rpc_.Call("anvil_removePoolTransactions", {json::string(sender)}).ok()) return;
  int sent = 0;
  int mined = 0;  // sent meanwhile by their owner's own re-broadcast (it saw them gone)
  for (const std::string& raw : raws) {
    absl::StatusOr<json::value> r = rpc_.Call("eth_sendRawTransaction", {json::string(raw)});
    if (r.ok()) {
      ++sent;
    } else if (absl::StrContains(r.status().message(), "nonce too low") ||
               absl::StrContains(r.status().message(), "already imported")) {
      ++mined;
    } else {
      std::cerr << "anvil pool doctor: re-sending a transaction of " << sender << ": " << r.status() << "\n";
    }
  }
  std::cerr << "anvil pool doctor: " << raws.size() << " transaction(s) of " << sender << " stranded in the queued pool"
            << " from nonce " << it->second.begin()->first << " (foundry-rs/foundry#10122): " << sent
            << " sent again in nonce order, " << mined << " sent meanwhile by their owner\n";
  absl::MutexLock l(&mu_);
  resent_ += sent;
}

}  // namespace anvil
