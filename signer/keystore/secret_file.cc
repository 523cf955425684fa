#include "signer/keystore/secret_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "crypto/random.h"
#include "crypto/secure_wipe.h"
#include "platform/secret_file_permissions.h"
#include "platform/status_macros.h"

namespace signer::keystore {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// Opens and checks the file; returns the fd and its size.
absl::StatusOr<int> OpenPrivate(const std::string& path, size_t max_bytes, size_t* size) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below as not a regular
  // file); it changes nothing for regular files.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return absl::NotFoundError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  struct stat st;
  if (absl::Status checked = platform::CheckSecretFile(fd, path, path, &st); !checked.ok()) {
    ::close(fd);
    return checked;
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, ": larger than ", max_bytes, " bytes"));
  }
  *size = static_cast<size_t>(st.st_size);
  return fd;
}

absl::Status ReadAll(int fd, uint8_t* out, size_t size, size_t* got) {
  size_t off = 0;
  while (off < size) {
    const ssize_t n = ::read(fd, out + off, size - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::InternalError(absl::StrCat("read: ", std::strerror(errno)));
    if (n == 0) break;
    off += static_cast<size_t>(n);
  }
  *got = off;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ReadPrivateFile(const std::string& path, size_t max_bytes) {
  size_t size = 0;
  absl::StatusOr<int> fd = OpenPrivate(path, max_bytes, &size);
  if (!fd.ok()) return fd.status();
  Fd owner(*fd);
  std::string out(size, '\0');
  size_t got = 0;
  RETURN_IF_ERROR(ReadAll(*fd, reinterpret_cast<uint8_t*>(out.data()), size, &got));
  out.resize(got);
  return out;
}

absl::StatusOr<crypto::LockedBuffer> ReadSecretFile(const std::string& path) {
  constexpr size_t kMax = 4096;
  size_t size = 0;
  absl::StatusOr<int> fd = OpenPrivate(path, kMax, &size);
  if (!fd.ok()) return fd.status();
  Fd owner(*fd);
  absl::StatusOr<crypto::LockedBuffer> buf = crypto::LockedBuffer::Allocate(kMax);
  if (!buf.ok()) return buf.status();
  size_t got = 0;
  RETURN_IF_ERROR(ReadAll(*fd, buf->data(), size, &got));
  if (got > 0 && buf->data()[got - 1] == '\n') --got;
  if (got > 0 && buf->data()[got - 1] == '\r') --got;
  if (got == 0) return absl::InvalidArgumentError(absl::StrCat(path, ": empty password file"));
  absl::StatusOr<crypto::LockedBuffer> out = crypto::LockedBuffer::Allocate(got);
  if (!out.ok()) return out.status();
  std::memcpy(out->data(), buf->data(), got);
  return out;  // `buf` is wiped on destruction
}

absl::Status WritePrivateFileAtomically(const std::string& dir, const std::string& name, absl::string_view content) {
  const std::string final_path = absl::StrCat(dir, "/", name);
  struct stat st;
  if (::lstat(final_path.c_str(), &st) == 0) return absl::AlreadyExistsError(absl::StrCat(final_path, ": exists"));
  absl::StatusOr<crypto::Bytes> rnd = crypto::RandomBytes(8);
  if (!rnd.ok()) return rnd.status();
  std::string tmp = absl::StrCat(dir, "/.", name, ".tmp-");
  for (uint8_t b : *rnd) absl::StrAppend(&tmp, absl::Hex(b, absl::kZeroPad2));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Errno("create", tmp);
  absl::Status status = absl::OkStatus();
  if (::fchmod(fd, 0600) != 0) status = Errno("fchmod", tmp);  // whatever the umask was
  size_t off = 0;
  while (status.ok() && off < content.size()) {
    const ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      status = Errno("write", tmp);
    else
      off += static_cast<size_t>(n);
  }
  if (status.ok() && ::fsync(fd) != 0) status = Errno("fsync", tmp);
  ::close(fd);
  // link() instead of rename(): it fails if the target appeared meanwhile, never overwriting a key.
  if (status.ok() && ::link(tmp.c_str(), final_path.c_str()) != 0) {
    status =
        errno == EEXIST ? absl::AlreadyExistsError(absl::StrCat(final_path, ": exists")) : Errno("link", final_path);
  }
  ::unlink(tmp.c_str());
  if (!status.ok()) return status;
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Errno("open directory", dir);
  const int rc = ::fsync(dfd);
  ::close(dfd);
  if (rc != 0) return Errno("fsync directory", dir);
  return absl::OkStatus();
}

}  // namespace signer::keystore
