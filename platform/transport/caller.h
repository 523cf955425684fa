// Who called one of our gRPC services, as the transport established it (platform/transport/
// transport.h). One value, rendered three ways for the places that record it:
//
//   kind               JournalKey()       AuditJson() (the signer's audit log)
//   unix peer          "uid:1000"         {"transport":"unix","uid":1000,"gid":1000,"pid":42}
//   TLS client         "cert:<name>"      {"transport":"mtls","cert_sha256":..,"subject":..,"peer":..}
//   bearer token       "token:<name>"     {"transport":"token","name":..,"peer":..}
//   insecure loopback  "insecure"         {"transport":"insecure-loopback","peer":..}
//
// The journal key scopes the orchestrator's request ids and the audit object is hash-chained in
// the signer's audit log: both forms are persisted, so they never change. A Caller never holds
// a secret: a bearer token is known only by the name its digest is listed under.
#ifndef ONCHAIN_KMS_PLATFORM_TRANSPORT_CALLER_H_
#define ONCHAIN_KMS_PLATFORM_TRANSPORT_CALLER_H_

#include <sys/types.h>

#include <string>
#include <variant>
#include <vector>

#include <boost/json/object.hpp>

namespace platform {

class Caller {
 public:
  // A Unix-socket peer, from SO_PEERCRED at accept time.
  struct UnixPeer {
    uid_t uid = 0;
    gid_t gid = 0;
    pid_t pid = 0;
  };
  // A verified TLS client certificate on the allowlist.
  struct TlsClient {
    std::string cert_sha256;         // lowercase hex of the DER certificate's SHA-256
    std::string subject;             // RFC 2253 one-line form
    std::vector<std::string> names;  // CN and SANs, as gRPC's auth context lists them
    std::string allowed_name;        // the allowlisted name that admitted it; empty: the fingerprint did
    std::string peer;                // gRPC peer, "ipv4:10.0.0.2:51234"
  };
  // A bearer token whose digest is listed under `name`.
  struct BearerToken {
    std::string name;
    std::string peer;
  };
  // Plaintext TCP on loopback (insecure_loopback): nothing is known but the peer address.
  struct InsecureLoopback {
    std::string peer;
  };
  using Identity = std::variant<UnixPeer, TlsClient, BearerToken, InsecureLoopback>;

  explicit Caller(Identity identity) : identity_(std::move(identity)) {}

  const Identity& identity() const { return identity_; }

  // The stable key the orchestrator journals (see the file comment). A TLS client admitted by
  // its fingerprint is "cert:" + the first 16 hex digits of it.
  std::string JournalKey() const;
  // Short form for logs: "unix uid=1000 gid=1000 pid=42", "mtls cert_sha256=.. subject=\"..\"",
  // "token name=ci", "insecure-loopback ipv4:127.0.0.1:5555".
  std::string ToString() const;
  // The object the signer's audit log records (key order included: the log is hash-chained),
  // allocated from `sp` (the signer builds it straight into its request's audit arena).
  boost::json::object AuditJson(boost::json::storage_ptr sp = {}) const;

 private:
  Identity identity_;
};

}  // namespace platform

#endif  // ONCHAIN_KMS_PLATFORM_TRANSPORT_CALLER_H_
