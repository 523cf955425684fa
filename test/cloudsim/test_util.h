// Test helpers: a blocking HTTP/1.1 client (keep-alive, optional TLS without verification), an
// in-process simulator on port 0 over a temporary SQLite file, and a fake JSON-RPC chain whose
// answers the test scripts (registered apps, owners, allowed hashes, receipts).
#ifndef ONCHAIN_KMS_TEST_CLOUDSIM_TEST_UTIL_H_
#define ONCHAIN_KMS_TEST_CLOUDSIM_TEST_UTIL_H_

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "test/cloudsim/server.h"
#include "test/cloudsim/simulator.h"

namespace cloudsim::testing {

// The string member `key` of the JSON object `v` (throws if it is missing or not a string).
std::string StringAt(const boost::json::value& v, const char* key);

struct Reply {
  int status = 0;                              // 0 = connection closed without a response
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  boost::json::value json() const;
};

class HttpClient {
 public:
  HttpClient(std::string host, uint16_t port, bool tls = false);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Reuses the connection while the server keeps it alive; reconnects otherwise.
  Reply Send(const std::string& method, const std::string& target, const std::string& body = "",
             std::map<std::string, std::string> headers = {});
  int connects() const { return connects_; }

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  int connects_ = 0;
};

// The addresses tests register on a FakeChain (40 lower-case hex, no 0x): where anvil puts the
// DstackKms factory and the first DstackApp, and anvil's account #0 as their deployer.
inline constexpr char kKms[] = "5fbdb2315678afecb367f032d93f642f64180aa3";
inline constexpr char kApp[] = "a16e02e87b7454126e5e10d957a927a7f5b5d2be";
inline constexpr char kDeployer[] = "f39fd6e51aad88f6f4ce6ab8827279cfffb92266";

class FakeChain {
 public:
  FakeChain();
  ~FakeChain();
  std::string url() const;

  // app ids / addresses / hashes: 40 or 64 lower-case hex without 0x.
  void RegisterApp(const std::string& kms, const std::string& app, const std::string& deployer);
  void AllowHash(const std::string& app, const std::string& hash);
  void DisallowHash(const std::string& app, const std::string& hash);
  // A mined receipt for `tx` with status 1/0 and one ComposeHashAdded(hash) log from `emitter`.
  void AddComposeHashTx(const std::string& tx, const std::string& emitter, const std::string& hash,
                        bool success = true);
  int calls(const std::string& method);

 private:
  HttpResponse Handle(const HttpRequest& req);
  boost::json::value Dispatch(const std::string& method, const boost::json::array& params);

  absl::Mutex mu_;
  std::map<std::string, std::set<std::string>> registered_ ABSL_GUARDED_BY(mu_);  // kms -> apps
  std::map<std::string, std::string> owner_ ABSL_GUARDED_BY(mu_);                 // app -> owner
  std::map<std::string, std::string> kms_of_ ABSL_GUARDED_BY(mu_);                // app -> kms
  std::map<std::string, std::set<std::string>> allowed_ ABSL_GUARDED_BY(mu_);     // app -> hashes
  std::map<std::string, boost::json::object> receipts_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> calls_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<HttpServer> server_;
};

// A simulator + server in this process. `db` empty = a fresh temporary file.
class SimInstance {
 public:
  explicit SimInstance(SimConfig config, std::string db = "", ServerOptions options = {});
  ~SimInstance();
  void Stop();

  Reply Api(const std::string& method, const std::string& path, const std::string& body = "",
            std::map<std::string, std::string> headers = {});
  Reply Admin(const std::string& method, const std::string& path, const std::string& body = "");
  Simulator& sim() { return *sim_; }
  HttpClient& client() { return *client_; }
  uint16_t port() const { return server_->port(); }
  const std::string& db() const { return db_; }
  static constexpr const char* kApiKey = "phak_cloudsim_test_key";

 private:
  std::string db_;
  std::unique_ptr<Simulator> sim_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<HttpClient> client_;
};

std::string TempPath(const std::string& name);

// A simulator whose on-chain KMS is kKms on `chain` (and a fixed gateway app id).
SimConfig OnchainConfig(const FakeChain& chain);

// The cloudsim binary as a child process (killed with the test: PR_SET_PDEATHSIG). Start()
// waits for the ready line; its stderr goes to `log_path`.
class SimProcess {
 public:
  static absl::StatusOr<std::unique_ptr<SimProcess>> Start(const std::string& binary,
                                                           const std::vector<std::string>& args,
                                                           const std::string& log_path,
                                                           absl::Duration timeout = absl::Seconds(20));
  ~SimProcess();
  const boost::json::object& ready() const { return ready_; }
  std::string base_url() const;
  std::string admin_url() const;
  int pid() const { return pid_; }
  // Sends `sig`, waits for the exit; returns the exit status (128+signal when killed).
  int Stop(int sig, absl::Duration timeout = absl::Seconds(10));

 private:
  SimProcess(int pid) : pid_(pid) {}
  int pid_;
  bool exited_ = false;
  boost::json::object ready_;
};

// Path of a data file or binary of this workspace inside the test's runfiles.
std::string Runfile(const std::string& workspace_relative);

}  // namespace cloudsim::testing

#endif  // ONCHAIN_KMS_TEST_CLOUDSIM_TEST_UTIL_H_
