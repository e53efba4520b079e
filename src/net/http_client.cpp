#include "net/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <optional>

#include "net/tls_client.hpp"

namespace mh::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// ---- URL -------------------------------------------------------------------------------------

ServerUrl ServerUrl::parse(std::string_view url) {
  // "HOST:PORT" is what minihttpsd prints and what people type; "http://" or "https://" may precede it.
  const auto bad = [&] {
    return Error(Errc::bad_request, "server URL must be HOST:PORT, http://HOST:PORT or https://HOST:PORT (got '" +
                                        std::string(url) + "')");
  };
  std::string_view rest = url;
  ServerUrl u;
  if (const auto sep = url.find("://"); sep != std::string_view::npos) {
    const std::string_view scheme = url.substr(0, sep);
    if (scheme != "http" && scheme != "https") throw bad();
    u.tls = scheme == "https";
    if (u.tls) u.port = "443";
    rest = url.substr(sep + 3);
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty() || rest.find_first_of("/?#@ ") != std::string_view::npos) throw bad();
  std::string_view port;
  bool port_given = false;
  if (rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) throw Error(Errc::bad_request, "server URL: unterminated IPv6 address");
    u.host = std::string(rest.substr(1, close - 1));
    rest.remove_prefix(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') throw Error(Errc::bad_request, "server URL: expected ':' after the IPv6 address");
      port = rest.substr(1);
      port_given = true;
    }
  } else {
    const auto colon = rest.rfind(':');
    u.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = rest.substr(colon + 1);
      port_given = true;
    }
  }
  if (u.host.empty()) throw Error(Errc::bad_request, "server URL: missing host");
  if (port_given && port.empty()) throw Error(Errc::bad_request, "server URL: empty port");
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos ||
        std::stoi(std::string(port)) > 65535)
      throw Error(Errc::bad_request, "server URL: bad port '" + std::string(port) + "'");
    u.port = std::string(port);
  }
  for (char& c : u.host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return u;
}

std::string ServerUrl::authority() const {
  const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return port == (tls ? "443" : "80") ? h : h + ":" + port;
}

namespace {

// The most body bytes handed over per step; also the socket read size while a body streams.
constexpr std::size_t kBodyChunk = 64 * 1024;

template <class Body>
void fill(http::request<Body>& msg, const Request& req, const ServerUrl& url) {
  msg.method_string(req.method);
  msg.target(req.target);
  msg.version(11);
  msg.set(http::field::host, url.authority());
  msg.set(http::field::user_agent, "minihttps/0.1");
  for (const auto& h : req.headers) msg.set(h.name, h.value);
  msg.keep_alive(true);
}

// Statuses that never carry a body (RFC 9110 §6.4.1), like answers to HEAD.
bool bodiless(int status, bool head_request) {
  return head_request || (status >= 100 && status < 200) || status == 204 || status == 304;
}

// PROTOCOL.md §1: every minihttps response is framed by Content-Length. A head switched to
// chunked (or any other transfer coding) or without a length would let an on-path attacker keep
// a genuine signed head and stream a body of any size behind it (the signature does not cover
// the framing), so it is refused before a body byte is read. Returns the declared length.
std::uint64_t check_framing(const http::response_parser<http::buffer_body>& p, bool head_request) {
  if (p.chunked() || p.get().count(http::field::transfer_encoding) != 0)
    throw Error(Errc::integrity,
                "response refused: Transfer-Encoding is not allowed (responses carry Content-Length); "
                "nothing was written");
  if (bodiless(static_cast<int>(p.get().result_int()), head_request)) return 0;
  if (!p.content_length()) throw Error(Errc::integrity, "response refused: no Content-Length; nothing was written");
  return *p.content_length();
}

// After a complete response nothing else may have arrived: the server answers one request at a
// time and never sends more than it declared. Bytes past the declared length are refused, never
// parsed as the answer to a later request.
void check_nothing_after(std::size_t buffered, std::size_t available) {
  if (buffered != 0 || available != 0)
    throw Error(Errc::integrity, "response refused: bytes after the declared Content-Length");
}

ClientResponse head_of(const http::response_parser<http::buffer_body>& p) {
  ClientResponse r;
  r.status = static_cast<int>(p.get().result_int());
  for (const auto& f : p.get()) r.headers.push_back({std::string(f.name_string()), std::string(f.value())});
  return r;
}

}  // namespace

// ---- connection ------------------------------------------------------------------------------

struct HttpClient::Impl {
  asio::io_context io;
  beast::tcp_stream plain{io};
  std::optional<asio::ssl::context> tls_context;  // made at the first https:// connection
  std::optional<detail::TlsStream> tls;           // https://: a new one for every connection
  beast::flat_buffer buffer;
  bool connected = false;
  std::chrono::milliseconds timeout;

