#include "net/http_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "net/websocket_session.hpp"

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <csignal>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace mh::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using detail::TlsStream;
using namespace std::chrono_literals;

namespace {
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kStreamChunk = 64 * 1024;

Request to_request(const http::request_parser<http::empty_body>& p, const std::string& remote) {
  const auto& m = p.get();
  Request r;
  r.method = std::string(m.method_string());
  r.target = std::string(m.target());
  for (const auto& f : m) r.headers.push_back({std::string(f.name_string()), std::string(f.value())});
  r.remote_address = remote;
  r.has_body = p.chunked() || (p.content_length() && *p.content_length() > 0);
  return r;
}

// The response head, written here rather than by Beast's serializer: for the small answers that
// are most of the traffic its per-message machinery cost more than the head itself (issue 14,
// docs/BENCHMARKS.md). Status line, the handler's fields as set, Content-Length when given, and
// "Connection: close" when the connection ends after this response (RFC 9112 §9.6). False when a
// field could split the head (CR, LF or NUL in it): the connection is then dropped unanswered.
bool response_head(const Response& res, std::optional<std::uint64_t> content_length, bool keep_alive,
                   std::string& out) {
  const auto reason = http::obsolete_reason(static_cast<http::status>(res.status));
  out.reserve(256);
  out += "HTTP/1.1 ";
  out += std::to_string(res.status);
  out += ' ';
  out.append(reason.data(), reason.size());
  out += "\r\n";
  for (const auto& h : res.headers) {
    if (h.name.empty() || h.name.find_first_of(std::string_view(":\r\n\0 ", 5)) != std::string::npos ||
        h.value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
      return false;
    out += h.name;
    out += ": ";
    out += h.value;
    out += "\r\n";
  }
  if (content_length) {
    out += "Content-Length: ";
    out += std::to_string(*content_length);
    out += "\r\n";
  }
  if (!keep_alive) out += "Connection: close\r\n";
  out += "\r\n";
  return true;
}

// ---- request framing (RFC 9112) ----------------------------------------------------------------
// A request whose body length or target host a proxy in front of this server could read
// differently (request smuggling) is answered with an error and the connection closed, before
// any handler sees it. Beast alone lets through `Transfer-Encoding: gzip` (no body, kept alive),
// `chunked, chunked`, repeated identical Content-Lengths and a missing or repeated Host.

struct FramingError {
  int status;
  const char* reason;
};

// RFC 3986 host [":" port] characters (reg-name, IP literal, port), except ',' (a list is not a
// host) and whitespace.
bool valid_host(std::string_view host) noexcept {
  for (const char c : host) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && std::string_view("-._~%!$&'()*+;=:[]").find(c) == std::string_view::npos) return false;
  }
  return true;
}

// The framing rule a request head breaks, if any. `failed_at` is the field Beast stopped at when
// it refused the head itself (field::unknown when the head parsed): that field counts as present.
// The mapping (RFC 9112):
//   Transfer-Encoding and Content-Length together -> 400 (§6.3 item 3: smuggling; close after);
//   Transfer-Encoding other than one `chunked` -> 400 (§6.3 item 4: chunked not final or
//     repeated; `gzip, chunked`, where §6.1 suggests 501, gets 400 too: this server never takes a
//     transfer-coded request body, see the next rule);
//   exactly `chunked` -> 411 (§6.3 item 7: PROTOCOL.md requires Content-Length on every body);
//   more than one Content-Length, or a list, even of equal values -> 400 (§6.3 item 5 allows a
//     recipient to refuse); a Content-Length Beast could not read -> 400;
//   no Host, more than one, or one that is not a host -> 400 (§3.2).
std::optional<FramingError> framing_error(const http::fields& f, http::field failed_at) {
  std::size_t te = f.count(http::field::transfer_encoding);
  std::size_t cl = f.count(http::field::content_length);
  if (failed_at == http::field::transfer_encoding) ++te;
  if (failed_at == http::field::content_length) ++cl;
  if (te > 0 && cl > 0) return FramingError{400, "request has both Transfer-Encoding and Content-Length"};
  if (te > 0) {
    if (te == 1 && failed_at == http::field::unknown && iequals(f[http::field::transfer_encoding], "chunked"))
      return FramingError{411, "chunked request bodies are not accepted: send Content-Length"};
    return FramingError{400, "unsupported Transfer-Encoding"};
  }
  if (cl > 1 || (cl == 1 && f[http::field::content_length].find(',') != std::string_view::npos))
    return FramingError{400, "more than one Content-Length"};
  if (failed_at == http::field::content_length) return FramingError{400, "bad Content-Length"};
  const std::size_t hosts = f.count(http::field::host);
  if (hosts == 0) return FramingError{400, "missing Host header"};
  if (hosts > 1) return FramingError{400, "more than one Host header"};
  if (!valid_host(f[http::field::host])) return FramingError{400, "invalid Host header"};
  return std::nullopt;
}

