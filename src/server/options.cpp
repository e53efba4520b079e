#include "server/options.hpp"

#include <CLI/CLI.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "core/error.hpp"
#include "core/stream.hpp"
#include "core/tls_certificate.hpp"
#include "core/version.hpp"
#include "store/redis_client.hpp"

namespace mh::server {
namespace {

// "HOST:PORT" with an IPv4 address or a bracketed IPv6 one.
bool split_listen(const std::string& s, std::string& host, std::uint16_t& port) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = s.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  try {
    std::size_t used = 0;
    const int p = std::stoi(s.substr(colon + 1), &used);
    if (used != s.size() - colon - 1 || p < 0 || p > 65535) return false;
    port = static_cast<std::uint16_t>(p);
  } catch (...) { return false; }
  return true;
}

// CLI11 ignores config-file keys it does not know, so a typo ("roott = srv") would silently leave
// the default in force. Every `key = value` line must name a long option; the first that does not
// is reported with its file and line.
void refuse_unknown_config_keys(const CLI::App& app, const std::string& file) {
  std::ifstream in(file);
  std::string line, section;
  for (int n = 1; std::getline(in, line); ++n) {
    const auto b = line.find_first_not_of(" \t");
    if (b == std::string::npos || line[b] == '#' || line[b] == ';') continue;
    if (line[b] == '[') {
      section = line.substr(b + 1, line.find(']', b) - b - 1);
      continue;
    }
    const auto eq = line.find('=', b);
    if (eq == std::string::npos) continue;  // CLI11 itself decides what such a line means
    std::string key = line.substr(b, line.find_last_not_of(" \t", eq - 1) - b + 1);
    if (!section.empty() && section != "default") key = section + "." + key;
    // Literally: CLI11 does not read session_ttl as session-ttl, so neither may this check.
    if (key == "config" || app.get_option_no_throw("--" + key) == nullptr)
      throw CLI::ValidationError(file + ":" + std::to_string(n) + ": unknown option '" + key + "'");
  }
}

}  // namespace

