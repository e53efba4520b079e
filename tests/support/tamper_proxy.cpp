#include "support/tamper_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

#include "core/stream.hpp"
#include "support/test_support.hpp"

namespace mh::test {
namespace {

constexpr auto npos = std::string::npos;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::size_t body_start(const std::string& msg) { return msg.find("\r\n\r\n") + 4; }

// Where the value of the field `name` (lower case) lies in msg's head: [begin, end), or npos.
std::pair<std::size_t, std::size_t> field_at(const std::string& msg, const std::string& name) {
  const std::string head = lower(msg.substr(0, body_start(msg)));
  const auto p = head.find("\r\n" + name + ":");
  if (p == npos) return {npos, npos};
  std::size_t begin = p + name.size() + 3;
  while (head[begin] == ' ') ++begin;
  return {begin, head.find("\r\n", begin)};
}

std::string field(const std::string& msg, const std::string& name) {
  const auto [b, e] = field_at(msg, name);
  return b == npos ? "" : msg.substr(b, e - b);
}

void set_field(std::string& msg, const std::string& name, const std::string& value) {
  const auto [b, e] = field_at(msg, name);
  if (b != npos) msg.replace(b, e - b, value);
}

std::uint64_t content_length(const std::string& msg) {
  const std::string v = field(msg, "content-length");
  return v.empty() ? 0 : std::stoull(v);
}

}  // namespace

TamperProxy::TamperProxy(std::uint16_t server_port, std::uint32_t chunk_size)
    : server_port_(server_port), token_(stream::token_length(chunk_size)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 64) != 0)
    throw std::runtime_error("tamper proxy: cannot listen");
  socklen_t len = sizeof a;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

TamperProxy::~TamperProxy() {
  stop_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  ::close(listen_fd_);
  acceptor_.join();  // no worker is added after this; the workers take mutex_ themselves
  for (auto& t : workers_) t.join();
}

void TamperProxy::set_mode(Mode m, Match match) {
  std::lock_guard lock(mutex_);
  mode_ = m;
  match_ = std::move(match);
  mode_count_ = 0;
  junk_sent_ = 0;
  declared_length_ = 0;
  client_closed_early_ = false;
}

void TamperProxy::record_next(Match match) {
  std::lock_guard lock(mutex_);
  recording_ = true;
  record_match_ = std::move(match);
  record_count_ = 0;
  recorded_.clear();
}

void TamperProxy::reset() {
  set_mode(Mode::pass);
  std::lock_guard lock(mutex_);
  recording_ = capture_ = false;
  recorded_.clear();
  captured_.clear();
}

void TamperProxy::set_rewriter(Rewriter r) {
  std::lock_guard lock(mutex_);
  rewriter_ = std::move(r);
}

void TamperProxy::record_all() {
  std::lock_guard lock(mutex_);
  capture_ = true;
}

std::vector<TamperProxy::Conversation> TamperProxy::captured() const {
  std::lock_guard lock(mutex_);
  return captured_;
}

bool TamperProxy::receive(int fd, std::string& buf, std::size_t conversation, bool from_client) {
  char tmp[65536];
  const ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
  if (n <= 0) return false;
  buf.append(tmp, static_cast<std::size_t>(n));
  std::lock_guard lock(mutex_);
  if (conversation < captured_.size()) {
    Conversation& c = captured_[conversation];
    (from_client ? c.from_client : c.from_server).append(tmp, static_cast<std::size_t>(n));
  }
  return true;
}

