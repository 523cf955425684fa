// A Boost.Beast HTTP/1.1 server (keep-alive, optional TLS) that hands each request to a
// synchronous handler on one of its I/O threads, after consulting a fault hook (latency, error
// status, 429, dropped connection). The simulator and the tests' fake JSON-RPC node both use it.
#ifndef ONCHAIN_KMS_TEST_CLOUDSIM_SERVER_H_
#define ONCHAIN_KMS_TEST_CLOUDSIM_SERVER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "test/cloudsim/faults.h"
#include "test/cloudsim/http_types.h"

namespace cloudsim {

struct ServerOptions {
  std::string listen_address = "127.0.0.1";
  uint16_t port = 0;  // 0 = pick a free port
  int threads = 4;
  std::string tls_cert_file;  // PEM; TLS when both files are set
  std::string tls_key_file;
  size_t body_limit = 8 * 1024 * 1024;
  absl::Duration idle_timeout = absl::Seconds(120);
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  using FaultHook = std::function<FaultDecision(const HttpRequest&)>;
  // Called once per request just before its response is written (nullptr = dropped), so the
  // record exists by the time the client has the response.
  using Recorder =
      std::function<void(const HttpRequest&, const HttpResponse*, const std::string& fault, int64_t duration_ms)>;

  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const ServerOptions& options, Handler handler,
                                                           FaultHook faults = nullptr, Recorder recorder = nullptr);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const { return port_; }
  bool tls() const { return tls_; }
  // Graceful: stops accepting, lets in-flight requests finish (up to `grace`), stops the I/O
  // threads. Idempotent.
  void Stop(absl::Duration grace = absl::Seconds(5));

  struct Impl;

 private:
  explicit HttpServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  bool tls_ = false;
  std::atomic<bool> stopped_{false};
};

}  // namespace cloudsim

#endif  // ONCHAIN_KMS_TEST_CLOUDSIM_SERVER_H_
