#include "client/commands.hpp"

#include <cstdio>
#include <cstdlib>
#include <ctime>

#include <nlohmann/json.hpp>

#include <algorithm>

#include "client/download.hpp"
#include "client/get_checks.hpp"
#include "client/upload.hpp"
#include "client/exit_codes.hpp"
#include "client/human.hpp"
#include "client/remote_tree.hpp"
#include "client/transfer.hpp"
#include "core/ed25519.hpp"
#include "core/handshake.hpp"
#include "core/terminal_text.hpp"
#include "io/files.hpp"

namespace mh::client {
namespace {

std::string utc(std::int64_t t) {
  char buf[32];
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// A listed name as printed: escaped (see core/terminal_text.hpp). A servable name is at most 255
// bytes, so a legitimate one always fits; a hostile server's longer ones are cut visibly.
constexpr std::size_t kMaxNameBytes = 1024;

Connection open(const GlobalOptions& g, Home& home) {
  return Connection(home, server_url(g, home), g.verbosity, std::chrono::seconds(g.timeout_seconds));
}

}  // namespace

net::ServerUrl server_url(const GlobalOptions& g, const Home& home) {
  try {
    if (!g.server.empty()) return net::ServerUrl::parse(g.server);
  } catch (const Error& e) { throw UsageError(e.what()); }
  if (const auto s = home.remembered_server()) return net::ServerUrl::parse(*s);
  throw UsageError("no server yet: run `minihttps connect HOST:PORT`");
}

namespace {

// As minihttpsd prints it: "SHA256:" and the unpadded base64 of 32 bytes.
bool valid_fingerprint(std::string_view fp) {
  constexpr std::string_view prefix = "SHA256:";
  if (!fp.starts_with(prefix) || fp.size() != prefix.size() + 43) return false;
  return fp.substr(prefix.size())
             .find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") ==
         std::string_view::npos;
}

// --name, else the name this home used with that server, else the login name if it is a valid one.
std::string connect_name(const ConnectOptions& c, const Home& home, const std::string& authority) {
  if (!c.name.empty()) return c.name;
  try {
    if (const auto s = home.load_session(authority)) return s->name;
  } catch (const Error&) {
    // a damaged session file is replaced by this connect
  }
  if (const char* user = std::getenv("USER"); user && handshake::valid_name(user)) return user;
  throw UsageError("connect needs --name NAME (1-32 characters of A-Z a-z 0-9 . _ -)");
}

}  // namespace

int run_connect(const GlobalOptions& g, const ConnectOptions& c) {
  if (!c.fingerprint.empty() && !valid_fingerprint(c.fingerprint))
    throw UsageError("--fingerprint must be SHA256: and 43 base64 characters, as minihttpsd prints it (got '" +
                     c.fingerprint + "')");
  Home home = Home::locate(g.home);
  GlobalOptions to = g;
  if (!c.address.empty()) to.server = c.address;  // the command's own argument wins over --server
  const net::ServerUrl url = server_url(to, home);
  to.server = url.str();
  const std::string name = connect_name(c, home, url.authority());
  std::optional<std::string> pin;
  std::string pin_from;
  if (!c.fingerprint.empty()) {
    pin = c.fingerprint;
    pin_from = "--fingerprint";
  }
  if (!c.server_key_file.empty()) {
    pin = ed25519_fingerprint(ed25519_public_from_pem(io::read_file(c.server_key_file, 64 * 1024)));
    pin_from = "--server-key " + c.server_key_file;
  }
  Connection conn = open(to, home);
  const SavedSession s = conn.handshake(name, pin, c.rsa_bits, pin_from);
  if (!g.verbosity.quiet)
    std::printf("connected to %s as %s (%s); session expires %s\n", terminal_safe(s.server).c_str(),
                terminal_safe(s.name).c_str(), s.uuid.to_string().c_str(), utc(s.expires).c_str());
  return kOk;
}

int run_get(const GlobalOptions& g, const GetOptions& o) {
  Home home = Home::locate(g.home);
  Connection conn = open(g, home);
  if (o.paths.size() != 1 || o.recursive) return run_get_batch(g, o, conn);
  const std::string& path = o.paths[0];
  std::optional<std::filesystem::path> out;
  if (!o.output.empty() && o.output != "-") out = o.output;
  if (o.resume && !out) throw UsageError("-C continues a download to a file: it needs -o FILE");
  // -o DIR/ keeps the remote name, in DIR (made if need be).
  std::error_code ec;
  if (out && o.output.back() == '/' && !std::filesystem::create_directories(*out, ec) && ec)
    throw Error(Errc::io, "cannot create " + o.output + ": " + ec.message());
  DownloadResult r;
  try {
    r = download(conn, remote_target(normalize_remote(path), o.uploads, path.ends_with('/')), out, g.verbosity,
                 o.resume, o.output == "-");
  } catch (const IsDirectory&) { throw directory_error(path); }
  if (g.verbosity.verbose)
    std::fprintf(stderr, "%llu bytes, %s\n", static_cast<unsigned long long>(r.bytes),
                 terminal_safe(r.media_type, kMaxReasonBytes).c_str());
  if (out && !g.verbosity.quiet) {
    if (r.resumed_at > 0)
      std::fprintf(stderr, "saved %s (%llu bytes, continued from byte %llu)\n", r.written.c_str(),
                   static_cast<unsigned long long>(r.resumed_at + r.bytes),
                   static_cast<unsigned long long>(r.resumed_at));
    else
      std::fprintf(stderr, "saved %s (%llu bytes)\n", r.written.c_str(), static_cast<unsigned long long>(r.bytes));
  }
  return kOk;
}

namespace {

std::string ls_line(const RemoteEntry& e, const LsOptions& o, std::int64_t now) {
  const std::string name = terminal_safe(e.name, kMaxNameBytes) + (e.dir ? "/" : "");
  if (!o.long_format && !o.human) return name + "\n";
  const std::string size = e.dir ? "-" : o.human ? human_size(e.size) : std::to_string(e.size);
  const std::string when = e.dir ? "" : listing_time(e.mtime, now);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%-4s  %10s  %-12s  ", e.dir ? "dir" : "file", size.c_str(), when.c_str());
  return buf + name + "\n";
}

// ls --json: {"path":"/docs/","entries":[{"name":"a.txt","type":"file","size":12,"mtime":1700000000},
// {"name":"sub","type":"dir"}],"truncated":false}; path is relative to the served folder or to
// your uploads, and ends in '/' for a directory. Non-ASCII is escaped, so the line is safe on a
// terminal whatever the names hold.
std::string ls_json(const std::string& path, const std::vector<RemoteEntry>& entries, bool truncated) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& e : entries) {
    nlohmann::ordered_json j;
    j["name"] = e.name;
    j["type"] = e.dir ? "dir" : "file";
    if (!e.dir) {
      j["size"] = e.size;
      j["mtime"] = e.mtime;
    }
    list.push_back(std::move(j));
  }
  nlohmann::ordered_json doc;
  doc["path"] = path;
  doc["entries"] = std::move(list);
  doc["truncated"] = truncated;
  return doc.dump(-1, ' ', true, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace

int run_ls(const GlobalOptions& g, const LsOptions& o) {
  Home home = Home::locate(g.home);
  Connection conn = open(g, home);
  const std::string rel = normalize_remote(o.path), what = "ls " + terminal_safe(o.path, 300);
  std::optional<RemoteListing> listing;
  const std::optional<RemoteEntry> entry = stat_remote(conn, rel, o.uploads, what, &listing);
  if (!entry) throw Error(Errc::not_found, what + ": no such file or directory");
  // A file is shown as its own one-line listing, as ls FILE does.
  const std::vector<RemoteEntry> entries = listing ? listing->entries : std::vector<RemoteEntry>{*entry};
  const bool truncated = listing && listing->truncated;
  if (o.json) {
    std::printf("%s\n", ls_json("/" + rel + (listing && !rel.empty() ? "/" : ""), entries, truncated).c_str());
    return kOk;
  }
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  for (const auto& e : entries) std::fputs(ls_line(e, o, now).c_str(), stdout);
  if (truncated) std::fprintf(stderr, "(listing truncated by the server)\n");
  return kOk;
}

int run_rm(const GlobalOptions& g, const std::string& name) {
  Home home = Home::locate(g.home);
  Connection conn = open(g, home);
  const Answer res = conn.send(Exchange{.method = "DELETE", .target = remote_target(normalize_remote(name), true)});
  if (!res.sealed && res.status == 401) conn.reconnect_after_401(res, "rm " + name, "DELETE");
  if (res.status != 204) Connection::raise(res, "rm " + name);
  if (!g.verbosity.quiet) std::printf("removed %s\n", name.c_str());
  return kOk;
}

int run_whoami(const GlobalOptions& g, bool json) {
  Home home = Home::locate(g.home);
  Connection conn = open(g, home);
  const SavedSession& s = conn.session();
  // The file alone cannot know of a kick or of a server restart: ask, without renewing. Any
  // sealed answer proves the server still holds the session; a plain 401 says it ended.
  const Answer alive = conn.send(Exchange{.method = "HEAD", .target = "/", .handshake_again = false});
  if (!alive.sealed && alive.status == 401)
    throw Error(Errc::unauthenticated, "the session with " + conn.url().str() +
                                           " was ended by the server: run `minihttps connect " +
                                           conn.url().authority() + "` (get, ls and put connect again by themselves)");
  if (!alive.sealed) Connection::raise(alive, "whoami");
  const std::int64_t left = s.expires - static_cast<std::int64_t>(std::time(nullptr));
  if (json) {
    // whoami --json: the same facts under stable names (README); expires_in is 0 once expired.
    nlohmann::ordered_json j;
    j["name"] = s.name;
    j["uuid"] = s.uuid.to_string();
    j["server"] = s.server;
    j["server_fingerprint"] = s.server_fingerprint;
    j["client_fingerprint"] = home.load_identity().public_key().fingerprint();
    j["keyid"] = seal::keyid_text(s.keyid);
    j["chunk_size"] = s.chunk_size;
    j["expires"] = s.expires;
    j["expires_in"] = std::max<std::int64_t>(left, 0);
    std::printf("%s\n", j.dump(-1, ' ', true, nlohmann::ordered_json::error_handler_t::replace).c_str());
    return kOk;
  }
  // From the session file (written by connect, but a file all the same): escaped like the rest.
  std::printf("name        %s\n", terminal_safe(s.name).c_str());
  std::printf("uuid        %s\n", s.uuid.to_string().c_str());
  std::printf("server      %s\n", terminal_safe(s.server).c_str());
  std::printf("server key  %s\n", terminal_safe(s.server_fingerprint).c_str());
  std::printf("your key    %s\n", home.load_identity().public_key().fingerprint().c_str());
  std::printf("session     %s, chunks of %u bytes\n", seal::keyid_text(s.keyid).c_str(), s.chunk_size);
  std::printf("expires     %s (%s)\n", utc(s.expires).c_str(),
              left > 0 ? ("in " + std::to_string(left / 60) + " min").c_str() : "expired");
  return kOk;
}

int run_logout(const GlobalOptions& g) {
  Home home = Home::locate(g.home);
  Connection conn = open(g, home);
  conn.session();  // fails with "not connected" if there is nothing to forget
  // The local session is forgotten whatever the server says: logging out must always work.
  // A POST is never repeated after a 401, and need not be: a session the server no longer knows
  // is already over.
  int rc = kOk;
  try {
    const Answer res = conn.send(Exchange{.method = "POST", .target = "/auth/logout"});
    if (res.status != 204 && !(res.status == 401 && !res.sealed)) Connection::raise(res, "logout");
  } catch (const Error& e) {
    std::fprintf(stderr, "minihttps: could not tell the server (%s); forgetting the session anyway\n",
                 terminal_safe_message(e.what()).c_str());
    if (e.code() != Errc::network) rc = exit_code_for(e.code());
  }
  home.forget_session(conn.url().authority());
  home.record_ended_session(conn.url().authority(), "logged out");
  if (!g.verbosity.quiet) std::printf("logged out of %s\n", conn.url().str().c_str());
  return rc;
}

}  // namespace mh::client
