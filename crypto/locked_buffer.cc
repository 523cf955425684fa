#include "crypto/locked_buffer.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "crypto/secure_wipe.h"

namespace crypto {

absl::StatusOr<LockedBuffer> LockedBuffer::Allocate(size_t n) {
  if (n == 0 || n > (size_t{1} << 20)) return absl::InvalidArgumentError("locked buffer: size must be 1..1 MiB");
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t mapped = (n + page - 1) / page * page;
  void* p = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return absl::InternalError(absl::StrCat("locked buffer: mmap: ", std::strerror(errno)));
  if (::mlock(p, mapped) != 0) {
    const int err = errno;
    ::munmap(p, mapped);
    return absl::ResourceExhaustedError(absl::StrCat("locked buffer: mlock: ", std::strerror(err),
                                                     " (raise RLIMIT_MEMLOCK / ulimit -l or grant CAP_IPC_LOCK)"));
  }
  // Best effort: not every kernel knows these; the memory is locked either way.
  (void)::madvise(p, mapped, MADV_DONTDUMP);
  (void)::madvise(p, mapped, MADV_DONTFORK);
  return LockedBuffer(static_cast<uint8_t*>(p), n, mapped);
}

LockedBuffer::~LockedBuffer() { Release(); }

LockedBuffer::LockedBuffer(LockedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      mapped_(std::exchange(other.mapped_, 0)) {}

LockedBuffer& LockedBuffer::operator=(LockedBuffer&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    mapped_ = std::exchange(other.mapped_, 0);
  }
  return *this;
}

void LockedBuffer::Release() {
  if (data_ == nullptr) return;
  SecureWipe(data_, mapped_);
  ::munlock(data_, mapped_);
  ::munmap(data_, mapped_);
  data_ = nullptr;
  size_ = 0;
  mapped_ = 0;
}

}  // namespace crypto
