#include "platform/transport/caller.h"

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace platform {
namespace {

// std::visit over a set of lambdas.
template <typename... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <typename... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace

std::string Caller::JournalKey() const {
  return std::visit(Overloaded{
                        [](const UnixPeer& p) { return absl::StrCat("uid:", p.uid); },
                        [](const TlsClient& c) {
                          return absl::StrCat("cert:",
                                              c.allowed_name.empty() ? c.cert_sha256.substr(0, 16) : c.allowed_name);
                        },
                        [](const BearerToken& t) { return absl::StrCat("token:", t.name); },
                        [](const InsecureLoopback&) { return std::string("insecure"); },
                    },
                    identity_);
}

std::string Caller::ToString() const {
  return std::visit(
      Overloaded{
          [](const UnixPeer& p) { return absl::StrCat("unix uid=", p.uid, " gid=", p.gid, " pid=", p.pid); },
          [](const TlsClient& c) {
            return absl::StrCat("mtls cert_sha256=", c.cert_sha256, " subject=\"", c.subject, "\"");
          },
          [](const BearerToken& t) { return absl::StrCat("token name=", t.name); },
          [](const InsecureLoopback& l) { return absl::StrCat("insecure-loopback ", l.peer); },
      },
      identity_);
}

boost::json::object Caller::AuditJson(boost::json::storage_ptr sp) const {
  boost::json::object o(std::move(sp));
  std::visit(Overloaded{
                 [&](const UnixPeer& p) {
                   o["transport"] = "unix";
                   o["uid"] = static_cast<int64_t>(p.uid);
                   o["gid"] = static_cast<int64_t>(p.gid);
                   o["pid"] = static_cast<int64_t>(p.pid);
                 },
                 [&](const TlsClient& c) {
                   o["transport"] = "mtls";
                   o["cert_sha256"] = c.cert_sha256;
                   o["subject"] = c.subject;
                   o["peer"] = c.peer;
                 },
                 [&](const BearerToken& t) {
                   o["transport"] = "token";
                   o["name"] = t.name;
                   o["peer"] = t.peer;
                 },
                 [&](const InsecureLoopback& l) {
                   o["transport"] = "insecure-loopback";
                   o["peer"] = l.peer;
                 },
             },
             identity_);
  return o;
}

}  // namespace platform