// Reads one HTTP/1.1 message framed by Content-Length (what minihttpsd and minihttps send) from
// fd, starting with whatever is already in `buf`. Returns the message; leaves the rest in `buf`.
// Empty on EOF.
std::string TamperProxy::read_message(int fd, std::string& buf, std::size_t conversation, bool from_client,
                                      bool is_response_to_head) {
  for (;;) {
    if (const auto end = buf.find("\r\n\r\n"); end != npos) {
      const std::uint64_t length = is_response_to_head ? 0 : content_length(buf.substr(0, end + 4));
      if (buf.size() >= end + 4 + length) {
        std::string msg = buf.substr(0, end + 4 + length);
        buf.erase(0, end + 4 + length);
        return msg;
      }
    }
    if (!receive(fd, buf, conversation, from_client)) return {};
  }
}

void TamperProxy::accept_loop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard lock(mutex_);
    const std::size_t conversation = capture_ ? captured_.size() : npos;
    if (capture_) captured_.emplace_back();
    workers_.emplace_back([this, fd, conversation] { serve(fd, conversation); });
  }
}

void TamperProxy::serve(int client_fd, std::size_t conversation) {
  const int server_fd = tcp_connect(server_port_);
  std::string from_client, from_server;
  while (server_fd >= 0 && !stop_) {
    // One request at a time: keep-alive works, pipelining is not needed by the client.
    pollfd p{client_fd, POLLIN, 0};
    if (from_client.empty() && ::poll(&p, 1, 100) <= 0) continue;
    std::string request = read_message(client_fd, from_client, conversation, true, false);
    if (request.empty()) break;
    const std::string line = request.substr(0, request.find("\r\n"));
    if (!send_all(server_fd, request)) break;
    std::string response = read_message(server_fd, from_server, conversation, false, line.starts_with("HEAD "));
    if (response.empty()) break;
    if (response.starts_with("HTTP/1.1 101 ")) {  // a WebSocket now: frames, not messages
      if (send_all(client_fd, response))
        tunnel(client_fd, server_fd, conversation, std::move(from_client), std::move(from_server));
      break;
    }
    const Out out = tamper(request, std::move(response));
    const std::string_view bytes = out.bytes;
    if (!send_all(client_fd, bytes.substr(0, out.split)) || !send_all(client_fd, bytes.substr(out.split)) || out.cut)
      break;  // a cut body ends with the connection
    if (out.junk) {
      stream_junk(client_fd);
      break;
    }
  }
  if (server_fd >= 0) ::close(server_fd);
  ::close(client_fd);
}

// Both ways, byte for byte, until either side closes.
void TamperProxy::tunnel(int client_fd, int server_fd, std::size_t conversation, std::string from_client,
                         std::string from_server) {
  if (!send_all(server_fd, from_client) || !send_all(client_fd, from_server)) return;
  while (!stop_) {
    pollfd p[2] = {{client_fd, POLLIN, 0}, {server_fd, POLLIN, 0}};
    if (::poll(p, 2, 100) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (p[i].revents == 0) continue;
      std::string buf;
      if (!receive(p[i].fd, buf, conversation, i == 0) || !send_all(i == 0 ? server_fd : client_fd, buf)) return;
    }
  }
}

// The chunked body of Mode::chunked_junk: 64 KiB chunks for as long as the client takes them.
void TamperProxy::stream_junk(int client_fd) {
  const std::string chunk = "10000\r\n" + std::string(0x10000, 'J') + "\r\n";
  std::uint64_t sent = 0;
  while (sent < kJunkCap && !stop_) {
    if (!send_all(client_fd, chunk)) {
      client_closed_early_ = true;
      return;
    }
    sent += 0x10000;
    junk_sent_ = sent;
  }
  send_all(client_fd, "0\r\n\r\n");
}

bool TamperProxy::matches(const Match& m, int& count, const std::string& line, const std::string& response,
                          bool sealed) const {
  if (!line.starts_with(m.prefix) || content_length(response) < m.min_length) return false;
  return m.nth == 0 || (sealed && ++count == m.nth);
}

