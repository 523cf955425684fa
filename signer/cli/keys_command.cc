#include "signer/cli/keys_command.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "chain/hex.h"
#include "chain/secp256k1.h"
#include "crypto/locked_buffer.h"
#include "crypto/random.h"
#include "signer/audit/audit_log.h"
#include "signer/keystore/password.h"
#include "signer/keystore/secret_file.h"

namespace signer::cli {
namespace {

int Usage(std::FILE* err) {
  std::fprintf(
      err,
      "usage:\n"
      "  signer keys new    --keystore_dir=DIR (--password_file=F | --password_env=VAR) [--kdf=scrypt|pbkdf2]\n"
      "  signer keys import --keystore_dir=DIR (--password_file=F | --password_env=VAR)  < hex key on stdin\n"
      "  signer keys list   --keystore_dir=DIR\n");
  return 2;
}

int Fail(std::FILE* err, const absl::Status& s) {
  std::fprintf(err, "signer keys: %s\n", std::string(s.message()).c_str());
  return 1;
}

// Addresses already in the directory (from the files' "address" fields).
std::vector<chain::Address> ExistingAddresses(const std::string& dir) {
  std::vector<chain::Address> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  for (dirent* e = ::readdir(d); e != nullptr; e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    absl::StatusOr<std::string> text = keystore::ReadPrivateFile(absl::StrCat(dir, "/", e->d_name), 64 * 1024);
    if (!text.ok()) continue;
    absl::StatusOr<keystore::KeystoreInfo> info = keystore::InspectKeystore(*text);
    if (info.ok() && info->address.has_value()) out.push_back(*info->address);
  }
  ::closedir(d);
  return out;
}

absl::Status EnsureDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat("cannot create ", dir, ": ", std::strerror(errno)));
}

// Encrypts and writes one key; prints {"address":..., "file":...}.
int Store(const KeysOptions& o, const crypto::LockedBuffer& secret, std::FILE* out, std::FILE* err) {
  absl::StatusOr<chain::Address> address = chain::AddressFromSecret(secret.view());
  if (!address.ok()) return Fail(err, absl::InvalidArgumentError("not a valid secp256k1 private key"));
  for (const chain::Address& a : ExistingAddresses(o.keystore_dir)) {
    if (a == *address)
      return Fail(err, absl::AlreadyExistsError(
                           absl::StrCat("key ", address->Checksummed(), " is already in ", o.keystore_dir)));
  }
  if (!o.password.has_file() && !o.password.has_env_var()) {
    return Fail(err, absl::InvalidArgumentError("a password is required: --password_file=F or --password_env=VAR"));
  }
  absl::StatusOr<crypto::LockedBuffer> password = keystore::ReadPassword(o.password, "password");
  if (!password.ok()) return Fail(err, password.status());
  if (o.encrypt.kdf == keystore::EncryptParams::Kdf::kScrypt && o.encrypt.scrypt_n < (uint64_t{1} << 18)) {
    std::fprintf(err, "signer keys: warning: scrypt n=%llu is weaker than geth's standard 2^18; for tests only\n",
                 static_cast<unsigned long long>(o.encrypt.scrypt_n));
  }
  absl::StatusOr<std::string> json = keystore::EncryptKeystore(secret.view(), password->view(), o.encrypt);
  if (!json.ok()) return Fail(err, json.status());
  if (absl::Status s = EnsureDir(o.keystore_dir); !s.ok()) return Fail(err, s);
  const std::string name = absl::StrCat(absl::FormatTime("UTC--%Y-%m-%dT%H-%M-%E9SZ", absl::Now(), absl::UTCTimeZone()),
                                        "--", address->Hex().substr(2));
  if (absl::Status s = keystore::WritePrivateFileAtomically(o.keystore_dir, name, *json); !s.ok()) return Fail(err, s);
  std::fprintf(out, "{\"address\":\"%s\",\"file\":\"%s/%s\"}\n", address->Checksummed().c_str(), o.keystore_dir.c_str(),
               name.c_str());
  return 0;
}

int New(const KeysOptions& o, std::FILE* out, std::FILE* err) {
  absl::StatusOr<crypto::LockedBuffer> secret = crypto::LockedBuffer::Allocate(32);
  if (!secret.ok()) return Fail(err, secret.status());
  for (int attempt = 0;; ++attempt) {
    if (absl::Status s = crypto::RandomFill(secret->span()); !s.ok()) return Fail(err, s);
    if (chain::ValidateSecret(secret->view()).ok()) break;  // fails with probability ~2^-128
    if (attempt > 8) return Fail(err, absl::InternalError("random source produced no valid key"));
  }
  return Store(o, *secret, out, err);
}

