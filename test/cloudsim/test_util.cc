#include "test/cloudsim/test_util.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "test/cloudsim/eth_forms.h"
#include "test/cloudsim/sim_crypto.h"

namespace cloudsim::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

json::value Reply::json() const {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  return ec ? json::value(nullptr) : v;
}

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir ? dir : "/tmp", "/", name, "-", RandomHex(6));
}

std::string StringAt(const json::value& v, const char* key) { return std::string(v.at(key).as_string()); }

SimConfig OnchainConfig(const FakeChain& chain) {
  SimConfig c;
  c.rpc_url = chain.url();
  c.kms_contract = std::string("0x") + kKms;
  c.gateway_app_id = "0x1111111111111111111111111111111111111111";
  return c;
}

// ---------------------------------------------------------------------------------------------

struct HttpClient::Impl {
  std::string host;
  uint16_t port;
  bool tls;
  asio::io_context ioc;
  ssl::context ctx{ssl::context::tls_client};
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;

  bool connected() const { return plain.has_value() || secure.has_value(); }
  void Close() {
    beast::error_code ec;
    if (plain) plain->socket().close(ec);
    if (secure) beast::get_lowest_layer(*secure).socket().close(ec);
    plain.reset();
    secure.reset();
  }
  void Connect() {
    tcp::resolver resolver(ioc);
    auto results = resolver.resolve(host, std::to_string(port));
    beast::tcp_stream s(ioc);
    s.connect(results);
    timeval tv{30, 0};
    setsockopt(s.socket().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (tls) {
      ctx.set_verify_mode(ssl::verify_none);
      secure.emplace(std::move(s), ctx);
      secure->handshake(ssl::stream_base::client);
    } else {
      plain.emplace(std::move(s));
    }
  }
};

HttpClient::HttpClient(std::string host, uint16_t port, bool tls) : impl_(new Impl) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->tls = tls;
}

HttpClient::~HttpClient() { impl_->Close(); }

Reply HttpClient::Send(const std::string& method, const std::string& target, const std::string& body,
                       std::map<std::string, std::string> headers) {
  Reply reply;
  try {
    if (!impl_->connected()) {
      impl_->Connect();
      ++connects_;
    }
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, absl::StrCat(impl_->host, ":", impl_->port));
    req.keep_alive(true);
    if (!body.empty() && headers.find("Content-Type") == headers.end()) {
      req.set(http::field::content_type, "application/json");
    }
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    if (impl_->plain) {
      http::write(*impl_->plain, req);
      http::read(*impl_->plain, buffer, res);
    } else {
      http::write(*impl_->secure, req);
      http::read(*impl_->secure, buffer, res);
    }
    reply.status = static_cast<int>(res.result_int());
    for (const auto& f : res) {
      reply.headers[absl::AsciiStrToLower(std::string(f.name_string()))] = std::string(f.value());
    }
    reply.body = res.body();
    if (!res.keep_alive()) impl_->Close();
  } catch (const std::exception&) {
    impl_->Close();
    reply.status = 0;
  }
  return reply;
}

// ---------------------------------------------------------------------------------------------

namespace {
std::string Word(const std::string& hex) { return std::string(64 - hex.size(), '0') + hex; }
json::value BoolWord(bool b) { return json::value("0x" + Word(b ? "1" : "0")); }
}  // namespace

FakeChain::FakeChain() {
  ServerOptions o;
  o.threads = 2;
  server_ = *HttpServer::Start(o, [this](const HttpRequest& r) { return Handle(r); });
}

FakeChain::~FakeChain() { server_->Stop(absl::ZeroDuration()); }

std::string FakeChain::url() const { return absl::StrCat("http://127.0.0.1:", server_->port()); }

void FakeChain::RegisterApp(const std::string& kms, const std::string& app, const std::string& deployer) {
  absl::MutexLock lock(&mu_);
  registered_[kms].insert(app);
  owner_[app] = deployer;
  kms_of_[app] = kms;
  allowed_[app];
}

void FakeChain::AllowHash(const std::string& app, const std::string& hash) {
  absl::MutexLock lock(&mu_);
  allowed_[app].insert(hash);
}

void FakeChain::DisallowHash(const std::string& app, const std::string& hash) {
  absl::MutexLock lock(&mu_);
  allowed_[app].erase(hash);
}

void FakeChain::AddComposeHashTx(const std::string& tx, const std::string& emitter, const std::string& hash,
                                 bool success) {
  json::object log;
  log["address"] = ChecksumAddress(emitter);
  log["topics"] = json::array{json::value("0xfecb34306dd9d8b785b54d65489d06afc8822a0893ddacedff40c50a4942d0af")};
  log["data"] = "0x" + hash;
  json::object r;
  r["transactionHash"] = "0x" + tx;
  r["status"] = success ? "0x1" : "0x0";
  r["logs"] = success ? json::array{log} : json::array();
  absl::MutexLock lock(&mu_);
  receipts_[tx] = r;
}

int FakeChain::calls(const std::string& method) {
  absl::MutexLock lock(&mu_);
  return calls_[method];
}

HttpResponse FakeChain::Handle(const HttpRequest& req) {
  json::object body = json::parse(req.body).as_object();
  std::string method(body.at("method").as_string());
  json::object out;
  out["jsonrpc"] = "2.0";
  out["id"] = body.at("id");
  out["result"] = Dispatch(method, body.at("params").as_array());
  HttpResponse r;
  r.body = json::serialize(out);
  return r;
}