// The field a Beast header error is about, for framing_error(); field::unknown for other errors.
http::field framing_field_of(const beast::error_code& ec) noexcept {
  if (ec == http::error::bad_transfer_encoding) return http::field::transfer_encoding;
  if (ec == http::error::bad_content_length || ec == http::error::multiple_content_length)
    return http::field::content_length;
  return http::field::unknown;
}

// Half-closes, then reads (from `from`: the connection, or the TLS on it) and drops what the client
// still sends for a moment before the socket is closed (RFC 9112 §9.6): closing with unread bytes
// would send a reset that can destroy the answer before the client has read it.
template <class ReadStream>
asio::awaitable<void> half_close_and_drain(beast::tcp_stream& tcp, ReadStream& from) {
  beast::error_code ec;
  tcp.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) co_return;
  char drain[4096];
  std::size_t dropped = 0;
  tcp.expires_after(std::chrono::seconds(1));
  while (dropped < 256 * 1024) {
    auto [rec, n] = co_await from.async_read_some(asio::buffer(drain), use_nothrow);
    if (rec) break;
    dropped += n;
  }
}
}  // namespace

// What the server keeps of every connection, whatever it is carried on (Session<Stream> below).
struct SessionBase {
  virtual ~SessionBase() = default;
  virtual asio::any_io_executor executor() = 0;
  virtual void close() = 0;  // on the session's strand
  std::atomic<bool> busy{false};
  std::shared_ptr<detail::WebSocketSession> ws;  // once the connection became a WebSocket (strand only)
  std::string client;  // the UUID of the last verified request here; written by this session only, under sessions_mutex
};

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Handler& handler;
  ServerLimits limits;
  int threads;
  AccessLogger log;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::atomic<bool> stopping{false};
  std::atomic<std::chrono::steady_clock::rep> deadline{std::chrono::steady_clock::rep(INT64_MAX)};
  mutable std::mutex sessions_mutex;
  std::unordered_set<std::shared_ptr<SessionBase>> sessions;
  std::optional<asio::ssl::context> tls;  // use_tls(): every connection speaks TLS
  std::vector<std::shared_ptr<asio::steady_timer>> timers;
  std::optional<asio::signal_set> signals;  // on_signals(); not cancelled by stop(): a second signal still counts
  std::function<void(int signal, int count)> on_signal;
  int signals_seen = 0;  // touched only by the one outstanding wait's handler

  // The handler refers to this Impl, not to itself: a wait still pending when the io_context goes
  // is destroyed with it, and nothing is left holding a copy of the handler.
  void wait_for_signal() {
    signals->async_wait([this](const beast::error_code& ec, int sig) {
      if (ec) return;  // the set is gone
      on_signal(sig, signals_seen++);
      wait_for_signal();
    });
  }
  EventLogger events;
  net::Pool pool{static_cast<unsigned>(threads), [this](std::function<void()> fn) { asio::post(io, std::move(fn)); }};
  Impl(Handler& h, ServerLimits l, int t, AccessLogger a) : handler(h), limits(l), threads(t), log(std::move(a)) {}

  asio::awaitable<void> accept_loop();
  // Serves a new connection, unless there are too many or the server is stopping (its socket
  // then closes with `s`).
  template <class S>
  void start(std::shared_ptr<S> s) {
    {
      std::lock_guard lock(sessions_mutex);
      if (sessions.size() >= limits.max_connections || stopping) return;
      sessions.insert(s);
    }
    asio::co_spawn(s->executor(), s->run(), asio::detached);
  }
  void close_idle_sessions();
  void close_all_sessions();
  void event(const std::string& line) const {
    if (events) events(line);
  }
};