Options parse_options(int argc, char** argv) {
  Options o;
  CLI::App app{
      "minihttpsd — serves a folder to authenticated clients (minihttps/2: sealed, RFC 9421-signed requests; chunked "
      "Fernet answers)"};
  CLI::Option* config = app.set_config("--config", "",
                                       "read options from this file (TOML or INI: key = value, keys are the "
                                       "long options without --; an unknown key is an error); flags win");
  app.set_version_flag("--version", "minihttpsd " + std::string(version()));
  app.add_option("--listen", o.listen, "HOST:PORT to listen on; port 0 picks a free port")->capture_default_str();
  app.add_option("--root", o.root, "folder served to clients")->capture_default_str();
  app.add_option("--keys", o.keys, "folder of the server key (created on first start) and authorized_clients")
      ->capture_default_str();
  app.add_option("--store", o.store,
                 "where the state several instances share lives: memory (this process only), "
                 "redis://HOST[:PORT][/DB] or unix:///PATH[?db=N]")
      ->check([](const std::string& v) {
        if (v == "memory") return std::string();
        try {
          store::parse_redis_url(v);
          return std::string();
        } catch (const Error& e) { return std::string(e.what()); }
      })
      ->capture_default_str();
  app.add_option("--store-timeout", o.store_timeout, "seconds each call to the store may take (503 beyond)")
      ->check(CLI::Range(0.01, 60.0))
      ->capture_default_str();
  app.add_option("--threads", o.threads, "worker threads; 0 = one per core")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  app.add_option("--session-ttl", o.session_ttl, "session lifetime in seconds")
      ->check(CLI::Range(std::int64_t{10}, std::int64_t{30} * 86400))
      ->capture_default_str();
  app.add_option("--max-skew", o.max_skew, "allowed clock difference for signed times, seconds")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{3600}))
      ->capture_default_str();
  app.add_option("--chunk-size", o.chunk_size,
                 "bytes of plaintext per chunk of the body streams: a power of two, 4096-4194304")
      ->check([](const std::string& v) {
        std::uint64_t c = 0;
        try {
          c = std::stoull(v);
        } catch (const std::exception&) {}
        return stream::valid_chunk_size(c) ? std::string() : std::string("a power of two from 4096 to 4194304");
      })
      ->capture_default_str();
  app.add_flag("--require-sealed", o.require_sealed,
               "accept only sealed requests (refuse unsealed signed ones with 403)");
  app.add_flag("!--no-web-app", o.web_app, "do not serve the browser client at /.app/");
  app.add_option("--max-clients", o.max_clients, "registry capacity (registered clients)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{10000000}))
      ->capture_default_str();
  app.add_option("--handshake-rate", o.handshake_rate,
                 "handshakes per second allowed per client address (IPv6: per /64)")
      ->check(CLI::Range(0.01, 1e6))
      ->capture_default_str();
  app.add_option("--handshake-burst", o.handshake_burst, "handshake burst allowed per client address")
      ->check(CLI::Range(1.0, 1e6))
      ->capture_default_str();
  app.add_option("--server-handshake-rate", o.server_handshake_rate,
                 "handshakes per second allowed from all addresses together (503 beyond)")
      ->check(CLI::Range(0.01, 1e7))
      ->capture_default_str();
  app.add_option("--server-handshake-burst", o.server_handshake_burst,
                 "handshake burst allowed from all addresses together")
      ->check(CLI::Range(1.0, 1e7))
      ->capture_default_str();
  app.add_option("--max-clients-per-address", o.max_clients_per_address,
                 "identities registered from one address (IPv4 /32, IPv6 /64) at a time (429 beyond)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{10000000}))
      ->capture_default_str();
  app.add_option("--unused-identity-ttl", o.unused_identity_ttl,
                 "seconds after which an identity that never made a signed request is forgotten")
      ->check(CLI::Range(std::int64_t{10}, std::int64_t{30} * 86400))
      ->capture_default_str();
  app.add_option("--max-connections", o.max_connections, "open connections at most")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}))
      ->capture_default_str();
  app.add_option("--replay-capacity", o.replay_capacity, "request nonces remembered at most (about 40 bytes each)")
      ->check(CLI::Range(std::size_t{1024}, std::size_t{1} << 28))
      ->capture_default_str();
  app.add_option("--replay-per-client", o.replay_per_client,
                 "request nonces one client may hold in that memory (its requests per replay window; 429 beyond)")
      ->check(CLI::Range(std::size_t{16}, std::size_t{1} << 28))
      ->capture_default_str();
  app.add_option("--max-header-bytes", o.max_header_bytes, "largest request head accepted")
      ->check(CLI::Range(std::size_t{1024}, std::size_t{1 << 20}))
      ->capture_default_str();
  app.add_option("--request-timeout", o.request_timeout,
                 "seconds a client has to send a request head (and per body pause)")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--write-timeout", o.write_timeout, "seconds a client may stop reading an answer before it is closed")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--grace", o.grace, "seconds in-flight requests get to finish when stopping")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("--upload-dir", o.upload_dir, "where clients' uploads are kept (one private area per client key)")
      ->capture_default_str();
  app.add_option("--max-upload-size", o.max_upload_size, "largest upload accepted, bytes (413 beyond)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 40))
      ->capture_default_str();
  // Each file and attempt is charged at least one filesystem block (4096 bytes): a smaller quota
  // could not hold a single file.
  app.add_option("--upload-quota", o.upload_quota,
                 "bytes each client may keep in uploads, committed and pending; each file or attempt counts "
                 "at least 4096 (507 beyond)")
      ->check(CLI::Range(std::uint64_t{4096}, std::uint64_t{1} << 44))
      ->capture_default_str();
  app.add_option("--upload-max-files", o.upload_max_files,
                 "files each client may keep in uploads, committed plus pending attempts (507 beyond)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{10000000}))
      ->capture_default_str();
  app.add_option("--upload-max-pending", o.upload_max_pending,
                 "upload attempts each client may have in progress or awaiting commit (507 beyond)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000}))
      ->capture_default_str();
  app.add_option("--upload-timeout", o.upload_timeout, "seconds an uncommitted upload attempt is kept")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{86400}))
      ->capture_default_str();
#ifdef MH_FAULT_INJECTION
  app.add_option("--test-corrupt-uploads", o.corrupt_uploads,
                 "TEST BUILD ONLY: damage the first N upload attempts so their CRC cannot match");
#endif
  app.add_option("--control-socket", o.control_socket,
                 "Unix socket for `minihttpsd ctl` (default KEYS/control.sock; 'off' for none)");
  app.add_option("--port-file", o.port_file,
                 "file holding the port to listen on when --listen is not given; the bound port is written to it");
  app.add_option("--log-level", o.log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  app.add_flag("!--no-access-log", o.access_log, "do not log one line per request");
  app.add_option("--access-log", o.access_log_file,
                 "append one line per request to FILE in Combined Log Format plus connection status and "
                 "microseconds (README: Access log) instead of the console log");
  app.add_option("--chat-rate", o.chat_rate,
                 "chat messages per second per client, across its connections and reconnections (more are dropped, "
                 "then the client is closed)")
      ->check(CLI::Range(0.001, 1e6))
      ->capture_default_str();
  app.add_option("--chat-burst", o.chat_burst, "chat messages a client may send at once")
      ->check(CLI::Range(1.0, 1e6))
      ->capture_default_str();
  app.add_option("--chat-room-size", o.chat_room_size, "connections per chat room at most")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000}))
      ->capture_default_str();
  app.add_option("--chat-upgrade-rate", o.chat_upgrade_rate,
                 "chat connections a client may open per second, across reconnections (more are refused with 429)")
      ->check(CLI::Range(0.001, 1e6))
      ->capture_default_str();
  app.add_option("--chat-upgrade-burst", o.chat_upgrade_burst, "chat connections a client may open at once")
      ->check(CLI::Range(1.0, 1e6))
      ->capture_default_str();
  auto* cert = app.add_option("--tls-cert", o.tls_cert,
                              "serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key");
  auto* key = app.add_option("--tls-key", o.tls_key, "the PEM private key of --tls-cert (chmod 600)");
  cert->needs(key);
  key->needs(cert);
  auto* self_signed =
      app.add_flag("--tls-self-signed", o.tls_self_signed,
                   "serve HTTPS with a self-signed certificate made and kept in KEYS (tls_self_signed.crt) for "
                   "localhost, 127.0.0.1, ::1, this host's name and each --tls-name");
  self_signed->excludes(cert)->excludes(key);
  app.add_option("--tls-name", o.tls_names,
                 "another host name or IP address the self-signed certificate names (repeat for more)")
      ->needs(self_signed)
      ->check([](const std::string& v) {
        return is_certificate_name(v) ? std::string() : "'" + v + "' is neither a host name nor an IP address";
      });
  try {
    app.parse(argc, argv);
    if (config->count() > 0) refuse_unknown_config_keys(app, config->as<std::string>());
    // Serving a folder that is not there would answer 404 to everything: refuse to start instead.
    if (!std::filesystem::is_directory(o.root)) throw CLI::ValidationError("--root " + o.root + ": no such directory");
    if (!split_listen(o.listen, o.host, o.port))
      throw CLI::ValidationError("--listen", "expected HOST:PORT, got '" + o.listen + "'");
    // The port file is a fallback: --listen (flag or config file) wins over it.
    if (!o.port_file.empty() && app.count("--listen") == 0) {
      std::ifstream in(o.port_file);
      long port = -1;
      if (in >> port) {
        if (port < 0 || port > 65535) throw CLI::ValidationError("--port-file", o.port_file + " holds no valid port");
        o.port = static_cast<std::uint16_t>(port);
      }
    }
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // prints help, or the error naming the option
    std::exit(rc == 0 ? 0 : 2);
  }
  if (o.threads == 0) o.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return o;
}

}  // namespace mh::server
