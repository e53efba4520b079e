#include "net/websocket_client.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "net/tls_client.hpp"

namespace mh::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

// Before open() returns everything runs on the caller's thread (io.run() per step); afterwards
// only on `thread`. Handlers capture `this`: the destructor joins the thread before the members go.
struct WebSocketClient::Impl {
  asio::io_context io;
  // One of the two, made by open(): on plain TCP, or on TLS over it (wss://).
  std::optional<asio::ssl::context> tls_context;
  std::unique_ptr<websocket::stream<beast::tcp_stream>> plain;
  std::unique_ptr<websocket::stream<detail::TlsStream>> tls;
  std::thread thread;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;

  // Shared with the caller's threads.
  mutable std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::string> inbox;
  bool ended = false;    // the connection is over
  bool closing = false;  // close() was called: no more sends
  CloseInfo info;

  // I/O thread only.
  beast::flat_buffer rbuf;
  std::deque<std::string> outbox;  // front() is being written while writing
  bool writing = false;
  bool close_requested = false;
  bool close_started = false;
  websocket::close_reason reason;

  // Calls f with the WebSocket, whichever it is.
  template <class F>
  void with_ws(F&& f) {
    if (tls)
      f(*tls);
    else
      f(*plain);
  }

  // Runs one operation to completion on the caller's thread. The WebSocket's timer may still be
  // pending when the operation is over (e.g. a refused upgrade): run() must not wait for it.
  template <class Start>
  beast::error_code step(Start&& start) {
    beast::error_code result;
    start([&](beast::error_code ec) {
      result = ec;
      io.stop();
    });
    io.restart();
    io.run();
    return result;
  }

  ~Impl() {
    if (thread.joinable()) {
      asio::post(io, [this] { drop(); });
      {
        std::unique_lock lock(mutex);
        changed.wait_for(lock, std::chrono::seconds(2), [&] { return ended; });
      }
      io.stop();
      thread.join();
      work.reset();
    }
  }

  void start_reading() {
    with_ws([this](auto& ws) {
      ws.async_read(rbuf, [this](beast::error_code ec, std::size_t) {
        if (ec) return end(ec);
        std::string msg = beast::buffers_to_string(rbuf.cdata());
        rbuf.consume(rbuf.size());
        {
          std::lock_guard lock(mutex);
          inbox.push_back(std::move(msg));
        }
        changed.notify_all();
        start_reading();
      });
    });
  }

  void write_next() {
    if (writing) return;
    if (outbox.empty()) {
      if (close_requested && !close_started) {
        close_started = true;
        with_ws([this](auto& ws) {
          ws.async_close(reason, [this](beast::error_code ec) {
            if (ec) drop();  // the read side reports the end
          });
        });
      }
      return;
    }
    writing = true;
    with_ws([this](auto& ws) {
      ws.async_write(asio::buffer(outbox.front()), [this](beast::error_code ec, std::size_t) {
        writing = false;
        outbox.pop_front();
        if (ec) {
          outbox.clear();
          return;  // the pending read fails too and ends the connection
        }
        write_next();
      });
    });
  }

  beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : beast::get_lowest_layer(*plain); }

  void drop() {
    beast::error_code ignored;
    tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcp().socket().close(ignored);
  }

  void end(const beast::error_code& ec) {
    drop();
    {
      std::lock_guard lock(mutex);
      ended = true;
      // The peer's close frame may have been read by the read or by our close operation (the
      // read then ends with operation_aborted): either way reason() holds it.
      websocket::close_reason r;
      with_ws([&r](auto& ws) { r = ws.reason(); });
      if (r.code != websocket::close_code::none) {
        info.code = r.code;
        info.reason = std::string(r.reason.data(), r.reason.size());
        info.by_server = !close_started;
      } else {
        info.error = ec.message();
      }
    }
    changed.notify_all();
    work.reset();
  }
};

WebSocketClient::WebSocketClient(ServerUrl server, std::chrono::milliseconds timeout)
    : server_(std::move(server)), timeout_(timeout) {}

WebSocketClient::~WebSocketClient() = default;

