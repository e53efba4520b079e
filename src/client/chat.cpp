#include "client/chat.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <thread>

#include "client/exit_codes.hpp"
#include "client/sealed_answer.hpp"
#include "core/fernet.hpp"
#include "core/handshake.hpp"
#include "core/seal.hpp"
#include "core/terminal_text.hpp"
#include "io/system_clock.hpp"
#include "net/websocket_client.hpp"

namespace mh::client {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr std::size_t kMaxText = 4096;         // PROTOCOL.md §9: the server's default limit
constexpr std::size_t kMaxIncoming = 1 << 20;  // a frame from the server larger than this: 1009
constexpr auto kJoinWait = 10s;                // for the server's welcome before reading stdin
constexpr auto kCloseWait = 2s;                // for the server's close reply after our close

// Frame n of this connection, each way, is sealed under its own key (PROTOCOL.md §9): a frame
// replayed, dropped, reordered or taken from another connection does not open as the next one.
// Frames are not checked for age: the upgrade's signature was fresh, and the keys are this
// connection's alone.
struct ChatKeys {
  SessionSecret secret;
  Binding binding{};  // B of the upgrade
  FernetKey to_server(std::uint64_t n) const { return secret.derive(KeyPurpose::chat_to_server, binding, n, false); }
  FernetKey to_client(std::uint64_t n) const { return secret.derive(KeyPurpose::chat_to_client, binding, n, false); }
};

constexpr const char* kFrameRefused = "frame refused: out of sequence or tampered";

// Frame n from the server: opens under K("chat to client", B, n) and says "seq": n.
std::optional<json> open_frame(const ChatKeys& keys, std::uint64_t n, const std::string& frame) {
  try {
    const Bytes plain = fernet_decrypt(keys.to_client(n), frame, 0);
    json j = json::parse(as_chars(plain), nullptr, false);
    const auto seq = j.is_object() ? j.find("seq") : j.end();
    if (!j.is_object() || seq == j.end() || !seq->is_number_integer() || seq->get<std::int64_t>() < 0 ||
        static_cast<std::uint64_t>(seq->get<std::int64_t>()) != n)
      return std::nullopt;
    return j;
  } catch (const Error&) { return std::nullopt; }
}

// SIGINT/SIGTERM end the chat like the end of input does (a close handshake, then exit 0).
std::atomic<int> g_wake_fd{-1};
extern "C" void on_stop_signal(int) {
  const int fd = g_wake_fd.load();
  if (fd >= 0) {
    const char c = 's';
    [[maybe_unused]] const ssize_t n = ::write(fd, &c, 1);
  }
}

std::string clock_text(std::int64_t t) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  localtime_r(&tt, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

// What arrives from the network reaches the terminal escaped (core/terminal_text.hpp): no
// control character, escape sequence, bidi override or line break in a name or a text can move
// the cursor, rewrite the screen or start a line that looks like another message. Caps, in
// escaped bytes: names and rooms are 1-32 characters of A-Z a-z 0-9 . _ - (PROTOCOL.md §9), so a
// legitimate one is never cut; texts are at most 4096 bytes, 4 x that covers every escape.
constexpr std::size_t kMaxShownName = 64;
constexpr std::size_t kMaxShownText = 4 * kMaxText;

std::string str(const json& j, const char* key, std::size_t max_bytes) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? terminal_safe(it->get_ref<const std::string&>(), max_bytes)
                                          : std::string("?");
}

// The width of the terminal on fd, or 0 when fd is not a terminal (a pipe, a file).
std::size_t terminal_width(int fd) {
  winsize ws{};
  if (!::isatty(fd) || ::ioctl(fd, TIOCGWINSZ, &ws) != 0) return 0;
  return ws.ws_col;
}

// Output from two threads, a line at a time. On a terminal, long lines are wrapped here with an
// indent as wide as "[HH:MM:SS] ", so that a text padded to the terminal's width cannot make its
// tail appear as a message line of its own; pipes get each line whole.
class Printer {
 public:
  void out(const std::string& line) {
    std::lock_guard lock(mutex_);
    write_wrapped(stdout, line);
    std::fflush(stdout);
  }
  void err(const std::string& line) {
    std::lock_guard lock(mutex_);
    write_wrapped(stderr, "minihttps: chat: " + line);
    std::fflush(stderr);
  }