// One connection, on plain TCP (beast::tcp_stream) or on TLS over it (TlsStream).
template <class Stream>
struct Session final : SessionBase, std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
  HttpServer::Impl& server;
  Stream stream;
  asio::steady_timer body_ready;  // see write(): a response body's work on the pool is done
  beast::flat_buffer buffer;
  std::string remote;

  template <class... TlsContext>
  Session(HttpServer::Impl& s, tcp::socket socket, TlsContext&... tls)
      : server(s), stream(std::move(socket), tls...), body_ready(stream.get_executor()) {
    beast::error_code ec;
    const auto ep = tcp_layer().socket().remote_endpoint(ec);
    remote = ec ? "?" : ep.address().to_string();
    tcp_layer().socket().set_option(tcp::no_delay(true), ec);
  }

  // The TCP connection under the stream: its timeouts and its socket.
  beast::tcp_stream& tcp_layer() { return beast::get_lowest_layer(stream); }
  asio::any_io_executor executor() override { return stream.get_executor(); }

  // Runs on this session's strand. A TLS connection is dropped without a close_notify: every
  // answer is framed by Content-Length, so a truncation cannot pass for a complete answer.
  void close() override {
    if (ws) ws->abort();
    beast::error_code ec;
    tcp_layer().socket().shutdown(tcp::socket::shutdown_both, ec);
    tcp_layer().socket().close(ec);
  }

  asio::awaitable<void> run();
  asio::awaitable<void> serve_requests();
  asio::awaitable<bool> start_tls();
  asio::awaitable<void> refuse_head(int status, const std::string& reason);
  asio::awaitable<bool> handle_one(http::request_parser<http::empty_body>& head);
  asio::awaitable<void> read_body(http::request_parser<http::empty_body>& head, Request& req, Dispatch& d,
                                  Response& out, bool& consumed);
  asio::awaitable<std::pair<bool, std::uint64_t>> write(Response& res, bool keep_alive);
  asio::awaitable<void> websocket(http::request_parser<http::empty_body>& head, Request& req, Upgrade up,
                                  std::chrono::steady_clock::time_point start);
};

template <class Stream>
asio::awaitable<void> Session<Stream>::run() {
  auto self = this->shared_from_this();
  if (co_await start_tls()) co_await serve_requests();
  close();
  std::lock_guard lock(server.sessions_mutex);
  server.sessions.erase(self);
}

template <class Stream>
asio::awaitable<void> Session<Stream>::serve_requests() {
  for (;;) {
    http::request_parser<http::empty_body> head;
    head.header_limit(static_cast<std::uint32_t>(server.limits.max_header_bytes));
    // The body limit depends on the route; read_body() sets it once the handler has decided.
    head.body_limit(boost::none);
    head.eager(false);
    tcp_layer().expires_after(server.limits.request_timeout);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, head, use_nothrow);
    if (ec) {
      if (ec == http::error::header_limit) {
        co_await refuse_head(431, "request header too large");
      } else if (const auto field = framing_field_of(ec); field != http::field::unknown) {
        const auto f = framing_error(head.get(), field);
        co_await refuse_head(f ? f->status : 400, f ? f->reason : "malformed HTTP request");
      } else if (ec != http::error::end_of_stream && ec != asio::error::operation_aborted &&
                 ec != beast::error::timeout && ec != asio::error::eof && ec != asio::error::connection_reset &&
                 ec.category() == http::make_error_code(http::error::bad_method).category()) {
        co_await refuse_head(400, "malformed HTTP request");
      }
      break;
    }
    if (const auto f = framing_error(head.get(), http::field::unknown)) {
      co_await refuse_head(f->status, f->reason);
      break;
    }
    busy = true;
    const bool keep = co_await handle_one(head);
    busy = false;
    if (!keep || server.stopping) break;
  }
}

