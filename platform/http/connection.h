// One keep-alive HTTP/1.1 connection to one origin (private to //platform/http). It owns its
// io_context: the calling thread drives each operation to completion or to its time limit, so
// no I/O thread is needed and connections run in parallel without a shared event loop.
//
// An exchange writes the request as one contiguous string. Over plain TCP it bypasses Asio's
// reactor: one send(2) with MSG_DONTWAIT (poll(2) for writability only after a partial write),
// then blocking recv(2) calls bounded by SO_RCVTIMEO into the connection's reused buffer, fed to
// Beast's response parser. TLS keeps Asio and Beast's read (the TLS stream's buffering is Asio's).
#ifndef ONCHAIN_KMS_PLATFORM_HTTP_CONNECTION_H_
#define ONCHAIN_KMS_PLATFORM_HTTP_CONNECTION_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "platform/http/message.h"
#include "platform/http/url.h"

namespace platform::http {

using ResponseParser = boost::beast::http::response_parser<boost::beast::http::string_body>;

class Connection {
 public:
  // Resolves, connects and (https) handshakes by `until`. `tls` is null for http. Failures are
  // UNAVAILABLE "<origin>: <phase> failed: <why>" or "<origin>: <phase>: timed out" (phases:
  // resolve, connect, tls handshake).
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const Url& url, boost::asio::ssl::context* tls,
                                                          absl::Time until, SendInfo* info);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Writes `request` and reads the whole response by `until`. Failures are UNAVAILABLE, named
  // as above (phases: write, read). `*stale` tells that the peer closed the connection before
  // any byte of an answer: the symptom of a keep-alive connection the server dropped.
  absl::StatusOr<Response> Exchange(const Request& request, absl::Time until, size_t max_response_bytes, SendInfo* info,
                                    bool* stale);

  // The last exchange left the connection usable for another request.
  bool reusable() const { return reusable_; }
  // An idle keep-alive connection has nothing to read: readable means the peer closed it (EOF,
  // close_notify, reset) or sent something unexpected. Either way it must not be reused.
  bool LooksAlive();

  absl::Time last_used = absl::InfinitePast();
  bool reused = false;

 private:
  explicit Connection(const Url& url) : url_(url) {}
  // The endpoints of url_'s host: an IP literal as is, a name through the resolver (phase
  // "resolve").
  absl::StatusOr<std::vector<boost::asio::ip::tcp::endpoint>> Resolve(absl::Time until, SendInfo* info);
  absl::Status Connect(const std::vector<boost::asio::ip::tcp::endpoint>& endpoints, absl::Time until, SendInfo* info);
  absl::Status Handshake(absl::Time until, SendInfo* info);
  // Sends `bytes` (plain: send(2) and poll(2); TLS: Asio) by `until`; `*timed_out` on timeout.
  boost::beast::error_code Write(const std::string& bytes, absl::Time until, bool* timed_out);
  // Reads one response into `parser` by `until`, as Beast's http::async_read does: the peer's
  // close before any byte is http::error::end_of_stream; `*timed_out` on timeout.
  boost::beast::error_code Read(ResponseParser& parser, absl::Time until, bool* timed_out);
  boost::beast::error_code ReadPlain(ResponseParser& parser, absl::Time until, bool* timed_out);
  // Before a blocking recv(2) on the plain socket: false when `until` has passed; else SO_RCVTIMEO
  // is at most the time left (the kernel rounds it up to a clock tick), changed only when it
  // would overshoot `until` or is well below min(time left, kRecvSlice): with deadlines further
  // than kRecvSlice away it is set once per connection, and a longer wait wakes every slice.
  bool BoundRecvWait(int fd, absl::Time until);
  static constexpr absl::Duration kRecvSlice = absl::Seconds(1);
  // The read buffer's capacity: a read asks for what is free of it, and Beast's read_size gives
  // only 512 bytes to a buffer left at its first size (an 8.9 KB JSON-RPC answer took 18 recv(2)
  // calls and parser steps). 16 KiB holds most answers in one.
  static constexpr size_t kReadBufferBytes = 16 * 1024;
  // Runs the io_context until `done` or `until`; on timeout aborts the pending operation.
  bool RunUntil(const bool& done, absl::Time until);
  absl::Status Failure(const char* phase, const std::string& why) const;
  absl::Status Timeout(const char* phase, SendInfo* info) const;
  boost::beast::tcp_stream& tcp();

  const Url& url_;
  boost::asio::io_context ioc_;  // declared before the streams: destroyed after them
  std::optional<boost::beast::tcp_stream> plain_;
  std::optional<boost::beast::ssl_stream<boost::beast::tcp_stream>> secure_;
  boost::beast::flat_buffer buffer_;                    // bytes read past a response (none on a reusable one)
  boost::asio::ip::tcp::resolver* resolver_ = nullptr;  // while Open resolves
  bool reusable_ = false;
  absl::Duration recv_timeout_ = absl::InfiniteDuration();  // SO_RCVTIMEO of the plain socket (none)
};

}  // namespace platform::http

#endif  // ONCHAIN_KMS_PLATFORM_HTTP_CONNECTION_H_