 private:
  static constexpr std::size_t kIndent = 11;  // "[HH:MM:SS] "
  static void write_wrapped(std::FILE* f, const std::string& line) {
    for (const auto& piece : wrap_for_terminal(line, terminal_width(::fileno(f)), kIndent)) {
      std::fwrite(piece.data(), 1, piece.size(), f);
      std::fputc('\n', f);
    }
  }
  std::mutex mutex_;
};

// What the receiving thread learns, for the main thread.
struct Shared {
  std::mutex mutex;
  std::condition_variable changed;
  bool joined = false;
  bool bad_frame = false;        // a frame from the server did not verify
  double rate = 10, burst = 20;  // the server's limits, as it announced them
};

void receive_loop(net::WebSocketClient& ws, const ChatKeys& keys, Printer& p, Shared& shared, int wake_fd) {
  for (std::uint64_t n = 0;; ++n) {
    std::optional<std::string> frame;
    while (!(frame = ws.receive(1h)) && !ws.closed()) {}
    if (!frame) break;
    const std::optional<json> opened = open_frame(keys, n, *frame);
    if (!opened) {
      p.err(kFrameRefused);
      {
        std::lock_guard lock(shared.mutex);
        shared.bad_frame = true;
      }
      ws.close(net::close_code::policy_violation, kFrameRefused, kCloseWait);
      break;
    }
    const json& j = *opened;
    const std::string type = j.value("type", "");
    const std::string when = "[" + clock_text(j.value("time", std::int64_t{0})) + "] ";
    if (type == "message") {
      const bool priv = j.value("private", false);
      p.out(when + str(j, "from", kMaxShownName) + (priv ? " (private): " : ": ") + str(j, "text", kMaxShownText));
    } else if (type == "notice") {
      p.out(when + "* " + str(j, "text", kMaxShownText));
      if (j.value("event", "") == "joined") {
        std::lock_guard lock(shared.mutex);
        shared.joined = true;
        if (const auto l = j.find("limits"); l != j.end() && l->is_object()) {
          shared.rate = l->value("messages_per_second", shared.rate);
          shared.burst = l->value("burst", shared.burst);
        }
        shared.changed.notify_all();
      }
    } else if (type == "who") {
      std::string names;
      if (j.contains("members") && j["members"].is_array())
        for (const auto& n : j["members"])
          if (n.is_string())
            names += (names.empty() ? "" : ", ") + terminal_safe(n.get_ref<const std::string&>(), kMaxShownName);
      p.out(when + "* in " + str(j, "room", kMaxShownName) + ": " + names);
    } else if (type == "rooms") {
      std::string rooms;
      if (j.contains("rooms") && j["rooms"].is_array())
        for (const auto& r : j["rooms"])
          if (r.is_object())
            rooms += (rooms.empty() ? "" : ", ") + str(r, "name", kMaxShownName) + " (" +
                     std::to_string(r.value("members", 0)) + ")";
      p.out(when + "* rooms: " + rooms);
    } else if (type == "error") {
      p.err(str(j, "reason", kMaxReasonBytes));
    }
  }
  {
    std::lock_guard lock(shared.mutex);
    shared.changed.notify_all();
  }
  const char c = 'c';
  [[maybe_unused]] const ssize_t n = ::write(wake_fd, &c, 1);
}

// Keeps the client under the server's rate limit, so piped input is not dropped.
class Pacer {
 public:
  void set(double rate, double burst) {
    rate_ = std::max(0.1, rate * 0.9);
    burst_ = std::max(1.0, burst - 2);
    tokens_ = burst_;
  }
  void wait() {
    for (;;) {
      const auto now = std::chrono::steady_clock::now();
      tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * rate_);
      last_ = now;
      if (tokens_ >= 1) {
        tokens_ -= 1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::duration<double>((1 - tokens_) / rate_));
    }
  }