  explicit Impl(std::chrono::milliseconds t) : timeout(t) {}

  // The TCP connection under what HTTP reads and writes: its timeouts and its socket.
  beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : plain; }

  // Runs one asynchronous step to completion under the timeout: start(stream, handler), with the
  // stream HTTP speaks on (TLS or plain TCP).
  template <class Start>
  beast::error_code step(Start&& start) {
    beast::error_code result;
    tcp().expires_after(timeout);
    const auto done = [&](beast::error_code ec, std::size_t) { result = ec; };
    if (tls)
      start(*tls, done);
    else
      start(plain, done);
    io.restart();
    io.run();
    return result;
  }

  void close() {
    connected = false;
    beast::error_code ignored;
    tcp().socket().close(ignored);
  }

  [[noreturn]] void broken(const std::string& what, const beast::error_code& ec) {
    close();
    if (ec == beast::error::timeout) throw Error(Errc::network, what + ": timed out");
    throw Error(Errc::network, what + ": " + ec.message());
  }

  // Drops the connection (nothing more is read from it) and rethrows the refusal.
  [[noreturn]] void refuse(const Error& e) {
    close();
    throw e;
  }

  // check_nothing_after on this connection: what is buffered, and what the socket already holds.
  // Over TLS, what OpenSSL holds decrypted: the socket may also hold records that carry no data.
  void expect_end() {
    beast::error_code ec;
    const std::size_t available =
        tls ? static_cast<std::size_t>(SSL_pending(tls->native_handle())) : plain.socket().available(ec);
    try {
      check_nothing_after(buffer.size(), ec ? 0 : available);
    } catch (const Error& e) { refuse(e); }
  }

  // Streams the body of the response whose head `parser` has read (`declared` bytes) to on_chunk,
  // whatever each socket read brought (at most kBodyChunk bytes): a body that arrives slowly is
  // handed on as it comes, not once a block is full. The timeout covers each read.
  void read_body(http::response_parser<http::buffer_body>& parser, std::uint64_t declared,
                 const std::function<void(std::string_view)>& on_chunk, const std::string& authority) {
    std::vector<char> chunk(kBodyChunk);
    buffer.reserve(kBodyChunk);  // Beast reads at most the buffer's spare capacity at a time
    parser.eager(true);          // parse all that is buffered at each step, as async_read would
    std::uint64_t received = 0;
    while (!parser.is_done()) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      // One socket read (none while the buffer still holds body bytes), parsed into `chunk`.
      beast::error_code ec = step([&](auto& stream, auto h) { http::async_read_some(stream, buffer, parser, h); });
      if (ec == http::error::need_buffer) ec = {};
      const std::size_t got = chunk.size() - parser.get().body().size;
      received += got;
      // Content-Length framing already stops Beast at the declared length; this says so.
      if (received > declared) refuse(Error(Errc::integrity, "response refused: body longer than its Content-Length"));
      // What arrived before a failure is handed on first: a caller that uses the body piece by
      // piece (v2 opens each chunk as its token completes) keeps what came whole.
      if (got) on_chunk(std::string_view(chunk.data(), got));
      if (ec == http::error::partial_message || ec == http::error::end_of_stream || ec == asio::error::eof ||
          ec == asio::ssl::error::stream_truncated) {
        // The server promised more than arrived: a cut body is an integrity failure, not a hiccup.
        // What was already released is the caller's to account for.
        connected = false;
        throw Error(Errc::integrity, "response body truncated (connection closed early)");
      }
      if (ec) broken("response from " + authority + " broke off", ec);
    }
    expect_end();
  }

  void connect(const ServerUrl& url) {
    if (connected) return;
    tcp::resolver resolver(io);
    beast::error_code ec;
    const auto results = resolver.resolve(url.host, url.port, ec);
    if (ec) throw Error(Errc::network, "cannot resolve " + url.host + ": " + ec.message());
    buffer.clear();
    tls.reset();
    if (url.tls) {
      if (!tls_context) tls_context.emplace(detail::make_client_tls_context());
      tls.emplace(io, *tls_context);
      detail::set_server_name(*tls, url.host);
    }
    ec = step([&](auto&, auto handler) {
      tcp().async_connect(results, [handler](beast::error_code e, const tcp::endpoint&) mutable { handler(e, 0); });
    });
    if (ec) broken("cannot connect to " + url.authority(), ec);
    tcp().socket().set_option(tcp::no_delay(true), ec);
    if (tls) {
      ec = step([&](auto&, auto handler) {
        tls->async_handshake(asio::ssl::stream_base::client, [handler](beast::error_code e) mutable { handler(e, 0); });
      });
      if (ec) {
        close();
        throw Error(Errc::network, detail::tls_handshake_failure(url.host, url.port, ec));
      }
    }
    connected = true;
  }
};

