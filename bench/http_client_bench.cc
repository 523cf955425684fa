// One HTTP/1.1 keep-alive exchange over loopback TCP: `platform::http::Client::Send` (a POST with
// a ~500-byte JSON body) against a raw blocking socket exchanging the same bytes on its own
// connection (write the request, read until the response is complete), both against one local
// server in this process. The argument is the JSON answer's size: 300 bytes (a JSON-RPC call's)
// and 8,906 bytes (a deploy's pre-check batch, whose eth_getCode carries the KMS contract's code).
//
// The benchmark's CPU time is the calling thread's (the client's); the server's CPU per exchange
// (its connection thread's clock) is the `server_us` counter, the same work for both rows. The
// `process_time` rows measure the whole process (client + server) instead.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "benchmark/benchmark.h"
#include "platform/http/client.h"
#include "platform/http/url.h"

namespace {

std::string JsonOf(size_t size) {
  std::string s = R"({"jsonrpc":"2.0","id":7,"result":")";
  s.append(size - s.size() - 2, 'a');
  s += "\"}";
  return s;
}

const std::string& RequestBody() {
  static const std::string body = JsonOf(500);
  return body;
}

constexpr size_t kSmallAnswer = 300;
constexpr size_t kLargeAnswer = 8906;

std::string ResponseOf(size_t body_size) {
  const std::string body = JsonOf(body_size);
  return absl::StrCat("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ", body.size(), "\r\n\r\n",
                      body);
}

// The answer to a request for /rpc/<body size> (one of the two sizes).
const std::string& ResponseBytes(size_t body_size) {
  static const std::string small = ResponseOf(kSmallAnswer);
  static const std::string large = ResponseOf(kLargeAnswer);
  return body_size == kLargeAnswer ? large : small;
}

std::string Target(size_t body_size) { return absl::StrCat("/rpc/", body_size); }

// The answer's body size a request asks for ("POST /rpc/<n> HTTP/1.1...").
size_t RequestedSize(absl::string_view request) {
  constexpr absl::string_view kPrefix = "POST /rpc/";
  size_t n = 0;
  if (!absl::StartsWith(request, kPrefix)) return kSmallAnswer;
  const absl::string_view rest = request.substr(kPrefix.size());
  return absl::SimpleAtoi(rest.substr(0, rest.find(' ')), &n) ? n : kSmallAnswer;
}

int64_t ThreadCpuNanos() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// The whole request (header and Content-Length body) is in `in`: its size, or 0.
size_t CompleteRequest(absl::string_view in) {
  const size_t end = in.find("\r\n\r\n");
  if (end == absl::string_view::npos) return 0;
  size_t length = 0;
  for (absl::string_view rest = in.substr(0, end); !rest.empty();) {
    const size_t eol = rest.find("\r\n");
    const absl::string_view line = rest.substr(0, eol);
    rest = eol == absl::string_view::npos ? absl::string_view() : rest.substr(eol + 2);
    if (absl::StartsWithIgnoreCase(line, "content-length:")) {
      if (!absl::SimpleAtoi(line.substr(15), &length)) return 0;
    }
  }
  return in.size() >= end + 4 + length ? end + 4 + length : 0;
}

// Keep-alive HTTP/1.1 on 127.0.0.1, one thread per connection, the same answer to every request.
class Server {
 public:
  Server() {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listener_, 16);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~Server() {
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    acceptor_.join();
    for (std::thread& t : connections_) t.join();
  }
  uint16_t port() const { return port_; }
  int64_t cpu_nanos() const { return cpu_nanos_.load(); }

 private:
  void Accept() {
    for (;;) {
      const int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) return;
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      connections_.emplace_back([this, fd] { Serve(fd); });
    }
  }
  void Serve(int fd) {
    std::string in;
    char buf[4096];
    int64_t last = ThreadCpuNanos();
    for (;;) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
      while (const size_t used = CompleteRequest(in)) {
        const std::string& out = ResponseBytes(RequestedSize(in));
        in.erase(0, used);
        if (::send(fd, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) break;
        const int64_t now = ThreadCpuNanos();
        cpu_nanos_ += now - last;
        last = now;
      }
    }
    ::close(fd);
  }

  int listener_ = -1;
  uint16_t port_ = 0;
  std::thread acceptor_;
  std::vector<std::thread> connections_;  // joined after the acceptor ended
  std::atomic<int64_t> cpu_nanos_{0};
};