 private:
  double rate_ = 9, burst_ = 18, tokens_ = 18;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

class Chat {
 public:
  Chat(net::WebSocketClient& ws, const ChatKeys& keys, Printer& p) : ws_(ws), keys_(keys), p_(p) {}

  // False when the line ends the chat (/quit) or the connection is gone.
  bool line(std::string text) {
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.empty()) return true;
    if (text[0] != '/' || text.rfind("//", 0) == 0) return say(text[0] == '/' ? text.substr(1) : text);
    const auto space = text.find(' ');
    const std::string cmd = text.substr(0, space);
    std::string rest = space == std::string::npos ? "" : text.substr(space + 1);
    if (cmd == "/quit") return false;
    if (cmd == "/help") {
      help();
      return true;
    }
    if (cmd == "/who" || cmd == "/rooms") return send({{"type", cmd.substr(1)}});
    if (cmd == "/join") {
      if (!handshake::valid_name(rest)) {
        p_.err("usage: /join ROOM (1-32 of A-Z a-z 0-9 . _ -)");
        return true;
      }
      return send({{"type", "join"}, {"room", rest}});
    }
    if (cmd == "/msg") {
      const auto sp = rest.find(' ');
      if (sp == std::string::npos || sp == 0 || sp + 1 >= rest.size()) {
        p_.err("usage: /msg NAME text");
        return true;
      }
      if (!fits(rest.substr(sp + 1))) return true;
      return send({{"type", "msg"}, {"to", rest.substr(0, sp)}, {"text", rest.substr(sp + 1)}});
    }
    p_.err("unknown command " + terminal_safe(cmd, kMaxShownName) + " (try /help)");
    return true;
  }

  void limits(double rate, double burst) { pacer_.set(rate, burst); }

 private:
  bool say(const std::string& text) {
    if (!fits(text)) return true;
    return send({{"type", "say"}, {"text", text}});
  }
  bool fits(const std::string& text) {
    if (text.size() <= kMaxText) return true;
    p_.err("not sent: a message is at most " + std::to_string(kMaxText) + " bytes");
    return false;
  }
  // Only the input thread sends, so frame numbers follow the order the frames go out in.
  bool send(json msg) {
    pacer_.wait();
    const std::uint64_t n = sent_++;
    msg["seq"] = n;
    // Bytes that are not UTF-8 become U+FFFD rather than failing the whole line.
    const std::string plain = msg.dump(-1, ' ', false, json::error_handler_t::replace);
    return ws_.send(fernet_encrypt(keys_.to_server(n), as_bytes(plain), io::SystemClock().now()));
  }
  void help() {
    p_.out("* /msg NAME text   private message to NAME");
    p_.out("* /join ROOM       leave this room for ROOM");
    p_.out("* /who             who is in this room");
    p_.out("* /rooms           the rooms and how many are in each");
    p_.out("* /quit            leave (so does the end of input, Ctrl-D)");
    p_.out("* other lines are said to the room; //text says /text");
  }

  net::WebSocketClient& ws_;
  const ChatKeys& keys_;
  Printer& p_;
  Pacer pacer_;
  std::uint64_t sent_ = 0;
};

// Reads stdin line by line until the end of input, /quit, a signal or the end of the connection.
void input_loop(Chat& chat, int wake_fd, net::WebSocketClient& ws) {
  std::string pending;
  char buf[8192];
  for (;;) {
    pollfd fds[2] = {{0, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    const int n = ::poll(fds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;  // a signal, or the connection ended
    if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    const ssize_t got = ::read(0, buf, sizeof buf);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got <= 0) {  // end of input: a last line without newline still counts
      if (!pending.empty()) chat.line(std::move(pending));
      return;
    }
    pending.append(buf, static_cast<std::size_t>(got));
    std::size_t start = 0;
    for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      if (!chat.line(pending.substr(start, nl - start))) return;
      if (ws.closed()) return;
    }
    pending.erase(0, start);
    if (pending.size() > 64 * kMaxText) pending.clear();  // no newline in sight: not a chat line
  }
}

}  // namespace

