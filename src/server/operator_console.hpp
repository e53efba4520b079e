#pragma once
// The operator's commands (issue 5): list clients, kick one, stop the server. One interpreter,
// two front ends: the terminal console (when stdin is a terminal) and the control socket used by
// `minihttpsd ctl`.
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "auth/registry.hpp"
#include "core/clock.hpp"
#include "auth/bans.hpp"

namespace mh::server {

struct OperatorHooks {
  // Open connections per client UUID (HTTP keep-alive and chat sockets).
  std::function<std::map<std::string, std::size_t>()> connections;
  // Revokes the session and closes the client's connections and chat sockets, with a reason.
  std::function<void(const Uuid&, const std::string& reason)> kick;
  // Told of a new ban once it is kept, before the kicks of its clients (other instances hear of it).
  std::function<void(const std::string& fingerprint)> banned;
  // Starts the graceful stop.
  std::function<void()> stop;
};

// What a command answers: the text, and the exit code `minihttpsd ctl` ends with.
struct ConsoleReply {
  int code = 0;  // 0 done, 1 refused (no such client, no such ban), 2 usage (unknown command, missing argument)
  std::string text;
};

class OperatorConsole {
 public:
  OperatorConsole(auth::ClientRegistry& registry, const Clock& clock, OperatorHooks hooks, auth::BanList& bans);
  // One command line ("/list", "list", "/kick NAME|UUID", "/ban NAME|UUID|FINGERPRINT", "/quit",
  // "stop", "/help"). Unknown commands answer with the help.
  ConsoleReply execute(std::string_view line);
  // True once a stop was asked for (the front ends stop reading).
  bool stopping() const noexcept { return stopping_; }

  static const char* help();

 private:
  std::string list() const;
  ConsoleReply kick(std::string_view who);
  ConsoleReply ban(std::string_view who);
  ConsoleReply unban(std::string_view who);
  std::string bans() const;

  auth::ClientRegistry& registry_;
  const Clock& clock_;
  OperatorHooks hooks_;
  auth::BanList& bans_;
  bool stopping_ = false;
};

}  // namespace mh::server
