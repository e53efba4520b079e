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

namespace mh::server {

struct OperatorHooks {
  // Open connections per client UUID (HTTP keep-alive and chat sockets).
  std::function<std::map<std::string, std::size_t>()> connections;
  // Revokes the session and closes the client's connections and chat sockets, with a reason.
  std::function<void(const Uuid&, const std::string& reason)> kick;
  // Starts the graceful stop.
  std::function<void()> stop;
};

class OperatorConsole {
 public:
  OperatorConsole(auth::ClientRegistry& registry, const Clock& clock, OperatorHooks hooks);
  // One command line ("/list", "list", "/kick NAME|UUID", "/quit", "stop", "/help"); returns the
  // text to show. Unknown commands answer with the help.
  std::string execute(std::string_view line);
  // True once a stop was asked for (the front ends stop reading).
  bool stopping() const noexcept { return stopping_; }

  static const char* help();

 private:
  std::string list() const;
  std::string kick(std::string_view who);

  auth::ClientRegistry& registry_;
  const Clock& clock_;
  OperatorHooks hooks_;
  bool stopping_ = false;
};

// Reads commands from stdin when it is a terminal, on a thread of its own.
void start_terminal_console(OperatorConsole& console);

}  // namespace mh::server