// A TLS connection's handshake, under the request timeout. Its first byte says whether the client
// speaks TLS at all (22, a handshake record): a plain HTTP request is answered in plain HTTP, 400
// with the reason, so whoever typed http:// learns why. True when requests may follow.
template <class Stream>
asio::awaitable<bool> Session<Stream>::start_tls() {
  if constexpr (!kTls) {
    co_return true;
  } else {
    tcp_layer().expires_after(server.limits.request_timeout);
    std::uint8_t first = 0;
    auto [rec, n] = co_await tcp_layer().async_read_some(asio::buffer(&first, 1), use_nothrow);
    if (rec || n != 1) co_return false;
    if (first != 22) {
      Response r = error_response(Error(Errc::bad_request, "this server speaks TLS: use an https:// URL"));
      r.close = true;
      std::string head;
      response_head(r, r.body.size(), false, head);
      const std::array<asio::const_buffer, 2> parts{asio::buffer(head), asio::buffer(r.body)};
      auto [wec, w] = co_await asio::async_write(tcp_layer(), parts, use_nothrow);
      if (!wec) co_await half_close_and_drain(tcp_layer(), tcp_layer());
      co_return false;
    }
    auto [ec, used] =
        co_await stream.async_handshake(asio::ssl::stream_base::server, asio::buffer(&first, 1), use_nothrow);
    if (ec) server.event("tls: handshake with " + remote + " failed: " + ec.message());
    co_return !ec;
  }
}

// Answers a request head that cannot be served (too large, malformed, ambiguous framing) and
// ends the connection: nothing after this head on the connection is read as a request.
template <class Stream>
asio::awaitable<void> Session<Stream>::refuse_head(int status, const std::string& reason) {
  Response r = error_response(Error(Errc::bad_request, reason));
  r.status = status;
  r.close = true;
  const auto [ok, bytes] = co_await write(r, false);
  if (ok) co_await half_close_and_drain(tcp_layer(), stream);
}

template <class Stream>
asio::awaitable<bool> Session<Stream>::handle_one(http::request_parser<http::empty_body>& head) {
  const auto start = std::chrono::steady_clock::now();
  Request req = to_request(head, remote);
  // Read now: reading a body moves the header out of `head`, and an empty header would say
  // "keep alive" for a client that sent "Connection: close" (RFC 9112 §9.6: close after answering).
  const bool client_keeps_alive = head.get().keep_alive();
  Response res;
  bool body_consumed = !req.has_body;
  std::optional<Upgrade> upgrade;
  try {
    Dispatch d = server.handler.on_head(req);
    if (auto* r = std::get_if<Response>(&d)) {
      res = std::move(*r);
    } else if (auto* u = std::get_if<Upgrade>(&d)) {
      if (detail::is_websocket_upgrade(head.get()) && !req.has_body) {
        upgrade = std::move(*u);
      } else {
        res = error_response(Error(Errc::bad_request, "this resource needs a WebSocket upgrade"));
        res.status = 426;
        res.set("Upgrade", "websocket");
      }
    } else {
      co_await read_body(head, req, d, res, body_consumed);
    }
  } catch (const Error& e) { res = error_response(e); } catch (const std::exception&) {
    res = error_response(Error(Errc::internal, "internal error"));
  }
  // Only this session writes `client`, so it may compare without the lock; the shared lock
  // (readers: connections_by_client / close_client) is taken once per connection, not per request.
  if (!req.client_id.empty() && req.client_id != client) {
    std::lock_guard lock(server.sessions_mutex);
    client = req.client_id;
  }
  if (upgrade) {
    co_await websocket(head, req, std::move(*upgrade), start);
    co_return false;
  }
  // An unread body cannot be skipped safely: answer, then close.
  const bool keep_alive = client_keeps_alive && body_consumed && !res.close && !server.stopping;
  const auto [ok, bytes] = co_await write(res, keep_alive);
  if (server.log) {
    server.log(
        AccessRecord{req, res.status, bytes,
                     std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start),
                     ok, ok && keep_alive});
  }
  co_return ok&& keep_alive;
}

// The connection becomes a WebSocket until it closes; the access log gets one line (101) at the end.
template <class Stream>
asio::awaitable<void> Session<Stream>::websocket(http::request_parser<http::empty_body>& head, Request& req, Upgrade up,
                                                 std::chrono::steady_clock::time_point start) {
  ws = detail::WebSocketSession::create(std::move(stream), std::move(up));
  if (server.stopping) ws->going_away();
  const std::uint64_t sent = co_await ws->run(head.get());
  if (server.log) {
    server.log(AccessRecord{
        req, 101, sent, std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start),
        true, false});
  }
}

