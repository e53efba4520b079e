#include "client/commands.hpp"

#include <cstdio>
#include <ctime>

#include "client/exit_codes.hpp"
#include "core/ed25519.hpp"
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

net::ServerUrl server_url(const GlobalOptions& g, const Home& home) {
  if (!g.server.empty()) return net::ServerUrl::parse(g.server);
  if (const auto s = home.remembered_server()) return net::ServerUrl::parse(*s);
  throw Error(Errc::bad_request, "no server: pass --server http://HOST:PORT (or set MINIHTTPS_SERVER)");
}

Connection open(const GlobalOptions& g, Home& home) {
  return Connection(home, server_url(g, home), g.verbosity, std::chrono::seconds(g.timeout_seconds));
}

}  // namespace

int run_connect(const GlobalOptions& g, const ConnectOptions& c) {
  Home home = Home::locate(g.home);
  if (g.server.empty()) throw Error(Errc::bad_request, "connect needs --server http://HOST:PORT");
  std::optional<std::string> pin;
  if (!c.fingerprint.empty()) pin = c.fingerprint;
  if (!c.server_key_file.empty())
    pin = ed25519_fingerprint(ed25519_public_from_pem(io::read_file(c.server_key_file, 64 * 1024)));
  Connection conn = open(g, home);
  const SavedSession s = conn.handshake(c.name, pin, c.rsa_bits);
  if (!g.verbosity.quiet)
    std::printf("connected to %s as %s (%s); session expires %s\n", s.server.c_str(), s.name.c_str(),
                s.uuid.to_string().c_str(), utc(s.expires).c_str());
  return kOk;
}

int run_whoami(const GlobalOptions& g) {
  Home home = Home::locate(g.home);
  Connection conn = open(g, home);
  const SavedSession& s = conn.session();
  const std::int64_t left = s.expires - static_cast<std::int64_t>(std::time(nullptr));
  std::printf("name        %s\n", s.name.c_str());
  std::printf("uuid        %s\n", s.uuid.to_string().c_str());
  std::printf("server      %s\n", s.server.c_str());
  std::printf("server key  %s\n", s.server_fingerprint.c_str());
  std::printf("your key    %s\n", home.load_identity().public_key().fingerprint().c_str());
  std::printf("expires     %s (%s)\n", utc(s.expires).c_str(),
              left > 0 ? ("in " + std::to_string(left / 60) + " min").c_str() : "expired");
  return kOk;
}

int run_logout(const GlobalOptions& g) {
  Home home = Home::locate(g.home);
  Connection conn = open(g, home);
  conn.session();  // fails with "not connected" if there is nothing to forget
  try {
    const auto res = conn.request("POST", "/auth/logout");
    if (res.status != 204 && res.status != 401) Connection::raise(res, "logout");
  } catch (const Error& e) {
    if (e.code() != Errc::network) throw;
    std::fprintf(stderr, "minihttps: could not tell the server (%s); forgetting the session anyway\n", e.what());
  }
  home.forget_session(conn.url().authority());
  if (!g.verbosity.quiet) std::printf("logged out of %s\n", conn.url().str().c_str());
  return kOk;
}

}  // namespace mh::client
