// minihttpsd — wiring only: options, identity, registry, services, HTTP server, signals.
#include <spdlog/spdlog.h>

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string_view>

#include "auth/auth_service.hpp"
#include "core/terminal_text.hpp"
#include "io/files.hpp"
#include "io/folder_lock.hpp"
#include "io/server_identity.hpp"
#include "io/system_clock.hpp"
#include "io/tls_files.hpp"
#include "net/http_server.hpp"
#include "server/access_log.hpp"
#include "server/ban_list.hpp"
#include "server/control_socket.hpp"
#include "server/operator_console.hpp"
#include "server/options.hpp"
#include "server/router.hpp"
#include "web/app_page.hpp"
#include "server/terminal_console.hpp"
#include "store/redis_bans.hpp"
#include "store/redis_chat.hpp"
#include "store/redis_events.hpp"
#include "store/redis_upload_ledger.hpp"
#include "store/shared_store.hpp"
#include "web/chat_hub.hpp"
#include "web/chat_tickets.hpp"
#include "web/file_service.hpp"
#include "web/request_verifier.hpp"
#include "web/upload_service.hpp"
#include "web/web_service.hpp"

using namespace mh;

namespace {

void setup_logging(const server::Options& o) {
  // stderr, kept clear of the operator console's prompt (server/terminal_console.hpp).
  auto logger = std::make_shared<spdlog::logger>("minihttpsd", server::console_log_sink());
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(o.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");  // local time with its UTC offset
}

// The names a self-signed certificate covers: this machine's (loopback, its host name), the address
// it listens on when that is one address, and the operator's --tls-name.
std::vector<std::string> self_signed_names(const server::Options& o) {
  std::vector<std::string> names{"localhost", "127.0.0.1", "::1"};
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0 && is_certificate_name(host)) names.emplace_back(host);
  if (o.host != "0.0.0.0" && o.host != "::") names.push_back(o.host);
  names.insert(names.end(), o.tls_names.begin(), o.tls_names.end());
  std::vector<std::string> unique;
  for (auto& n : names)
    if (std::find(unique.begin(), unique.end(), n) == unique.end()) unique.push_back(std::move(n));
  return unique;
}

// Makes `http` serve HTTPS with the certificate the options name, and says on the console what a
// browser will show for it. Returns what it said (parsed once).
CertificateFacts serve_tls(net::HttpServer& http, const server::Options& o, std::int64_t now) {
  TlsCertificate tls;
  std::string origin;
  if (o.tls_self_signed) {
    auto made = io::load_or_create_self_signed(o.keys, self_signed_names(o), now);
    tls = std::move(made.files);
    origin = std::string(made.created ? "made now, " : "") + "self-signed, kept in " +
             (std::filesystem::path(o.keys) / io::kSelfSignedCertFile).string();
  } else {
    tls = io::load_tls_files(o.tls_cert, o.tls_key);
    origin = o.tls_cert;
  }
  const CertificateFacts facts = describe_certificate(tls.certificate_pem);
  std::string names;
  for (const auto& n : facts.names) names += (names.empty() ? "" : ", ") + n;
  // The key's hash as curl's --pinnedpubkey and Chromium's --ignore-certificate-errors-spki-list take it.
  spdlog::info("tls: certificate SHA-256 {} for {} ({}); its public key sha256//{}", facts.sha256,
               names.empty() ? "no names" : names, origin, facts.spki_sha256);
  http.use_tls(tls);
  return facts;
}

// First SIGINT/SIGTERM: graceful stop within --grace. Second: stop at once.
void watch_signals(net::HttpServer& server, double grace_seconds) {
  server.on_signals([&server, grace_seconds](int sig, int count) {
    if (count == 0) {
      spdlog::info("{} received: stopping, requests in flight get {} s (signal again to stop now)",
                   sig == SIGINT ? "SIGINT" : "SIGTERM", grace_seconds);
      server.stop(std::chrono::milliseconds(static_cast<long>(grace_seconds * 1000)));
    } else {
      spdlog::warn("second signal: stopping now");
      server.stop(std::chrono::milliseconds(0));
    }
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "ctl") return server::run_ctl(argc, argv);
  const server::Options opt = server::parse_options(argc, argv);
  setup_logging(opt);
  std::signal(SIGPIPE, SIG_IGN);
  // Every connection is a descriptor: use all the system allows this process (--max-connections
  // is the limit the operator sets).
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }

  try {
    // One server per keys folder, decided before anything in it is created or read.
    io::ensure_directory(opt.keys, 0700);
    const io::UniqueFd keys_lock = io::lock_folder(opt.keys);
    const io::LoadedIdentity id = io::load_or_create_server_identity(opt.keys);
    if (id.created) spdlog::info("created a new server key in {}/", opt.keys);
    if (id.static_created) spdlog::info("created a new static handshake key in {}/", opt.keys);
    io::SystemClock clock;
    auth::RegistryLimits registry_limits;
    registry_limits.per_address = opt.max_clients_per_address;
    registry_limits.unused_ttl = opt.unused_identity_ttl;
    // The state several instances share: in this process, or in Redis (docs/ARCHITECTURE.md §7).
    std::unique_ptr<store::SharedStore> shared;
    std::unique_ptr<auth::ClientRegistry> local_registry;
    if (opt.store != "memory") {
      store::SharedStoreOptions so;
      so.address = store::parse_redis_url(opt.store);
      so.timeout = std::chrono::milliseconds(static_cast<long>(opt.store_timeout * 1000));
      so.connections = static_cast<std::size_t>(opt.threads) + 2;
      so.max_skew = opt.max_skew;
      so.replay_per_client = opt.replay_per_client;
      so.registry.capacity = opt.max_clients;
      so.registry.limits = registry_limits;
      so.registry.retention = opt.session_ttl;
      so.handshakes_per_second = opt.handshake_rate;
      so.handshake_burst = opt.handshake_burst;
      so.server_handshakes_per_second = opt.server_handshake_rate;
      so.server_handshake_burst = opt.server_handshake_burst;
      so.log = [](bool warn, const std::string& line) {
        if (warn)
          spdlog::warn("{}", line);
        else
          spdlog::info("{}", line);
      };
      shared = std::make_unique<store::SharedStore>(id.key, std::move(so));
    } else {
      local_registry = auth::make_in_memory_registry(opt.max_clients, registry_limits);
    }
    auth::ClientRegistry* registry = shared ? &shared->registry() : local_registry.get();
    auth::AuthConfig cfg;
    cfg.policy.max_skew = opt.max_skew;
    cfg.policy.session_ttl = opt.session_ttl;
    cfg.policy.chunk_size = opt.chunk_size;
    cfg.handshakes_per_second = opt.handshake_rate;
    cfg.handshake_burst = opt.handshake_burst;
    cfg.server_handshakes_per_second = opt.server_handshake_rate;
    cfg.server_handshake_burst = opt.server_handshake_burst;
    cfg.authorized = io::load_authorized_clients(opt.keys);
    if (cfg.authorized)
      spdlog::info("only the {} keys in {}/authorized_clients may register", cfg.authorized->size(), opt.keys);
    // One instance keeps its bans in KEYS/banned; instances sharing a store keep them in Redis, where
    // a ban made on any of them holds on all at once. KEYS/banned is then only imported, at start.
    server::BanFile ban_file(std::filesystem::path(opt.keys) / "banned");
    std::optional<store::RedisBanList> shared_bans;
    if (shared)
      shared_bans.emplace(shared->redis(), ban_file.list(), [keys = opt.keys](std::size_t added, std::size_t of) {
        spdlog::info(
            "store: imported {} of the {} bans in {}/banned (those not in the store yet); bans are "
            "kept in the store from now on, {}/banned is no longer written",
            added, of, keys, keys);
      });
    auth::BanList& bans = shared_bans ? static_cast<auth::BanList&>(*shared_bans) : ban_file;
    if (shared_bans) {
      try {
        shared_bans->list();  // imports KEYS/banned now if Redis is up, else on first use
      } catch (const Error& e) { spdlog::warn("store: bans not imported yet: {}", e.what()); }
    }
    cfg.banned = [&bans](const std::string& fingerprint) { return bans.contains(fingerprint); };
    if (shared) {
      cfg.shared_hello_nonces = &shared->hello_nonces();
      cfg.shared_handshake_limiter = &shared->handshake_limiter();
      cfg.shared_server_handshake_limiter = &shared->server_handshake_limiter();
    }
    auth::AuthService auth(id.key, id.static_key, *registry, std::move(cfg), clock);
    // A signed request is acceptable for 2 * max_skew seconds: its nonce is kept that long.
    std::optional<auth::ReplayCache> local_nonces;
    if (!shared) local_nonces.emplace(2 * opt.max_skew + 1, opt.replay_capacity, opt.replay_per_client);
    auth::NonceStore& request_nonces = shared ? shared->request_nonces() : *local_nonces;
    web::RequestVerifier verifier(*registry, request_nonces, clock, opt.max_skew, opt.tls() ? "https" : "http",
                                  opt.require_sealed);
    web::FileService files(web::FileServiceOptions{opt.root});
    web::UploadOptions up;
    up.dir = opt.upload_dir;
    up.max_upload_size = opt.max_upload_size;
    up.quota = opt.upload_quota;
    up.max_files = opt.upload_max_files;
    up.max_pending = opt.upload_max_pending;
    up.attempt_timeout = opt.upload_timeout;
    up.corrupt_first_attempts = opt.corrupt_uploads;
    // With a shared store the upload books are shared too: instances on one --upload-dir serve
    // every upload and hold every quota together (docs/ARCHITECTURE.md §7).
    std::unique_ptr<auth::UploadLedger> upload_ledger;
    if (shared) upload_ledger = store::make_redis_upload_ledger(shared->redis(), web::UploadService::limits_of(up));
    web::UploadService uploads(up, clock, upload_ledger.get());
    web::WebService web(*registry, verifier, files, uploads, id.key, clock);
    web::ChatLimits chat_limits;
    chat_limits.messages_per_second = opt.chat_rate;
    chat_limits.burst = opt.chat_burst;
    chat_limits.max_room_members = opt.chat_room_size;
    chat_limits.upgrades_per_second = opt.chat_upgrade_rate;
    chat_limits.upgrade_burst = opt.chat_upgrade_burst;
    // With a shared store the chat goes through it (store/redis_chat.hpp); declared before the
    // hub, which stops it.
    std::optional<store::RedisChat> chat_relay;
    if (shared)
      chat_relay.emplace(shared->redis(), std::chrono::milliseconds(static_cast<long>(opt.store_timeout * 1000)));
    web::ChatHub chat(*registry, clock, chat_limits, [](web::ChatLogLevel level, const std::string& line) {
      // Chat log lines quote names and refusal reasons: escaped like the access log.
      if (level == web::ChatLogLevel::warn)
        spdlog::warn("{}", terminal_safe(line));
      else
        spdlog::info("{}", terminal_safe(line));
    });
    if (chat_relay) chat.relay_through(*chat_relay);
    // A ticket lives 30 s, and never longer than a spent one is remembered (2 * max_skew).
    const web::ChatTickets chat_tickets(id.key.seed(), *registry, request_nonces,
                                        std::min<std::int64_t>(30, 2 * opt.max_skew));
    web.enable_chat(chat, chat_tickets);
    const web::AppPage page;
    server::Router router(auth, web, opt.web_app ? &page : nullptr);

    net::ServerLimits limits;
    limits.max_connections = opt.max_connections;
    limits.max_header_bytes = opt.max_header_bytes;
    limits.request_timeout = std::chrono::milliseconds(static_cast<long>(opt.request_timeout * 1000));
    limits.body_timeout = limits.request_timeout * 2;
    limits.write_timeout = std::chrono::milliseconds(static_cast<long>(opt.write_timeout * 1000));
    net::HttpServer http(router, limits, opt.threads, server::make_access_logger(opt));
    http.set_event_log([](const std::string& line) { spdlog::info("{}", line); });
    // Before "listening" is printed: whoever sees that line may send SIGTERM and expects a clean stop.
    watch_signals(http, opt.grace);
    std::optional<CertificateFacts> tls;
    if (opt.tls()) tls = serve_tls(http, opt, clock.now());
    const std::uint16_t port = http.listen(opt.host, opt.port);
    if (!opt.port_file.empty()) io::write_file_atomic(opt.port_file, std::to_string(port) + "\n", 0644);
    http.every(std::chrono::seconds(30), [registry, &clock, ttl = opt.session_ttl] {
      try {
        if (const auto n = registry->sweep(clock.now(), ttl)) spdlog::info("swept {} expired clients", n);
      } catch (const Error& e) { spdlog::warn("sweep: {}", e.what()); }
    });
    if (shared)  // what requests taught this instance (last seen, first use) reaches the others
      http.every(std::chrono::seconds(5), [registry, &clock] {
        try {
          registry->flush(clock.now());
        } catch (const Error& e) { spdlog::warn("store: {}", e.what()); }
      });
    http.every(std::chrono::seconds(10), [&uploads] {
      try {
        if (const auto n = uploads.sweep()) spdlog::info("removed {} uncommitted upload attempts", n);
      } catch (const Error& e) { spdlog::warn("upload sweep: {}", e.what()); }
    });

    // Ended sessions leave the chat. A kick on another instance closes chats here at once through
    // the events below; the sweep catches what they miss (the subscription down), within about two
    // seconds with a shared store, as its registry trusts what it read for one second.
    http.every(shared ? std::chrono::seconds(1) : std::chrono::seconds(10), [&chat, &clock] {
      try {
        chat.sweep(clock.now());
      } catch (const Error& e) { spdlog::warn("chat sweep: {}", e.what()); }
    });
    // After a burst of connections glibc keeps the freed memory of its per-thread arenas; hand it
    // back so the server's footprint returns to its idle size (measured by make soak).
    http.every(std::chrono::seconds(10), [] { ::malloc_trim(0); });

    const bool v6 = opt.host.find(':') != std::string::npos;
    const char* scheme = tls ? "https" : "http";
    std::printf("listening on %s://%s%s%s:%u\n", scheme, v6 ? "[" : "", opt.host.c_str(), v6 ? "]" : "", port);
    std::printf("fingerprint %s\n", ed25519_fingerprint(id.key.public_key()).c_str());
    if (tls) std::printf("tls certificate SHA-256 %s\n", tls->sha256.c_str());
    if (opt.web_app)
      std::printf("web page %s://%s%s%s:%u/.app/ (page %s)\n", scheme, v6 ? "[" : "", opt.host.c_str(), v6 ? "]" : "",
                  port, page.app_hash().c_str());
    std::printf("serving %s with %d threads; stop with Ctrl-C or SIGTERM\n", opt.root.c_str(), opt.threads);
    std::fflush(stdout);

    // The operator: a console on the terminal, the same commands over the control socket.
    const auto grace = std::chrono::milliseconds(static_cast<long>(opt.grace * 1000));
    server::OperatorHooks hooks;
    hooks.connections = [&http] { return http.connections_by_client(); };
    // What other instances kick and ban, done here too (store/redis_events.hpp).
    std::optional<store::EventBus> events;
    if (shared) {
      store::EventBus::Handlers on;
      on.kick = [&chat, &http](const Uuid& uuid, const std::string& reason) {
        try {
          chat.kick(uuid, reason);  // the session is already ended in the store; this closes the chat sockets
        } catch (const Error& e) { spdlog::warn("kick from another instance: {}", e.what()); }
        http.close_client(uuid.to_string());
        spdlog::info("kicked {} (by another instance)", uuid.to_string());
      };
      on.ban = [](const std::string& fingerprint) { spdlog::info("banned {} (on another instance)", fingerprint); };
      on.link = [](bool up) {
        if (up)
          spdlog::info("store: subscribed to {}: kicks on other instances close chats here at once",
                       store::EventBus::kChannel);
        else
          spdlog::warn("store: not subscribed to {}: kicks on other instances reach chats here by the sweep",
                       store::EventBus::kChannel);
      };
      events.emplace(shared->redis(), std::chrono::milliseconds(static_cast<long>(opt.store_timeout * 1000)),
                     std::move(on));
    }
    hooks.kick = [&](const Uuid& uuid, const std::string& reason) {
      chat.kick(uuid, reason);  // ends the session and closes chat sockets with the reason
      registry->end_session(uuid);
      http.close_client(uuid.to_string());
      if (events) events->kick(uuid, reason);
      spdlog::info("kicked {}", uuid.to_string());
    };
    hooks.banned = [&events](const std::string& fingerprint) {
      if (events) events->ban(fingerprint);
    };
    hooks.stop = [&http, grace] {
      spdlog::info("stop requested by the operator");
      http.stop(grace);
    };
    server::OperatorConsole console(*registry, clock, hooks, bans);
    std::optional<server::ControlSocket> control;
    if (opt.control_socket != "off")
      control.emplace(opt.control_socket.empty() ? std::filesystem::path(opt.keys) / "control.sock"
                                                 : std::filesystem::path(opt.control_socket),
                      console);
    server::start_terminal_console(console);

    http.run();
    spdlog::info("stopped");
    return 0;
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
}
