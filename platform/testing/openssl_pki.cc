#include "platform/testing/openssl_pki.h"

#include <unistd.h>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "platform/testing/server_process.h"

namespace platform::testing {

bool HaveOpenssl() { return ::access("/usr/bin/openssl", X_OK) == 0; }

absl::Status MakeOpensslPki(const std::string& dir, const std::vector<std::string>& client_names) {
  const std::string script = absl::StrCat(
      "set -e; cd ", dir, "; exec 2>/dev/null; ", "openssl ecparam -name prime256v1 -genkey -noout -out ca.key; ",
      "openssl req -x509 -new -key ca.key -subj /CN=test-ca -days 2 -out ca.pem; ",
      "printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext; ", "for n in server ", absl::StrJoin(client_names, " "),
      "; do openssl ecparam -name prime256v1 -genkey -noout -out $n.key; ",
      "openssl req -new -key $n.key -subj /CN=$n -out $n.csr; ",
      "if [ $n = server ]; then e='-extfile san.ext'; else e=''; fi; ",
      "openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 $e -out $n.pem; done");
  absl::StatusOr<int> code = RunProgram("/bin/sh", {"-c", script}, {});
  if (!code.ok()) return code.status();
  if (*code != 0) return absl::InternalError(absl::StrCat("making a test PKI with openssl in ", dir, ": exit ", *code));
  return absl::OkStatus();
}

}  // namespace platform::testing
