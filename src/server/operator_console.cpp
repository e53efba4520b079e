#include "server/operator_console.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <thread>

namespace mh::server {
namespace {

std::string utc(std::int64_t t) {
  if (t <= 0) return "-";
  char buf[32];
  const auto tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

}  // namespace

OperatorConsole::OperatorConsole(auth::ClientRegistry& registry, const Clock& clock, OperatorHooks hooks)
    : registry_(registry), clock_(clock), hooks_(std::move(hooks)) {}

const char* OperatorConsole::help() {
  return "commands:\n"
         "  /list               registered clients: name, UUID, address, session expiry, last seen, connections\n"
         "  /kick NAME|UUID     revoke the session at once and close its connections and chat sockets\n"
         "  /quit               stop gracefully (requests in flight may finish within --grace)\n"
         "  /help               this text\n";
}

std::string OperatorConsole::execute(std::string_view line) {
  line = trim(line);
  if (!line.empty() && line.front() == '/') line.remove_prefix(1);
  const auto space = line.find(' ');
  const std::string_view cmd = line.substr(0, space);
  const std::string_view arg = space == std::string_view::npos ? std::string_view{} : trim(line.substr(space + 1));
  if (cmd == "list") return list();
  if (cmd == "kick") return arg.empty() ? "usage: /kick NAME|UUID\n" : kick(arg);
  if (cmd == "quit" || cmd == "stop") {
    stopping_ = true;
    if (hooks_.stop) hooks_.stop();
    return "stopping\n";
  }
  if (cmd.empty()) return "";
  if (cmd == "help") return help();
  return "unknown command '" + std::string(cmd) + "'\n" + help();
}

std::string OperatorConsole::list() const {
  auto clients = registry_.list();
  std::sort(clients.begin(), clients.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  const auto open = hooks_.connections ? hooks_.connections() : std::map<std::string, std::size_t>{};
  const std::int64_t now = clock_.now();
  char row[512];
  std::snprintf(row, sizeof row, "%-16s %-36s %-15s %-19s %-19s %s\n", "NAME", "UUID", "ADDRESS", "SESSION EXPIRES",
                "LAST SEEN (UTC)", "CONNECTED");
  std::string out = row;
  for (const auto& c : clients) {
    const auto it = open.find(c.uuid.to_string());
    const std::size_t n = it == open.end() ? 0 : it->second;
    const std::string expires = c.session_expires > now ? utc(c.session_expires) : "ended";
    const std::string connected = n ? "yes (" + std::to_string(n) + ")" : "no";
    std::snprintf(row, sizeof row, "%-16s %-36s %-15s %-19s %-19s %s\n", c.name.c_str(), c.uuid.to_string().c_str(),
                  c.address.c_str(), expires.c_str(), utc(c.last_seen).c_str(), connected.c_str());
    out += row;
  }
  out += std::to_string(clients.size()) + (clients.size() == 1 ? " client\n" : " clients\n");
  return out;
}

std::string OperatorConsole::kick(std::string_view who) {
  const auto uuid = registry_.resolve(who);
  if (!uuid) return "no client named '" + std::string(who) + "'\n";
  if (hooks_.kick) hooks_.kick(*uuid, "kicked by the operator");
  return "kicked " + std::string(who) + " (" + uuid->to_string() + ")\n";
}

void start_terminal_console(OperatorConsole& console) {
  if (!::isatty(0)) return;
  std::thread([&console] {
    std::fputs("operator console: /help for commands\n", stdout);
    std::fflush(stdout);
    std::string line;
    while (!console.stopping() && std::getline(std::cin, line)) {
      std::fputs(console.execute(line).c_str(), stdout);
      std::fflush(stdout);
    }
  }).detach();
}

}  // namespace mh::server
