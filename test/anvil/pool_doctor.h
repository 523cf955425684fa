// Works around an anvil bug (foundry-rs/foundry#10122; still in the pinned 1.7.1): transactions of
// one sender that arrive out of nonce order at the same moment are now and then left in the pool's
// "queued" part although the lowest of them carries the sender's next nonce. No block ever takes
// them (evm_mine neither), so a test that broadcasts from one key on several threads waits until
// its deadline. A real node promotes such transactions; our allocator would replace the first one
// with a fee bump after stuck_after, which tests that count signatures turn off.
//
// Every `interval` the doctor looks for a sender whose lowest queued nonce equals its transaction
// count with nothing of it pending. Seen so on two polls in a row (the same transaction), it takes
// that sender's queued transactions out of the pool and sends the same bytes again in nonce order,
// which anvil then mines as usual. Each repair is logged to stderr. A genuine nonce gap (a
// transaction dropped on purpose) is left alone: its lowest queued nonce is above the count.
#ifndef ONCHAIN_KMS_TEST_ANVIL_POOL_DOCTOR_H_
#define ONCHAIN_KMS_TEST_ANVIL_POOL_DOCTOR_H_

#include <cstdint>
#include <map>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "test/anvil/json_rpc.h"

namespace anvil {

class PoolDoctor {
 public:
  PoolDoctor(std::string host, uint16_t port, absl::Duration interval = absl::Milliseconds(250));
  ~PoolDoctor();  // stops the thread (within one call's timeout)
  PoolDoctor(const PoolDoctor&) = delete;
  PoolDoctor& operator=(const PoolDoctor&) = delete;

  // Transactions sent again so far.
  int resent() const;

 private:
  void Run();
  void Examine();
  void Repair(const std::string& sender);

  const JsonRpcClient rpc_;
  const absl::Duration interval_;
  // Per sender, the stranded-looking transaction seen by the last poll.
  std::map<std::string, std::string> suspects_;
  mutable absl::Mutex mu_;
  int resent_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace anvil

#endif  // ONCHAIN_KMS_TEST_ANVIL_POOL_DOCTOR_H_