ClientResponse WebSocketClient::open(const std::string& target, const Headers& headers, std::size_t max_message_bytes) {
  impl_.reset();  // a previous (refused or ended) connection
  auto impl = std::make_shared<Impl>();
  Impl& s = *impl;

  tcp::resolver resolver(s.io);
  beast::error_code ec;
  const auto results = resolver.resolve(server_.host, server_.port, ec);
  if (ec) throw Error(Errc::network, "cannot resolve " + server_.host + ": " + ec.message());
  if (server_.tls) {
    s.tls_context.emplace(detail::make_client_tls_context());
    s.tls = std::make_unique<websocket::stream<detail::TlsStream>>(s.io, *s.tls_context);
    detail::set_server_name(s.tls->next_layer(), server_.host);
  } else {
    s.plain = std::make_unique<websocket::stream<beast::tcp_stream>>(s.io);
  }
  auto& tcp_layer = s.tcp();
  tcp_layer.expires_after(timeout_);
  ec = s.step([&](auto done) {
    tcp_layer.async_connect(results, [done](beast::error_code e, const tcp::endpoint&) mutable { done(e); });
  });
  if (ec == beast::error::timeout)
    throw Error(Errc::network, "cannot connect to " + server_.authority() + ": timed out");
  if (ec) throw Error(Errc::network, "cannot connect to " + server_.authority() + ": " + ec.message());
  tcp_layer.socket().set_option(tcp::no_delay(true), ec);
  if (s.tls) {
    ec = s.step([&](auto done) { s.tls->next_layer().async_handshake(asio::ssl::stream_base::client, done); });
    if (ec) {
      s.drop();
      throw Error(Errc::network, detail::tls_handshake_failure(server_.host, server_.port, ec));
    }
  }
  tcp_layer.expires_never();  // the WebSocket's own timeouts from here on

  websocket::response_type res;
  s.with_ws([&](auto& ws) {
    auto opt = websocket::stream_base::timeout::suggested(beast::role_type::client);
    opt.handshake_timeout = timeout_;
    ws.set_option(opt);
    ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
      req.set(http::field::user_agent, "minihttps/0.1");
      for (const auto& h : headers) req.set(h.name, h.value);
    }));
    ws.read_message_max(max_message_bytes);
    ws.text(true);
    ec = s.step([&](auto done) { ws.async_handshake(res, server_.authority(), target, done); });
  });
  ClientResponse out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& f : res) out.headers.push_back({std::string(f.name_string()), std::string(f.value())});
  if (ec) {
    s.drop();
    if (ec == websocket::error::upgrade_declined && out.status != 0 && out.status != 101) {
      out.body = std::move(res.body());
      return out;
    }
    if (ec == beast::error::timeout)
      throw Error(Errc::network, "WebSocket upgrade to " + server_.authority() + ": timed out");
    throw Error(Errc::network, "WebSocket upgrade to " + server_.authority() + " failed: " + ec.message());
  }
  out.status = 101;

  s.work.emplace(asio::make_work_guard(s.io));
  s.start_reading();
  s.io.restart();
  s.thread = std::thread([&s] { s.io.run(); });
  impl_ = std::move(impl);
  return out;
}

bool WebSocketClient::send(std::string text) {
  if (!impl_) return false;
  Impl& s = *impl_;
  {
    std::lock_guard lock(s.mutex);
    if (s.closing || s.ended) return false;
  }
  asio::post(s.io, [&s, text = std::move(text)]() mutable {
    s.outbox.push_back(std::move(text));
    s.write_next();
  });
  return true;
}

std::optional<std::string> WebSocketClient::receive(std::chrono::milliseconds timeout) {
  if (!impl_) return std::nullopt;
  Impl& s = *impl_;
  std::unique_lock lock(s.mutex);
  s.changed.wait_for(lock, timeout, [&] { return !s.inbox.empty() || s.ended; });
  if (s.inbox.empty()) return std::nullopt;
  std::string m = std::move(s.inbox.front());
  s.inbox.pop_front();
  return m;
}

bool WebSocketClient::close(int code, const std::string& reason, std::chrono::milliseconds timeout) {
  if (!impl_) return false;
  Impl& s = *impl_;
  bool first = false;
  {
    std::lock_guard lock(s.mutex);
    first = !s.closing && !s.ended;
    s.closing = true;
  }
  if (first) {
    std::string r = reason.substr(0, 123);
    asio::post(s.io, [&s, code, r] {
      s.close_requested = true;
      s.reason = websocket::close_reason(static_cast<websocket::close_code>(code), r);
      s.write_next();
    });
  }
  if (!wait_closed(timeout)) {
    asio::post(s.io, [&s] { s.drop(); });
    wait_closed(std::chrono::seconds(2));
    return false;
  }
  std::lock_guard lock(s.mutex);
  return s.info.code != 0;
}

bool WebSocketClient::wait_closed(std::chrono::milliseconds timeout) {
  if (!impl_) return true;
  Impl& s = *impl_;
  std::unique_lock lock(s.mutex);
  return s.changed.wait_for(lock, timeout, [&] { return s.ended; });
}

bool WebSocketClient::closed() const {
  if (!impl_) return true;
  std::lock_guard lock(impl_->mutex);
  return impl_->ended;
}

WebSocketClient::CloseInfo WebSocketClient::close_info() const {
  if (!impl_) return {};
  std::lock_guard lock(impl_->mutex);
  return impl_->info;
}

}  // namespace mh::net