// Reads the body as the handler asked, then lets the handler answer. `consumed` tells whether the
// whole body was read (else the connection cannot be reused).
template <class Stream>
asio::awaitable<void> Session<Stream>::read_body(http::request_parser<http::empty_body>& head, Request& req,
                                                 Dispatch& d, Response& out, bool& consumed) {
  const bool buffered = std::holds_alternative<BufferBody>(d);
  const std::uint64_t limit = buffered ? std::get<BufferBody>(d).max_bytes : std::get<StreamBody>(d).max_bytes;
  BodySink* sink = buffered ? nullptr : std::get<StreamBody>(d).sink.get();
  if (head.content_length() && *head.content_length() > limit) {
    if (sink) sink->abort();
    out = error_response(Error(Errc::payload_too_large, "request body too large"));
    co_return;
  }
  if (const auto expect = req.header("Expect"); expect && iequals(*expect, "100-continue")) {
    http::response<http::empty_body> cont{http::status::continue_, 11};
    tcp_layer().expires_after(server.limits.write_timeout);
    auto [ec, n] = co_await http::async_write(stream, cont, use_nothrow);
    if (ec) {
      if (sink) sink->abort();
      throw Error(Errc::network, "client went away");
    }
  }
  http::request_parser<http::buffer_body> body{std::move(head)};
  body.body_limit(limit);
  const std::size_t chunk_size = buffered ? 16 * 1024 : kStreamChunk;
  const auto chunk = std::make_unique_for_overwrite<char[]>(chunk_size);
  // Beast reads at most the buffer's spare capacity per system call: give it room for large
  // reads while a body streams (the default is a few hundred bytes), and give it back after, so
  // idle connections stay small.
  const bool grow = !buffered && !body.is_done();
  if (grow) buffer.reserve(kStreamChunk);
  while (!body.is_done()) {
    body.get().body().data = chunk.get();
    body.get().body().size = chunk_size;
    tcp_layer().expires_after(server.limits.body_timeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, body, use_nothrow);
    if (ec == http::error::need_buffer) ec = {};
    // The client ended its sending half early: what came before the end still goes to the sink.
    const bool ended_early = ec == http::error::partial_message && sink;
    if (ec && !ended_early) {
      if (sink) sink->abort();
      if (ec == http::error::body_limit) {
        out = error_response(Error(Errc::payload_too_large, "request body too large"));
        co_return;
      }
      throw Error(Errc::network, "request body broken off");
    }
    const std::size_t got = chunk_size - body.get().body().size;
    if (got > 0 && buffered) {
      req.body.append(chunk.get(), got);
    } else if (got > 0) {
      try {
        sink->write(std::string_view(chunk.get(), got));
      } catch (const Error& e) {
        sink->abort();
        out = sink->refusal(e);  // the rest of the body is unread: the connection will close
        co_return;
      } catch (...) {
        sink->abort();
        throw;
      }
    }
    if (ended_early) {
      std::optional<Response> r = sink->ended_early();
      sink->abort();
      if (!r) throw Error(Errc::network, "request body broken off");
      out = std::move(*r);
      co_return;
    }
  }
  if (grow) buffer.shrink_to_fit();
  consumed = true;
  out = buffered ? std::get<BufferBody>(d).then(req) : sink->finish();
}

