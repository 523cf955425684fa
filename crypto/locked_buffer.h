// Memory for key material that must not reach swap or a core dump: its own anonymous mapping,
// mlock()ed, excluded from core dumps (MADV_DONTDUMP) and wiped (OPENSSL_cleanse) before it is
// unmapped. Move-only.
//
// mlock counts against RLIMIT_MEMLOCK (often 64 KiB or 8 MiB in containers): each buffer takes
// at least one page, so keep one buffer per secret and few secrets.
#ifndef ONCHAIN_KMS_CRYPTO_LOCKED_BUFFER_H_
#define ONCHAIN_KMS_CRYPTO_LOCKED_BUFFER_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "crypto/bytes.h"

namespace crypto {

class LockedBuffer {
 public:
  // n zero bytes (1 <= n <= 1 MiB) in locked memory. ResourceExhausted when mlock is refused
  // (raise RLIMIT_MEMLOCK or grant CAP_IPC_LOCK), Internal when mmap fails.
  static absl::StatusOr<LockedBuffer> Allocate(size_t n);

  LockedBuffer() = default;
  ~LockedBuffer();
  LockedBuffer(LockedBuffer&& other) noexcept;
  LockedBuffer& operator=(LockedBuffer&& other) noexcept;
  LockedBuffer(const LockedBuffer&) = delete;
  LockedBuffer& operator=(const LockedBuffer&) = delete;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  ByteView view() const { return ByteView(data_, size_); }
  absl::Span<uint8_t> span() { return absl::Span<uint8_t>(data_, size_); }

  // Wipes, unlocks and unmaps; the buffer is then empty.
  void Release();

 private:
  LockedBuffer(uint8_t* data, size_t size, size_t mapped) : data_(data), size_(size), mapped_(mapped) {}
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t mapped_ = 0;
};

}  // namespace crypto

#endif  // ONCHAIN_KMS_CRYPTO_LOCKED_BUFFER_H_