json::value FakeChain::Dispatch(const std::string& method, const json::array& params) {
  absl::MutexLock lock(&mu_);
  calls_[method]++;
  if (method == "eth_chainId") return "0x7a69";
  if (method == "eth_call") {
    const json::object& call = params[0].as_object();
    std::string to = *NormalizeAddress(std::string(call.at("to").as_string()));
    std::string data = absl::AsciiStrToLower(std::string(call.at("data").as_string()).substr(2));
    std::string sel = data.substr(0, 8);
    std::string arg = data.size() >= 72 ? data.substr(8, 64) : "";
    if (sel == "a6c4cce9") {  // registeredApps(address) on a KMS
      auto it = registered_.find(to);
      return BoolWord(it != registered_.end() && it->second.count(arg.substr(24)));
    }
    if (!owner_.count(to)) return "0x";  // no contract at `to`
    if (sel == "8da5cb5b") return json::value("0x" + Word(owner_[to]));
    if (sel == "2f6622e5") return BoolWord(allowed_[to].count(arg) > 0);
    if (sel == "bf8b211b" || sel == "3440a16a") return BoolWord(false);
    return "0x";
  }
  if (method == "eth_getLogs") {
    const json::object& f = params[0].as_object();
    std::string kms = *NormalizeAddress(std::string(f.at("address").as_string()));
    std::string app = std::string(f.at("topics").as_array()[1].as_string()).substr(26);
    json::array logs;
    if (registered_[kms].count(app)) {
      json::object l;
      l["address"] = ChecksumAddress(kms);
      l["topics"] = json::array{json::value("0xfd86d7f6962eba3b7a3bf9129c06c0b2f885e1c61ef2c9f0dbb856be0deefdee"),
                                json::value("0x" + Word(app)), json::value("0x" + Word(owner_[app]))};
      l["data"] = "0x";
      logs.push_back(l);
    }
    return logs;
  }
  if (method == "eth_getTransactionReceipt") {
    std::string tx = absl::AsciiStrToLower(std::string(params[0].as_string()).substr(2));
    auto it = receipts_.find(tx);
    if (it == receipts_.end()) return nullptr;
    return it->second;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------

SimInstance::SimInstance(SimConfig config, std::string db, ServerOptions options)
    : db_(db.empty() ? TempPath("cloudsim.sqlite") : std::move(db)) {
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(db_);
  if (!store.ok()) throw std::runtime_error(std::string(store.status().message()));
  absl::StatusOr<std::unique_ptr<Simulator>> sim = Simulator::Create(std::move(config), *std::move(store));
  if (!sim.ok()) throw std::runtime_error(std::string(sim.status().message()));
  sim_ = *std::move(sim);
  Simulator* s = sim_.get();
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(
      options, [s](const HttpRequest& r) { return s->Handle(r); },
      [s](const HttpRequest& r) { return s->DecideFault(r); },
      [s](const HttpRequest& r, const HttpResponse* res, const std::string& fault, int64_t ms) {
        s->Record(r, res, fault, ms);
      });
  if (!server.ok()) throw std::runtime_error(std::string(server.status().message()));
  server_ = *std::move(server);
  client_ = std::make_unique<HttpClient>("127.0.0.1", server_->port(), server_->tls());
}

SimInstance::~SimInstance() { Stop(); }

void SimInstance::Stop() {
  client_.reset();
  if (server_) server_->Stop(absl::Seconds(2));
  server_.reset();
  sim_.reset();
}

Reply SimInstance::Api(const std::string& method, const std::string& path, const std::string& body,
                       std::map<std::string, std::string> headers) {
  if (headers.find("X-API-Key") == headers.end()) headers["X-API-Key"] = kApiKey;
  return client_->Send(method, "/api/v1" + path, body, headers);
}

Reply SimInstance::Admin(const std::string& method, const std::string& path, const std::string& body) {
  return client_->Send(method, "/_sim" + path, body);
}

// ---------------------------------------------------------------------------------------------

std::string Runfile(const std::string& workspace_relative) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  return absl::StrCat(srcdir ? srcdir : ".", "/", ws ? ws : "onchain_kms", "/", workspace_relative);
}

absl::StatusOr<std::unique_ptr<SimProcess>> SimProcess::Start(const std::string& binary,
                                                              const std::vector<std::string>& args,
                                                              const std::string& log_path, absl::Duration timeout) {
  int out[2];
  if (pipe(out) != 0) return absl::InternalError("pipe failed");
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(out[1], 1);
    int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log >= 0) dup2(log, 2);
    close(out[0]);
    close(out[1]);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(binary.c_str()));
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(out[1]);
  std::unique_ptr<SimProcess> p(new SimProcess(pid));
  std::string line;
  absl::Time deadline = absl::Now() + timeout;
  while (line.find('\n') == std::string::npos) {
    int left = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (left <= 0) break;
    pollfd pfd{out[0], POLLIN, 0};
    if (poll(&pfd, 1, left) <= 0) break;
    char buf[4096];
    ssize_t n = read(out[0], buf, sizeof(buf));
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  close(out[0]);
  boost::system::error_code ec;
  json::value v = json::parse(line.substr(0, line.find('\n')), ec);
  if (ec || !v.is_object()) {
    p->Stop(SIGKILL);
    return absl::UnavailableError(
        absl::StrCat("cloudsim did not print its ready line (got '", line, "'); see ", log_path));
  }
  p->ready_ = v.get_object();
  return p;
}

SimProcess::~SimProcess() {
  if (!exited_) Stop(SIGKILL);
}

std::string SimProcess::base_url() const { return std::string(ready_.at("base_url").as_string()); }
std::string SimProcess::admin_url() const { return std::string(ready_.at("admin_url").as_string()); }

int SimProcess::Stop(int sig, absl::Duration timeout) {
  if (exited_) return -1;
  kill(pid_, sig);
  absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    if (absl::Now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  exited_ = true;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace cloudsim::testing