template <class Stream>
asio::awaitable<std::pair<bool, std::uint64_t>> Session<Stream>::write(Response& res, bool keep_alive) {
  // A 1xx, 204 or 304 has no body and no Content-Length (RFC 9110 §8.6, §15.3.5, §15.4.5); a
  // HEAD gets the Content-Length a GET would have had, without the body.
  const bool bodiless = !res.stream && (res.status < 200 || res.status == 204 || res.status == 304);
  const bool body_follows = !res.head_only && !bodiless;
  std::optional<std::uint64_t> length;
  if (res.head_only || body_follows) length = res.stream ? res.stream->size() : res.body.size();
  std::string head;
  if (!response_head(res, length, keep_alive, head)) co_return std::pair{false, std::uint64_t{0}};
  tcp_layer().expires_after(server.limits.write_timeout);
  if (!body_follows) {
    auto [ec, n] = co_await asio::async_write(stream, asio::buffer(head), use_nothrow);
    co_return std::pair{!ec, std::uint64_t{0}};
  }
  if (!res.stream) {
    const std::array<asio::const_buffer, 2> parts{asio::buffer(head), asio::buffer(res.body)};
    auto [ec, n] = co_await asio::async_write(stream, parts, use_nothrow);
    co_return std::pair{!ec, std::uint64_t{n > head.size() ? n - head.size() : 0}};
  }
  // Not zeroed (the source fills it) and not much larger than the body: most bodies are small.
  // The slack lets an encoding source finish in the same buffer.
  const std::size_t chunk_size =
      static_cast<std::size_t>(std::min<std::uint64_t>(kStreamChunk, res.stream->size() + 4096));
  const auto chunk = std::make_unique_for_overwrite<char[]>(chunk_size);
  std::uint64_t sent = 0;
  for (;;) {
    std::size_t n = 0;
    try {
      // A body waiting for work on the pool wakes this connection through body_ready. The wake is
      // posted to this strand, so it runs only after the wait below has begun; the body drops it
      // before it is destroyed, and the timer outlives the body.
      asio::steady_timer* t = &body_ready;
      while (!res.stream->ready(server.pool, [t] { asio::post(t->get_executor(), [t] { t->cancel(); }); })) {
        body_ready.expires_at(asio::steady_timer::time_point::max());
        co_await body_ready.async_wait(use_nothrow);
      }
      n = res.stream->read(chunk.get(), chunk_size);
    } catch (const std::exception&) {
      co_return std::pair{false, sent};  // the length promised can no longer be kept: drop the connection
    }
    // The head goes out with the first piece of the body, in one system call for a small body.
    const std::array<asio::const_buffer, 2> parts{asio::buffer(head), asio::buffer(chunk.get(), n)};
    if (n == 0 && head.empty()) break;
    tcp_layer().expires_after(server.limits.write_timeout);
    auto [ec, w] = co_await asio::async_write(stream, parts, use_nothrow);
    // What went out of the body, also when the peer left halfway (the access log's byte count).
    sent += w > head.size() ? w - head.size() : 0;
    if (ec) co_return std::pair{false, sent};
    head.clear();
    if (n == 0) break;
  }
  co_return std::pair{true, sent};
}

asio::awaitable<void> HttpServer::Impl::accept_loop() {
  auto self = shared_from_this();
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(io), use_nothrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      // Out of descriptors and the like: pause instead of spinning.
      asio::steady_timer t(io, 50ms);
      co_await t.async_wait(use_nothrow);
      continue;
    }
    if (tls)
      start(std::make_shared<Session<TlsStream>>(*this, std::move(socket), *tls));
    else
      start(std::make_shared<Session<beast::tcp_stream>>(*this, std::move(socket)));
  }
}

void HttpServer::Impl::close_idle_sessions() {
  std::lock_guard lock(sessions_mutex);
  for (const auto& s : sessions)
    // busy is re-checked on the session's strand, where it changes, so a request that has just
    // arrived is not cut off.
    asio::post(s->executor(), [s] {
      if (s->ws)
        s->ws->going_away();  // WebSockets are told to go (1001) at once
      else if (!s->busy)
        s->close();
    });
}

void HttpServer::Impl::close_all_sessions() {
  std::lock_guard lock(sessions_mutex);
  for (const auto& s : sessions) asio::post(s->executor(), [s] { s->close(); });
}

HttpServer::HttpServer(Handler& handler, ServerLimits limits, int threads, AccessLogger log)
    : impl_(std::make_shared<Impl>(handler, limits, std::max(1, threads), std::move(log))) {}

HttpServer::~HttpServer() = default;

void HttpServer::use_tls(const TlsCertificate& tls) {
  // TLS 1.2 and 1.3 with OpenSSL's default ciphers (forward secret, AEAD first); no session
  // tickets: a session is one TLS handshake per connection, and nothing is sent unasked.
  asio::ssl::context ctx(asio::ssl::context::tls_server);
  ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                  asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                  asio::ssl::context::single_dh_use);
  SSL_CTX_set_num_tickets(ctx.native_handle(), 0);
  SSL_CTX_set_options(ctx.native_handle(), SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
  beast::error_code ec;
  ctx.use_certificate_chain(asio::buffer(tls.certificate_pem), ec);
  if (ec) throw Error(Errc::bad_request, "tls: the certificate does not load: " + ec.message());
  ctx.use_private_key(asio::buffer(tls.private_key_pem), asio::ssl::context::pem, ec);
  if (ec && ec.category() == asio::error::get_ssl_category() &&
      ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == X509_R_KEY_VALUES_MISMATCH)
    throw Error(Errc::bad_request, "tls: the private key is not the certificate's");
  if (ec) throw Error(Errc::bad_request, "tls: the private key does not load: " + ec.message());
  impl_->tls.emplace(std::move(ctx));
}