int run_chat(const GlobalOptions& g, const ChatOptions& o) {
  if (!handshake::valid_name(o.room))
    throw UsageError("room names are 1-32 characters of A-Z a-z 0-9 . _ - (got '" + o.room + "')");
  Home home = Home::locate(g.home);
  const net::ServerUrl url = server_url(g, home);
  const auto timeout = std::chrono::milliseconds(std::chrono::seconds(g.timeout_seconds));
  Connection conn(home, url, g.verbosity, timeout);
  const std::string target = "/chat?room=" + o.room;

  // The upgrade is a sealed GET (PROTOCOL.md §9): the outer GET of the sealed path carries the
  // WebSocket fields, the sealed head the real target. Accepted: a 101 with a sealed head of
  // status 200, bound to this request. On a plain 401 (session gone), handshake again once.
  net::WebSocketClient ws(url, timeout);
  std::optional<ChatKeys> keys;
  for (int attempt = 0;; ++attempt) {
    const SealedRequest req = conn.seal("GET", target, {}, true);
    const SavedSession& s = conn.session();
    const net::ClientResponse res = ws.open(req.outer.target, req.outer.headers, kMaxIncoming);
    AnswerReader reader(s.secret, req.sig.binding, s.chunk_size, {}, {}, true);
    const Answer a = reader.read(res);  // a 101 without its sealed head is refused here
    if (g.verbosity.verbose)
      std::fprintf(stderr, "< %d%s\n", res.status,
                   a.sealed ? (" (sealed: " + std::to_string(a.status) + ")").c_str() : "");
    if (res.status == 101) {
      keys.emplace(ChatKeys{s.secret, req.sig.binding});
      break;
    }
    if (!a.sealed && a.status == 401 && attempt == 0) {
      conn.rehandshake();
      continue;
    }
    Connection::raise(a, "chat");
  }

  int wake[2];
  if (::pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) throw Error(Errc::internal, "pipe2 failed");
  g_wake_fd = wake[1];
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {
  }, old_term{};
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);

  Printer printer;
  Shared shared;
  std::thread reader([&] { receive_loop(ws, *keys, printer, shared, wake[1]); });

  // Lines are read once the server has said which room we are in (and its limits).
  Chat chat(ws, *keys, printer);
  bool joined = false;
  {
    std::unique_lock lock(shared.mutex);
    joined = shared.changed.wait_for(lock, kJoinWait, [&] { return shared.joined || ws.closed(); }) && shared.joined;
    chat.limits(shared.rate, shared.burst);
  }
  if (joined) input_loop(chat, wake[0], ws);

  // Our side ends: what was typed is queued before the close frame, so it all goes out first.
  const bool ended_by_server = ws.closed();
  bool confirmed = false;
  if (!ended_by_server) confirmed = ws.close(net::close_code::normal, "bye", kCloseWait);
  reader.join();
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  g_wake_fd = -1;
  ::close(wake[0]);
  ::close(wake[1]);

  const auto info = ws.close_info();
  if (shared.bad_frame) return kIntegrity;
  if (!ended_by_server) {
    if (!joined) {
      printer.err("the server did not answer");
      return kNetwork;
    }
    if (confirmed) return kOk;
    printer.err("the server did not confirm the end of the chat; the last messages may be lost");
    return kNetwork;
  }
  switch (info.code) {
    case net::close_code::normal: return kOk;
    case 0:
      printer.err("connection lost" + (info.error.empty() ? "" : ": " + terminal_safe(info.error, kMaxReasonBytes)));
      return kNetwork;
    case net::close_code::going_away: printer.err("the server is shutting down"); return kNetwork;
    case net::close_code::policy_violation:
    case net::close_code::too_big:
    case net::close_code::unsupported_data:
      printer.err("closed by the server: " + terminal_safe(info.reason, kMaxReasonBytes) + " (" +
                  std::to_string(info.code) + ")");
      return kAuth;
    default:
      printer.err("closed by the server: " + terminal_safe(info.reason, kMaxReasonBytes) + " (" +
                  std::to_string(info.code) + ")");
      return kFailed;
  }
}

}  // namespace mh::client