int Import(const KeysOptions& o, std::FILE* out, std::FILE* err) {
  absl::StatusOr<crypto::LockedBuffer> input = crypto::LockedBuffer::Allocate(256);
  if (!input.ok()) return Fail(err, input.status());
  size_t n = 0;
  while (n < input->size()) {
    const ssize_t r = ::read(o.stdin_fd, input->data() + n, input->size() - n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    n += static_cast<size_t>(r);
  }
  if (n == input->size()) return Fail(err, absl::InvalidArgumentError("standard input: too long for a private key"));
  size_t begin = 0, end = n;
  while (begin < end && absl::ascii_isspace(input->data()[begin])) ++begin;
  while (end > begin && absl::ascii_isspace(input->data()[end - 1])) --end;
  if (end - begin >= 2 && input->data()[begin] == '0' && (input->data()[begin + 1] | 0x20) == 'x') begin += 2;
  if (end - begin != 64) {
    return Fail(err,
                absl::InvalidArgumentError("standard input: want a private key of 64 hex digits (\"0x\" optional)"));
  }
  absl::StatusOr<crypto::LockedBuffer> secret = crypto::LockedBuffer::Allocate(32);
  if (!secret.ok()) return Fail(err, secret.status());
  absl::Status s = chain::FromHexInto(absl::string_view(reinterpret_cast<const char*>(input->data() + begin), 64),
                                      secret->span(), chain::HexPrefix::kForbidden, "private key");
  input->Release();
  if (!s.ok()) return Fail(err, absl::InvalidArgumentError("standard input: not hex"));
  return Store(o, *secret, out, err);
}

int List(const KeysOptions& o, std::FILE* out, std::FILE* err) {
  DIR* d = ::opendir(o.keystore_dir.c_str());
  if (d == nullptr) return Fail(err, absl::NotFoundError(absl::StrCat(o.keystore_dir, ": ", std::strerror(errno))));
  std::vector<std::string> names;
  for (dirent* e = ::readdir(d); e != nullptr; e = ::readdir(d)) {
    if (e->d_name[0] != '.') names.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  int rc = 0;
  for (const std::string& name : names) {
    absl::StatusOr<std::string> text = keystore::ReadPrivateFile(absl::StrCat(o.keystore_dir, "/", name), 64 * 1024);
    absl::StatusOr<keystore::KeystoreInfo> info =
        text.ok() ? keystore::InspectKeystore(*text) : absl::StatusOr<keystore::KeystoreInfo>(text.status());
    if (!info.ok()) {
      std::fprintf(err, "signer keys: %s: %s\n", name.c_str(), std::string(info.status().message()).c_str());
      rc = 1;
      continue;
    }
    std::fprintf(out, "{\"address\":\"%s\",\"label\":\"%s\",\"kdf\":\"%s\"}\n",
                 info->address.has_value() ? info->address->Checksummed().c_str() : "", name.c_str(),
                 info->kdf.c_str());
  }
  return rc;
}

}  // namespace

int RunKeysCommand(const std::vector<std::string>& args, const KeysOptions& options, std::FILE* out, std::FILE* err) {
  if (args.size() != 1) return Usage(err);
  if (options.keystore_dir.empty()) {
    std::fprintf(err, "signer keys: --keystore_dir (or keystore_dir in --config) is required\n");
    return 2;
  }
  if (args[0] == "new") return New(options, out, err);
  if (args[0] == "import") return Import(options, out, err);
  if (args[0] == "list") return List(options, out, err);
  return Usage(err);
}

int RunAuditCommand(const std::vector<std::string>& args, const std::string& expect_head, std::FILE* out,
                    std::FILE* err) {
  if (args.size() != 2 || args[0] != "verify") {
    std::fprintf(err, "usage: signer audit verify [--expect_head=HASH] FILE\n");
    return 2;
  }
  const std::string head = absl::AsciiStrToLower(absl::StripPrefix(expect_head, "0x"));
  if (!expect_head.empty() && (head.size() != 64 || !chain::FromHex(head, chain::HexPrefix::kForbidden).ok())) {
    std::fprintf(err,
                 "signer audit verify: --expect_head must be 64 hex digits (the audit_head the signer logs at "
                 "start and stop)\n");
    return 2;
  }
  audit::VerifyResult r = audit::VerifyAuditLog(args[1], head);
  if (r.ok) {
    std::fprintf(out, "%s: %s\n", args[1].c_str(), r.message.c_str());
    for (const std::string& note : r.notes) std::fprintf(out, "%s: repair: %s\n", args[1].c_str(), note.c_str());
    return 0;
  }
  std::fprintf(err, "%s: %s\n", args[1].c_str(), r.message.c_str());
  return r.bad_line == 0 && !r.head_missing ? 2 : 1;
}

}  // namespace signer::cli
