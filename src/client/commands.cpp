#include "client/commands.hpp"

#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include <algorithm>

#include "client/download.hpp"
#include "client/upload.hpp"
#include "client/exit_codes.hpp"
#include "core/ed25519.hpp"
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
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  if (const auto s = home.remembered_server()) return net::ServerUrl::parse(*s);
  throw UsageError("no server: pass --server http://HOST:PORT (or set MINIHTTPS_SERVER)");
}

int run_connect(const GlobalOptions& g, const ConnectOptions& c) {
  Home home = Home::locate(g.home);
  if (g.server.empty()) throw UsageError("connect needs --server http://HOST:PORT");
  std::optional<std::string> pin;
  if (!c.fingerprint.empty()) pin = c.fingerprint;
  if (!c.server_key_file.empty())
    pin = ed25519_fingerprint(ed25519_public_from_pem(io::read_file(c.server_key_file, 64 * 1024)));
  Connection conn = open(g, home);
  const SavedSession s = conn.handshake(c.name, pin, c.rsa_bits);
  if (!g.verbosity.quiet)
    std::printf("connected to %s as %s (%s); session expires %s\n", terminal_safe(s.server).c_str(),
                terminal_safe(s.name).c_str(),
                s.uuid.to_string().c_str(), utc(s.expires).c_str());
  return kOk;
}

int run_get(const GlobalOptions& g, const GetOptions& o) {
  Home home = Home::locate(g.home);
  Connection conn = open(g, home);
  std::optional<std::filesystem::path> out;
  if (!o.output.empty() && o.output != "-") out = o.output;
  if (o.resume && !out) throw UsageError("-C continues a download to a file: it needs -o FILE");
  const std::string path = o.uploads ? upload_area_path(o.path) : o.path;
  const DownloadResult r = download(conn, encode_path(path), out, g.verbosity, o.resume);
  if (g.verbosity.verbose)
    std::fprintf(stderr, "%llu bytes, %s\n", static_cast<unsigned long long>(r.bytes),
                 terminal_safe(r.media_type, kMaxReasonBytes).c_str());
  if (out && !g.verbosity.quiet) {
    if (r.resumed_at > 0)
      std::fprintf(stderr, "saved %s (%llu bytes, continued from byte %llu)\n", r.written.c_str(),
                   static_cast<unsigned long long>(r.resumed_at + r.bytes), static_cast<unsigned long long>(r.resumed_at));
    else
      std::fprintf(stderr, "saved %s (%llu bytes)\n", r.written.c_str(), static_cast<unsigned long long>(r.bytes));
  }
  return kOk;
}

int run_ls(const GlobalOptions& g, const LsOptions& o) {
  Home home = Home::locate(g.home);
  Connection conn = open(g, home);
  std::string target = o.uploads ? upload_area_path("") : encode_path(o.path);
  if (target.back() != '/') target += '/';
  const auto listing = nlohmann::json::parse(fetch_small(conn, target + "?list"), nullptr, false);
  if (!listing.is_object() || !listing.contains("entries") || !listing["entries"].is_array())
    throw Error(Errc::integrity, "ls: the server's listing is not valid JSON");
  for (const auto& e : listing["entries"]) {
    const std::string name = terminal_safe(e.value("name", "?"), kMaxNameBytes);
    if (e.value("type", "") == "dir") {
      std::printf("%-4s %12s  %-16s  %s/\n", "dir", "-", "", name.c_str());
    } else {
      std::string when = e.contains("mtime") ? utc(e["mtime"].get<std::int64_t>()).substr(0, 16) : "";
      std::replace(when.begin(), when.end(), 'T', ' ');
      std::printf("%-4s %12llu  %-16s  %s\n", "file", static_cast<unsigned long long>(e.value("size", 0ull)),
                  when.c_str(), name.c_str());
    }
  }
  if (listing.value("truncated", false)) std::fprintf(stderr, "(listing truncated by the server)\n");
  return kOk;
}

int run_put(const GlobalOptions& g, const PutOptions& o) {
  Home home = Home::locate(g.home);
  Connection conn = open(g, home);
  const std::string remote = o.remote.empty() ? std::filesystem::path(o.local).filename().string() : o.remote;
  if (remote.empty() || remote.find('/') != std::string::npos)
    throw UsageError("the remote name must be a single file name (got '" + remote + "')");
  const UploadResult r = upload(conn, o.local, remote, g.verbosity);
  if (!g.verbosity.quiet)
    std::printf("uploaded %s (%llu bytes, cksum %u%s)\n", r.name.c_str(), static_cast<unsigned long long>(r.size), r.crc,
                r.attempts > 1 ? (", after " + std::to_string(r.attempts) + " attempts").c_str() : "");
  return kOk;
}

int run_rm(const GlobalOptions& g, const std::string& name) {
  Home home = Home::locate(g.home);
  Connection conn = open(g, home);
  const Answer res = conn.send(Exchange{.method = "DELETE", .target = encode_path(upload_area_path(name))});
  if (!res.sealed && res.status == 401) conn.reconnect_after_401(res, "rm " + name, "DELETE");
  if (res.status != 204) Connection::raise(res, "rm " + name);
  if (!g.verbosity.quiet) std::printf("removed %s\n", name.c_str());
  return kOk;
}

int run_whoami(const GlobalOptions& g) {
  Home home = Home::locate(g.home);
  Connection conn = open(g, home);
  const SavedSession& s = conn.session();
  const std::int64_t left = s.expires - static_cast<std::int64_t>(std::time(nullptr));
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
  if (!g.verbosity.quiet) std::printf("logged out of %s\n", conn.url().str().c_str());
  return rc;
}

}  // namespace mh::client
