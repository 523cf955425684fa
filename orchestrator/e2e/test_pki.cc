#include "orchestrator/e2e/test_pki.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "crypto/sha256.h"

namespace orchestrator::e2e {

absl::Status MakeTestPki(const std::string& dir, const std::vector<std::string>& clients) {
  const std::string names = absl::StrJoin(clients, " ");
  const std::string script = absl::StrCat(
      "set -e; cd ", dir, "\n",
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem "
      "-subj /CN=test-ca -days 1 2>/dev/null\n",
      "for n in server ", names, "; do\n",
      "  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout $n.key -out $n.csr -subj /CN=$n "
      "2>/dev/null\n",
      "done\n", "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > server.ext\n",
      "printf 'extendedKeyUsage=clientAuth\\n' > client.ext\n",
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 1 "
      "-extfile server.ext 2>/dev/null\n",
      "for n in ", names,
      "; do openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
      "-out $n.pem -days 1 -extfile client.ext 2>/dev/null; done\n",
      "chmod 600 *.key\n");
  { std::ofstream(dir + "/gen-pki.sh") << script; }
  if (std::system(("sh " + dir + "/gen-pki.sh").c_str()) != 0) return absl::InternalError("openssl failed");
  return absl::OkStatus();
}

std::string BearerTokenLine(absl::string_view name, absl::string_view token) {
  std::string hex;
  for (uint8_t b : crypto::Sha256(token)) absl::StrAppend(&hex, absl::Hex(b, absl::kZeroPad2));
  return absl::StrCat(name, " ", hex, "\n");
}

std::string ReadTextFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace orchestrator::e2e