HttpClient::HttpClient(ServerUrl server, std::chrono::milliseconds timeout)
    : server_(std::move(server)), impl_(std::make_unique<Impl>(timeout)) {}

HttpClient::~HttpClient() = default;

ClientResponse HttpClient::send(const Request& req, std::size_t max_body) {
  std::string body;
  const auto refuse_oversize = [&](const ClientResponse& head) {
    // Declared longer than the caller can need: refused before reading it.
    if (const auto length = head.header("Content-Length"); length && std::stoull(std::string(*length)) > max_body)
      throw Error(Errc::network, "response body too large");
  };
  auto r = send_streaming(req, refuse_oversize, [&](std::string_view chunk) {
    if (body.size() + chunk.size() > max_body) throw Error(Errc::network, "response body too large");
    body.append(chunk);
  });
  r.body = std::move(body);
  return r;
}

ClientResponse HttpClient::send_streaming(const Request& req, const std::function<void(const ClientResponse&)>& on_head,
                                          const std::function<void(std::string_view)>& on_chunk) {
  Impl& s = *impl_;
  // A kept-alive connection the server has closed fails on first use: retry once on a new one,
  // but only if nothing of the response has arrived (requests here are idempotent or signed
  // with a fresh nonce by the caller's retry).
  for (int attempt = 0;; ++attempt) {
    const bool reused = s.connected;
    s.connect(server_);
    http::request<http::string_body> msg;
    fill(msg, req, server_);
    msg.body() = req.body;
    msg.prepare_payload();
    beast::error_code ec = s.step([&](auto& stream, auto h) { http::async_write(stream, msg, h); });
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    parser.skip(req.method == "HEAD");  // a HEAD answer announces a body it does not send
    if (!ec) ec = s.step([&](auto& stream, auto h) { http::async_read_header(stream, s.buffer, parser, h); });
    if (ec) {
      if (reused && attempt == 0 && ec != beast::error::timeout) {
        s.close();
        continue;
      }
      s.broken("request to " + server_.authority() + " failed", ec);
    }
    std::uint64_t declared = 0;
    try {
      declared = check_framing(parser, req.method == "HEAD");
    } catch (const Error& e) { s.refuse(e); }
    ClientResponse head = head_of(parser);
    try {
      if (on_head) on_head(head);
      s.read_body(parser, declared, on_chunk, server_.authority());
    } catch (...) {
      // A response given up half-way: the rest of it must never be read as the next answer.
      s.close();
      throw;
    }
    if (!parser.get().keep_alive()) s.close();
    return head;
  }
}

ClientResponse HttpClient::send_body(const Request& req, BodySource& body, std::size_t max_response) {
  Impl& s = *impl_;
  s.connect(server_);
  http::request<http::buffer_body> msg;
  fill(msg, req, server_);
  msg.content_length(body.size());
  http::request_serializer<http::buffer_body> sr{msg};
  beast::error_code ec = s.step([&](auto& stream, auto h) { http::async_write_header(stream, sr, h); });
  if (ec) s.broken("upload to " + server_.authority() + " failed", ec);
  std::vector<char> chunk(256 * 1024);
  for (;;) {
    const std::size_t n = body.read(chunk.data(), chunk.size());
    msg.body().data = n ? chunk.data() : nullptr;
    msg.body().size = n;
    msg.body().more = n != 0;
    ec = s.step([&](auto& stream, auto h) { http::async_write(stream, sr, h); });
    if (ec == http::error::need_buffer) ec = {};
    // The server may answer early (e.g. 413) and close: read its answer below.
    if (ec) break;
    if (n == 0) break;
  }
  http::response_parser<http::buffer_body> parser;
  beast::error_code rec = s.step([&](auto& stream, auto h) { http::async_read_header(stream, s.buffer, parser, h); });
  if (rec) s.broken("upload to " + server_.authority() + " failed", ec ? ec : rec);
  try {
    if (check_framing(parser, false) > max_response) throw Error(Errc::network, "response body too large");
  } catch (const Error& e) { s.refuse(e); }
  ClientResponse r = head_of(parser);
  std::vector<char> rb(16 * 1024);
  while (!parser.is_done()) {
    parser.get().body().data = rb.data();
    parser.get().body().size = rb.size();
    rec = s.step([&](auto& stream, auto h) { http::async_read(stream, s.buffer, parser, h); });
    if (rec == http::error::need_buffer) rec = {};
    if (rec) s.broken("response from " + server_.authority() + " broke off", rec);
    r.body.append(rb.data(), rb.size() - parser.get().body().size);
    if (r.body.size() > max_response) s.refuse(Error(Errc::network, "response body too large"));
  }
  if (!ec) s.expect_end();
  if (ec || !parser.get().keep_alive()) s.close();
  return r;
}

}  // namespace mh::net