TamperProxy::Out TamperProxy::tamper(const std::string& request, std::string response) {
  const std::string line = request.substr(0, request.find("\r\n"));
  const bool sealed = !field(response, "minihttps-sealed").empty();
  std::lock_guard lock(mutex_);
  // Both counts see every answer; a recorded answer passes untouched.
  const bool record = recording_ && recorded_.empty() && matches(record_match_, record_count_, line, response, sealed);
  const bool hit = mode_ != Mode::pass && matches(match_, mode_count_, line, response, sealed);
  if (record) recorded_ = response;
  if (record || !hit) return Out{std::move(response)};
  const std::size_t b = body_start(response);
  const std::string head = response.substr(0, b), body = response.substr(b);
  const std::uint64_t L = token_;
  const auto token = [&](const std::string& stream, std::uint64_t i) { return stream.substr(i * L, L); };
  const bool two_tokens = body.size() >= 2 * L;
  const std::string recorded_body = recorded_.empty() ? "" : recorded_.substr(body_start(recorded_));
  Out out{response};
  // Bytes past the end go out in the same write as the last bytes of the body, so that they are
  // there when the client reaches the end.
  const auto then = [&](const std::string& extra) {
    out.bytes = response + extra;
    out.split = response.size() - std::min<std::size_t>(256, body.size());
  };
  const auto with_body = [&](const std::string& new_body, bool fix_length) {
    out.bytes = head + new_body;
    if (fix_length) set_field(out.bytes, "content-length", std::to_string(new_body.size()));
  };
  switch (mode_) {
    case Mode::flip_body_bit:
      if (body.size() < 40) return out;
      // A character in the middle of the body, swapped for another base64url character.
      out.bytes[b + body.size() / 2] = out.bytes[b + body.size() / 2] == 'A' ? 'B' : 'A';
      break;
    case Mode::truncate_body:
      if (body.size() < 10) return out;
      out.bytes.resize(b + body.size() / 2);  // the promised Content-Length kept
      out.cut = true;
      break;
    case Mode::replay_recorded:
      if (recorded_.empty()) return out;
      out.bytes = recorded_;
      break;
    case Mode::chunked_junk: {
      // The genuine head, reframed: the seal binds status and stream to the request, not framing.
      const auto [v, e] = field_at(head, "content-length");
      if (v == npos) return out;
      declared_length_ = content_length(head);
      const std::size_t line_start = head.rfind("\r\n", v);
      out.bytes =
          head.substr(0, line_start) + head.substr(e, head.size() - e - 2) + "Transfer-Encoding: chunked\r\n\r\n";
      out.junk = true;
      break;
    }
    case Mode::bytes_after_body: then("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged"); break;
    case Mode::rewrite:
      if (!rewriter_) return out;
      out.bytes = rewriter_(request, response);
      break;
    case Mode::reorder_chunks:
      if (!two_tokens) return out;
      with_body(token(body, 1) + token(body, 0) + body.substr(2 * L), false);
      break;
    case Mode::drop_chunk:
      if (!two_tokens) return out;
      with_body(token(body, 0) + body.substr(2 * L), true);
      break;
    case Mode::duplicate_chunk:
      if (!two_tokens) return out;
      with_body(token(body, 0) + token(body, 0) + body.substr(2 * L), false);
      break;
    case Mode::truncate_at_chunk:
      if (!two_tokens) return out;
      with_body(token(body, 0), false);
      out.cut = true;
      break;
    case Mode::splice_recorded_chunk:
      if (!two_tokens || recorded_body.size() < 2 * L) return out;
      with_body(token(body, 0) + token(recorded_body, 1) + body.substr(2 * L), false);
      break;
    case Mode::swap_head:
      if (field(recorded_, "minihttps-sealed").empty()) return out;
      set_field(out.bytes, "minihttps-sealed", field(recorded_, "minihttps-sealed"));
      break;
    case Mode::stretch_body:
      if (body.size() < L) return out;
      then(token(body, 0));
      break;
    case Mode::pass: break;
  }
  ++tampered_;
  return out;
}

}  // namespace mh::test