std::uint16_t HttpServer::listen(const std::string& host, std::uint16_t port) {
  beast::error_code ec;
  const auto addr = asio::ip::make_address(host, ec);
  if (ec) throw Error(Errc::bad_request, "listen: '" + host + "' is not an IP address");
  const tcp::endpoint ep{addr, port};
  auto& a = impl_->acceptor;
  a.open(ep.protocol());
  a.set_option(asio::socket_base::reuse_address(true));
  a.bind(ep, ec);
  if (ec) throw Error(Errc::io, "listen: cannot bind " + host + ":" + std::to_string(port) + ": " + ec.message());
  a.listen(asio::socket_base::max_listen_connections);
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  return a.local_endpoint().port();
}

void HttpServer::run() {
  std::vector<std::thread> pool;
  for (int i = 1; i < impl_->threads; ++i) pool.emplace_back([this] { impl_->io.run(); });
  impl_->io.run();
  for (auto& t : pool) t.join();
}

void HttpServer::stop(std::chrono::milliseconds grace) {
  auto impl = impl_;
  const auto deadline = std::chrono::steady_clock::now() + grace;
  asio::post(impl->io, [impl, deadline] {
    // A second stop only brings the deadline forward ("a second signal stops at once").
    const auto ticks = deadline.time_since_epoch().count();
    if (ticks < impl->deadline.load()) impl->deadline = ticks;
    if (impl->stopping.exchange(true)) return;
    beast::error_code ec;
    impl->acceptor.close(ec);
    for (auto& t : impl->timers) t->cancel();
    impl->close_idle_sessions();
    // Poll until the requests in flight are done or the deadline has passed.
    auto timer = std::make_shared<asio::steady_timer>(impl->io);
    auto check = std::make_shared<std::function<void()>>();
    *check = [impl, timer, check] {
      bool empty;
      {
        std::lock_guard lock(impl->sessions_mutex);
        empty = impl->sessions.empty();
      }
      if (empty || std::chrono::steady_clock::now().time_since_epoch().count() >= impl->deadline.load()) {
        impl->close_all_sessions();
        asio::post(impl->io, [impl] { impl->io.stop(); });
        *check = nullptr;  // break the self-reference
        return;
      }
      impl->close_idle_sessions();
      timer->expires_after(20ms);
      timer->async_wait([check](const beast::error_code&) {
        if (*check) (*check)();
      });
    };
    (*check)();
  });
}

std::map<std::string, std::size_t> HttpServer::connections_by_client() const {
  std::map<std::string, std::size_t> out;
  std::lock_guard lock(impl_->sessions_mutex);
  for (const auto& s : impl_->sessions)
    if (!s->client.empty()) ++out[s->client];
  return out;
}

void HttpServer::close_client(const std::string& client_id) {
  std::lock_guard lock(impl_->sessions_mutex);
  for (const auto& s : impl_->sessions) {
    if (s->client != client_id) continue;
    // Chat sockets are closed by the chat hub with a close frame and a reason; the rest here.
    asio::post(s->executor(), [s] {
      if (!s->ws) s->close();
    });
  }
}

std::size_t HttpServer::connections() const {
  std::lock_guard lock(impl_->sessions_mutex);
  return impl_->sessions.size();
}

void HttpServer::set_event_log(EventLogger log) { impl_->events = std::move(log); }

void HttpServer::on_signals(std::function<void(int signal, int count)> fn) {
  impl_->on_signal = std::move(fn);
  impl_->signals.emplace(impl_->io, SIGINT, SIGTERM);
  impl_->wait_for_signal();
}

void HttpServer::every(std::chrono::milliseconds period, std::function<void()> fn) {
  auto timer = std::make_shared<asio::steady_timer>(impl_->io);
  impl_->timers.push_back(timer);
  auto tick = std::make_shared<std::function<void(const beast::error_code&)>>();
  *tick = [timer, period, fn = std::move(fn), tick](const beast::error_code& ec) {
    if (ec) {
      *tick = nullptr;
      return;
    }
    fn();
    timer->expires_after(period);
    timer->async_wait(*tick);
  };
  timer->expires_after(period);
  timer->async_wait(*tick);
}

}  // namespace mh::net
