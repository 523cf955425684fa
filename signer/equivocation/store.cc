#include "signer/equivocation/store.h"

#include <condition_variable>
#include <future>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "signer/equivocation/group_commit.h"

namespace signer::equivocation {
namespace {

chain::U256 Cost(uint64_t gas, const chain::U256& fee) {
  absl::StatusOr<chain::U256> c = chain::U256::CheckedMul(chain::U256(gas), fee);
  return c.ok() ? *c : chain::U256::Max();
}

Verdict Conflict(std::string message) {
  Verdict v;
  v.kind = Verdict::Kind::kConflict;
  v.conflict = absl::FailedPreconditionError(std::move(message));
  return v;
}

}  // namespace

bool RaisedByTenPercent(const chain::U256& prev, const chain::U256& next) {
  if (!(next > prev)) return false;
  absl::StatusOr<chain::U256> lhs = chain::U256::CheckedMul(next, chain::U256(10));
  absl::StatusOr<chain::U256> rhs = chain::U256::CheckedMul(prev, chain::U256(11));
  if (!rhs.ok()) return false;  // prev is astronomically large; nothing can beat it
  if (!lhs.ok()) return true;
  return *lhs >= *rhs;
}

Verdict Decide(const std::vector<Record>& rows, const Candidate& c, uint64_t pruned_below) {
  Verdict v;
  if (rows.empty() && c.key.nonce < pruned_below) {
    v = Conflict(absl::StrCat("anti-equivocation: nonce ", c.key.nonce, " of key ", c.key.sender.Checksummed(),
                              " on chain ", c.key.chain_id, " is below the pruned watermark ", pruned_below,
                              " (its records may have been pruned); refusing to sign for it"));
    v.unknown = true;
    return v;
  }
  if (rows.empty()) return v;  // kFirst, version 1
  uint32_t highest_version = 0;
  for (const Record& r : rows) {
    if (r.signing_hash == c.signing_hash) {
      v.kind = Verdict::Kind::kRepeat;
      v.repeat = r;
      return v;
    }
    highest_version = std::max(highest_version, r.slot_version);
  }
  const Record& first = rows.front();
  const Record& latest = rows.back();
  chain::U256 highest_fee, highest_tip;
  for (const Record& r : rows) {
    if (r.max_fee_per_gas > highest_fee) highest_fee = r.max_fee_per_gas;
    if (r.max_priority_fee_per_gas > highest_tip) highest_tip = r.max_priority_fee_per_gas;
  }
  const std::string where = absl::StrCat("nonce ", c.key.nonce, " of key ", c.key.sender.Checksummed(), " on chain ",
                                         c.key.chain_id, " was already signed for transaction ", latest.tx_hash.Hex());
  if (c.to != first.to || c.value != first.value || c.data != first.data) {
    return Conflict(absl::StrCat("anti-equivocation: ", where,
                                 " with a different to/value/data; refusing to sign a conflicting transaction"));
  }
  // A lower gas limit could make the replacement run out of gas and burn the nonce on a failed
  // call; the gas limits of a slot's versions therefore never decrease (latest is the highest).
  if (c.gas_limit < latest.gas_limit) {
    return Conflict(absl::StrCat("anti-equivocation: ", where, "; a replacement must keep gas_limit at least ",
                                 latest.gas_limit, " (gas_limit ", c.gas_limit, " is below ", latest.gas_limit, ")"));
  }
  if (!RaisedByTenPercent(highest_fee, c.max_fee_per_gas) ||
      !RaisedByTenPercent(highest_tip, c.max_priority_fee_per_gas)) {
    return Conflict(absl::StrCat(
        "anti-equivocation: ", where, "; a replacement must raise both max_fee_per_gas (highest so far ",
        highest_fee.ToDecimal(), ") and max_priority_fee_per_gas (", highest_tip.ToDecimal(), ") by at least 10%"));
  }
  v.kind = Verdict::Kind::kFeeBump;
  v.replaced = latest.tx_hash;
  v.replaced_cost = Cost(latest.gas_limit, latest.max_fee_per_gas);
  v.slot_version = std::max<uint32_t>(highest_version, static_cast<uint32_t>(rows.size())) + 1;
  return v;
}

void Store::AcquireAsync(const SlotKey& key, SlotLocks::Then then) { slot_locks_.Acquire(key, std::move(then)); }

std::shared_ptr<Store::Slot> Store::Acquire(const SlotKey& key) {
  std::promise<std::shared_ptr<Slot>> held;
  AcquireAsync(key, [&held](std::shared_ptr<Slot> slot) { held.set_value(std::move(slot)); });
  return held.get_future().get();
}

Store::~Store() { StopGroupCommit(); }

void Store::StopGroupCommit() {
  if (group_commit_ != nullptr) group_commit_->Stop();
  slot_locks_.Stop();
}

void Store::RecordAsync(Record record, std::function<void(absl::Status)> done) {
  if (record.stop_at_refusal != nullptr) record.stop_at_refusal->queued.store(true);
  group_commit_->Enqueue(std::move(record), std::move(done));
}

uint64_t Store::commits() const { return group_commit_->commits(); }
uint64_t Store::records_written() const { return group_commit_->records_written(); }

absl::Status Store::RecordSync(Record record) {
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  absl::Status result;
  RecordAsync(std::move(record), [&](absl::Status s) {
    std::lock_guard<std::mutex> lock(mu);
    result = std::move(s);
    finished = true;
    cv.notify_one();
  });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return finished; });
  return result;
}

}  // namespace signer::equivocation