Server& TheServer() {
  static Server* server = new Server();  // serves until the process ends
  return *server;
}

platform::http::Request TheRequest(size_t answer_size) {
  return {.method = "POST",
          .target = Target(answer_size),
          .headers = {{"User-Agent", "onchain-kms-bench/1"},
                      {"Content-Type", "application/json"},
                      {"Accept", "application/json"}},
          .body = RequestBody()};
}

// The bytes Client::Send writes for TheRequest().
std::string RequestBytes(uint16_t port, size_t answer_size) {
  return absl::StrCat("POST ", Target(answer_size), " HTTP/1.1\r\nHost: 127.0.0.1:", port,
                      "\r\nUser-Agent: onchain-kms-bench/1\r\nContent-Type: application/json\r\n"
                      "Accept: application/json\r\nContent-Length: ",
                      RequestBody().size(), "\r\n\r\n", RequestBody());
}

void ServerCounter(benchmark::State& state, int64_t server_before) {
  if (state.iterations() == 0) return;
  state.counters["server_us"] =
      static_cast<double>(TheServer().cpu_nanos() - server_before) / 1e3 / static_cast<double>(state.iterations());
}

void BM_RawSocket(benchmark::State& state) {
  Server& server = TheServer();
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(server.port());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) state.SkipWithError("connect");
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const size_t answer_size = static_cast<size_t>(state.range(0));
  const std::string request = RequestBytes(server.port(), answer_size);
  const size_t want = ResponseBytes(answer_size).size();
  std::string in(want, '\0');
  const int64_t server_before = server.cpu_nanos();
  for (auto _ : state) {
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
      state.SkipWithError("send");
      break;
    }
    for (size_t got = 0; got < want;) {
      const ssize_t n = ::recv(fd, in.data() + got, want - got, 0);
      if (n <= 0) {
        state.SkipWithError("recv");
        break;
      }
      got += static_cast<size_t>(n);
    }
    benchmark::DoNotOptimize(in);
  }
  ServerCounter(state, server_before);
  ::close(fd);
}
BENCHMARK(BM_RawSocket)->Arg(kSmallAnswer)->Arg(kLargeAnswer);
BENCHMARK(BM_RawSocket)->Arg(kSmallAnswer)->Arg(kLargeAnswer)->MeasureProcessCPUTime();

void BM_ClientSend(benchmark::State& state) {
  Server& server = TheServer();
  absl::StatusOr<platform::http::Url> url = platform::http::ParseUrl(absl::StrCat("http://127.0.0.1:", server.port()));
  absl::StatusOr<std::unique_ptr<platform::http::Client>> client = platform::http::Client::Create(*url, {});
  if (!client.ok()) {
    state.SkipWithError("client");
    return;
  }
  const size_t answer_size = static_cast<size_t>(state.range(0));
  const platform::http::Request request = TheRequest(answer_size);
  if (!(*client)->Send(request).ok()) state.SkipWithError("first send");  // connected outside the loop
  const int64_t server_before = server.cpu_nanos();
  for (auto _ : state) {
    absl::StatusOr<platform::http::Response> res = (*client)->Send(request);
    if (!res.ok() || res->body.size() != answer_size) {
      state.SkipWithError("send");
      break;
    }
    benchmark::DoNotOptimize(res);
  }
  ServerCounter(state, server_before);
}
BENCHMARK(BM_ClientSend)->Arg(kSmallAnswer)->Arg(kLargeAnswer);
BENCHMARK(BM_ClientSend)->Arg(kSmallAnswer)->Arg(kLargeAnswer)->MeasureProcessCPUTime();

}  // namespace
