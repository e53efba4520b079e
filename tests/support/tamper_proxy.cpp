#include "support/tamper_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

#include "support/test_support.hpp"

namespace mh::test {
namespace {

bool write_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads one HTTP/1.1 message with Content-Length (what minihttpsd sends) from fd, starting with
// whatever is already in `buf`. Returns the message; leaves the rest in `buf`. Empty on EOF.
std::string read_message(int fd, std::string& buf, bool is_response_to_head) {
  for (;;) {
    const auto end = buf.find("\r\n\r\n");
    if (end != std::string::npos) {
      std::size_t length = 0;
      std::string head = buf.substr(0, end + 4);
      std::string lower = head;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (const auto p = lower.find("\r\ncontent-length:"); p != std::string::npos && !is_response_to_head)
        length = std::stoull(lower.substr(p + 17));
      if (buf.size() >= end + 4 + length) {
        std::string msg = buf.substr(0, end + 4 + length);
        buf.erase(0, end + 4 + length);
        return msg;
      }
    }
    char tmp[65536];
    const ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return {};
    buf.append(tmp, static_cast<std::size_t>(n));
  }
}

}  // namespace

TamperProxy::TamperProxy(std::uint16_t server_port) : server_port_(server_port) {
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
  acceptor_.join();
  std::lock_guard lock(mutex_);
  for (auto& t : workers_) t.join();
}

void TamperProxy::set_mode(Mode m, std::string request_prefix) {
  std::lock_guard lock(mutex_);
  mode_ = m;
  prefix_ = std::move(request_prefix);
  junk_sent_ = 0;
  declared_length_ = 0;
  client_closed_early_ = false;
}

void TamperProxy::record_next(std::string request_prefix) {
  std::lock_guard lock(mutex_);
  record_prefix_ = std::move(request_prefix);
  recorded_.clear();
}

void TamperProxy::accept_loop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard lock(mutex_);
    workers_.emplace_back([this, fd] { serve(fd); });
  }
}

void TamperProxy::serve(int client_fd) {
  const int server_fd = tcp_connect(server_port_);
  std::string from_client, from_server;
  while (server_fd >= 0 && !stop_) {
    // One request at a time: keep-alive works, pipelining is not needed by the client.
    pollfd p{client_fd, POLLIN, 0};
    if (from_client.empty() && ::poll(&p, 1, 100) <= 0) continue;
    std::string request = read_message(client_fd, from_client, false);
    if (request.empty()) break;
    const std::string line = request.substr(0, request.find("\r\n"));
    if (!write_all(server_fd, request)) break;
    std::string response = read_message(server_fd, from_server, line.rfind("HEAD ", 0) == 0);
    if (response.empty()) break;
    bool cut = false, junk = false;
    response = rewrite(request, std::move(response), cut, junk);
    if (!write_all(client_fd, response) || cut) break;  // a cut body ends with the connection
    if (junk) {
      stream_junk(client_fd);
      break;
    }
  }
  if (server_fd >= 0) ::close(server_fd);
  ::close(client_fd);
}

void TamperProxy::set_rewriter(Rewriter r) {
  std::lock_guard lock(mutex_);
  rewriter_ = std::move(r);
}

// The chunked body of Mode::chunked_junk: 64 KiB chunks for as long as the client takes them.
void TamperProxy::stream_junk(int client_fd) {
  const std::string chunk = "10000\r\n" + std::string(0x10000, 'J') + "\r\n";
  std::uint64_t sent = 0;
  while (sent < kJunkCap && !stop_) {
    if (!write_all(client_fd, chunk)) {
      client_closed_early_ = true;
      return;
    }
    sent += 0x10000;
    junk_sent_ = sent;
  }
  write_all(client_fd, "0\r\n\r\n");
}

std::string TamperProxy::rewrite(const std::string& request, std::string response, bool& cut, bool& junk) {
  const std::string line = request.substr(0, request.find("\r\n"));
  std::lock_guard lock(mutex_);
  if (!record_prefix_.empty() && line.rfind(record_prefix_, 0) == 0 && recorded_.empty()) {
    recorded_ = response;
    return response;
  }
  if (mode_ == Mode::pass || line.rfind(prefix_, 0) != 0) return response;
  const std::size_t body = response.find("\r\n\r\n") + 4;
  switch (mode_) {
    case Mode::flip_body_bit:
      if (response.size() > body + 40) {
        // A character in the middle of the token, swapped for another base64url character.
        char& c = response[body + (response.size() - body) / 2];
        c = c == 'A' ? 'B' : 'A';
        ++tampered_;
      }
      break;
    case Mode::truncate_body:
      if (response.size() > body + 10) {
        // Keep the promised Content-Length but stop early: the connection closes mid-body.
        response.resize(body + (response.size() - body) / 2);
        cut = true;
        ++tampered_;
      }
      break;
    case Mode::replay_recorded:
      if (!recorded_.empty()) {
        response = recorded_;
        ++tampered_;
      }
      break;
    case Mode::chunked_junk: {
      // The head as signed, reframed: the signature covers status, digest and request, not framing.
      std::string head = response.substr(0, body - 2);
      std::string lower = head;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const auto p = lower.find("\r\ncontent-length:");
      if (p == std::string::npos) break;
      const auto e = head.find("\r\n", p + 2);
      declared_length_ = std::stoull(head.substr(p + 17, e - p - 17));
      head.erase(p, e - p);
      response = head + "Transfer-Encoding: chunked\r\n\r\n";
      junk = true;
      ++tampered_;
      break;
    }
    case Mode::bytes_after_body:
      response += "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged";
      ++tampered_;
      break;
    case Mode::rewrite:
      if (rewriter_) {
        response = rewriter_(request, response);
        ++tampered_;
      }
      break;
    case Mode::pass: break;
  }
  return response;
}

}  // namespace mh::test
