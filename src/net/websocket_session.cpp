#include "net/websocket_session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <deque>
#include <string>

namespace mh::net::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

namespace {
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
// A close handshake (including what is still queued before it) gets this long; then the TCP
// connection is dropped.
constexpr auto kCloseTimeout = std::chrono::seconds(5);

// A close reason is at most 123 bytes of UTF-8: cut at a character boundary.
std::string clip_reason(std::string r) {
  constexpr std::size_t kMax = 123;
  if (r.size() <= kMax) return r;
  std::size_t n = kMax;
  while (n > 0 && (static_cast<unsigned char>(r[n]) & 0xC0) == 0x80) --n;  // r[n] starts the cut-off part
  r.resize(n);
  return r;
}

// On plain TCP (beast::tcp_stream) or on TLS over it.
template <class Next>
class Session final : public WebSocketSession,
                      public WebSocketPeer,
                      public std::enable_shared_from_this<Session<Next>> {
 public:
  Session(Next&& stream, Upgrade up)
      : ws_(std::move(stream)),
        handler_(std::move(up.handler)),
        max_message_(up.max_message_bytes),
        max_queued_(up.max_queued_bytes),
        extra_headers_(std::move(up.headers)),
        timer_(ws_.get_executor()) {}

  asio::awaitable<std::uint64_t> run(const UpgradeRequest& req) override;
  void going_away() override { begin_close(close_code::going_away, "server shutting down", true); }
  void abort() override {
    beast::error_code ec;
    auto& sock = beast::get_lowest_layer(ws_).socket();
    sock.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    sock.close(ec);
    timer_.cancel();
  }

  // WebSocketPeer: any thread. Posting to the strand keeps the order of the calls.
  void send(std::string text) override {
    asio::post(ws_.get_executor(),
               [self = this->shared_from_this(), text = std::move(text)]() mutable { self->enqueue(std::move(text)); });
  }
  void close(int code, std::string reason) override {
    asio::post(ws_.get_executor(), [self = this->shared_from_this(), code, reason = std::move(reason)]() mutable {
      self->begin_close(code, std::move(reason), true);
    });
  }

 private:
  enum class State { upgrading, open, closing, done };

  // Everything below runs on the strand.
  void enqueue(std::string text);
  void write_next();
  void begin_close(int code, std::string reason, bool flush);
  void drop_queue();
  void finish() noexcept;

  websocket::stream<Next> ws_;
  std::unique_ptr<WebSocketHandler> handler_;
  std::size_t max_message_;
  std::size_t max_queued_;
  Headers extra_headers_;  // on the 101 (the sealed head of an accepted upgrade)
  asio::steady_timer timer_;
  State state_ = State::upgrading;
  bool opened_ = false;            // on_open ran, on_close not yet
  std::deque<std::string> queue_;  // front() is being written while writing_
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool close_sent_ = false;
  websocket::close_reason close_reason_;
  std::uint64_t bytes_sent_ = 0;
};

template <class Next>
asio::awaitable<std::uint64_t> Session<Next>::run(const UpgradeRequest& req) {
  auto self = this->shared_from_this();
  // If the coroutine is destroyed while suspended (the io_context goes away), on_close still runs.
  struct Guard {
    Session* s;
    ~Guard() { s->finish(); }
  } guard{this};

  beast::get_lowest_layer(ws_).expires_never();  // the WebSocket's own timeouts take over
  ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  ws_.set_option(websocket::stream_base::decorator([extra = extra_headers_](websocket::response_type& res) {
    res.set(http::field::server, "minihttpsd");
    for (const auto& h : extra) res.set(h.name, h.value);
  }));
  ws_.read_message_max(max_message_);
  ws_.text(true);
  auto [ec] = co_await ws_.async_accept(req, use_nothrow);
  if (ec || state_ != State::upgrading) {
    abort();
    co_return 0;
  }
  state_ = State::open;
  opened_ = true;
  try {
    handler_->on_open(self);
  } catch (...) { begin_close(close_code::internal_error, "internal error", false); }

  beast::flat_buffer buffer;
  for (;;) {
    auto [rec, n] = co_await ws_.async_read(buffer, use_nothrow);
    if (rec) break;               // closed by either side, too big (Beast sent 1009), timeout, reset
    if (state_ == State::open) {  // once closing, what still arrives is ignored
      if (!ws_.got_text()) {
        begin_close(close_code::unsupported_data, "text messages only", false);
      } else {
        const auto data = buffer.cdata();
        try {
          handler_->on_message(std::string_view(static_cast<const char*>(data.data()), data.size()));
        } catch (...) { begin_close(close_code::internal_error, "internal error", false); }
      }
    }
    buffer.consume(buffer.size());
  }
  finish();
  abort();
  co_return bytes_sent_;
}

template <class Next>
void Session<Next>::finish() noexcept {
  state_ = State::done;
  drop_queue();
  if (opened_) {
    opened_ = false;
    try {
      handler_->on_close();
    } catch (...) {}
  }
}

template <class Next>
void Session<Next>::drop_queue() {
  // The message being written must stay alive until its write completes.
  while (queue_.size() > (writing_ ? 1u : 0u)) {
    queued_bytes_ -= queue_.back().size();
    queue_.pop_back();
  }
}

template <class Next>
void Session<Next>::enqueue(std::string text) {
  if (state_ != State::open) return;
  if (queued_bytes_ + text.size() > max_queued_) {
    drop_queue();
    begin_close(close_code::policy_violation, "too slow: messages are not being read", false);
    return;
  }
  queued_bytes_ += text.size();
  queue_.push_back(std::move(text));
  if (!writing_) write_next();
}

template <class Next>
void Session<Next>::write_next() {
  if (queue_.empty()) {
    if (state_ == State::closing && !close_sent_) {
      close_sent_ = true;
      ws_.async_close(close_reason_, [self = this->shared_from_this()](beast::error_code ec) {
        if (ec) self->abort();
      });
    }
    return;
  }
  writing_ = true;
  ws_.async_write(asio::buffer(queue_.front()), [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
    self->writing_ = false;
    self->queued_bytes_ -= self->queue_.front().size();
    self->queue_.pop_front();
    if (ec || self->state_ == State::done) {
      self->drop_queue();
      return;  // the read side sees the broken connection too
    }
    self->bytes_sent_ += n;
    self->write_next();
  });
}

template <class Next>
void Session<Next>::begin_close(int code, std::string reason, bool flush) {
  if (state_ == State::upgrading) {
    abort();
    return;
  }
  if (state_ != State::open) return;
  state_ = State::closing;
  close_reason_ = websocket::close_reason(static_cast<websocket::close_code>(code), clip_reason(std::move(reason)));
  if (!flush) drop_queue();
  timer_.expires_after(kCloseTimeout);
  timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
    if (!ec) self->abort();
  });
  if (!writing_) write_next();
}

}  // namespace

bool is_websocket_upgrade(const UpgradeRequest& req) { return websocket::is_upgrade(req); }

std::shared_ptr<WebSocketSession> WebSocketSession::create(beast::tcp_stream&& stream, Upgrade up) {
  return std::make_shared<Session<beast::tcp_stream>>(std::move(stream), std::move(up));
}

std::shared_ptr<WebSocketSession> WebSocketSession::create(TlsStream&& stream, Upgrade up) {
  return std::make_shared<Session<TlsStream>>(std::move(stream), std::move(up));
}

}  // namespace mh::net::detail
