#include "server/operator_console.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "core/ascii.hpp"

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

ConsoleReply usage(std::string text) { return {2, std::move(text)}; }

}  // namespace

OperatorConsole::OperatorConsole(auth::ClientRegistry& registry, const Clock& clock, OperatorHooks hooks,
                                 auth::BanList& bans)
    : registry_(registry), clock_(clock), hooks_(std::move(hooks)), bans_(bans) {}

const char* OperatorConsole::help() {
  return "commands:\n"
         "  /list               registered clients: name, UUID, address, session expiry, last seen, connections\n"
         "  /kick NAME|UUID     revoke the session at once and close its connections and chat sockets\n"
         "                      (the client may handshake again: a kick is only a disconnect)\n"
         "  /ban NAME|UUID|FINGERPRINT  kick, and refuse that key's handshakes from now on (kept in KEYS/banned, or "
         "the store)\n"
         "  /unban NAME|UUID|FINGERPRINT  lift a ban\n"
         "  /bans               the banned keys\n"
         "  /quit               stop gracefully (requests in flight may finish within --grace)\n"
         "  /help               this text\n";
}

ConsoleReply OperatorConsole::execute(std::string_view line) {
  line = trim(line, " \t\r\n");
  if (!line.empty() && line.front() == '/') line.remove_prefix(1);
  const auto space = line.find(' ');
  const std::string_view cmd = line.substr(0, space);
  const std::string_view arg =
      space == std::string_view::npos ? std::string_view{} : trim(line.substr(space + 1), " \t\r\n");
  if (cmd == "list") return {0, list()};
  if (cmd == "kick") return arg.empty() ? usage("usage: /kick NAME|UUID\n") : kick(arg);
  if (cmd == "ban") return arg.empty() ? usage("usage: /ban NAME|UUID|FINGERPRINT\n") : ban(arg);
  if (cmd == "unban") return arg.empty() ? usage("usage: /unban NAME|UUID|FINGERPRINT\n") : unban(arg);
  if (cmd == "bans") return {0, bans()};
  if (cmd == "quit" || cmd == "stop") {
    stopping_ = true;
    if (hooks_.stop) hooks_.stop();
    return {0, "stopping\n"};
  }
  if (cmd.empty()) return {};
  if (cmd == "help") return {0, help()};
  return usage("unknown command '" + std::string(cmd) + "'\n" + help());
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

ConsoleReply OperatorConsole::kick(std::string_view who) {
  const auto uuid = registry_.resolve(who);
  if (!uuid) return {1, "no client named " + std::string(who) + "\n"};
  if (hooks_.kick) hooks_.kick(*uuid, "kicked by the operator");
  return {0, "kicked " + std::string(who) + " (" + uuid->to_string() + ")\n"};
}

// A ban names a key: by its fingerprint, or by a registered client's name or UUID. Every client
// registered with that key is kicked (sessions, connections, chat); its handshakes are refused
// from then on, across restarts.
ConsoleReply OperatorConsole::ban(std::string_view who) {
  std::string fingerprint, comment;
  if (auth::is_key_fingerprint(who)) {
    fingerprint = who;
  } else {
    const auto uuid = registry_.resolve(who);
    if (!uuid) return {1, "no client named " + std::string(who) + "\n"};
    for (const auto& c : registry_.list())
      if (c.uuid == *uuid) {
        fingerprint = c.fingerprint;
        comment = c.name + " " + c.uuid.to_string() + " ";
      }
    if (fingerprint.empty()) return {1, "no client named " + std::string(who) + "\n"};  // swept meanwhile
  }
  char when[32];
  const auto now = static_cast<std::time_t>(clock_.now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  const bool added = bans_.add(auth::Ban{fingerprint, comment + "banned " + when});
  if (added && hooks_.banned) hooks_.banned(fingerprint);
  for (const auto& c : registry_.list())
    if (c.fingerprint == fingerprint && hooks_.kick) hooks_.kick(c.uuid, "banned by the operator");
  return {0, (added ? "banned " : "already banned: ") + std::string(who) + " (" + fingerprint + ")\n"};
}

ConsoleReply OperatorConsole::unban(std::string_view who) {
  const auto removed = bans_.remove(who);
  if (!removed) return {1, "no ban for " + std::string(who) + "\n"};
  return {0, "unbanned " + std::string(who) + " (" + removed->fingerprint + ")\n"};
}

std::string OperatorConsole::bans() const {
  const auto all = bans_.list();
  std::string out;
  for (const auto& b : all) out += b.fingerprint + "  " + b.comment + "\n";
  return out + std::to_string(all.size()) + (all.size() == 1 ? " banned key\n" : " banned keys\n");
}

}  // namespace mh::server
