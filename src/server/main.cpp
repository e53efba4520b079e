// minihttpsd — wiring only: options, identity, registry, services, HTTP server, signals.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <thread>

#include "auth/auth_service.hpp"
#include "io/server_identity.hpp"
#include "io/system_clock.hpp"
#include "net/http_server.hpp"
#include "server/options.hpp"
#include "server/router.hpp"
#include "web/file_service.hpp"
#include "web/request_verifier.hpp"
#include "web/web_service.hpp"

using namespace mh;

namespace {

void setup_logging(const server::Options& o) {
  auto logger = spdlog::stderr_color_mt("minihttpsd");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(o.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
}

net::AccessLogger access_logger(bool enabled) {
  if (!enabled) return {};
  return [](const net::AccessRecord& r) {
    spdlog::info("access {} {} {} {} {} {}B {}us", r.request.remote_address,
                 r.request.client_id.empty() ? "-" : r.request.client_id, r.request.method,
                 r.request.target.substr(0, 256), r.status, r.bytes, r.duration.count());
  };
}

// First SIGINT/SIGTERM: graceful stop within --grace. Second: stop at once.
void watch_signals(net::HttpServer& server, double grace_seconds) {
  std::thread([&server, grace_seconds] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    for (int count = 0;; ++count) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) return;
      if (count == 0) {
        spdlog::info("{} received: stopping, requests in flight get {} s (signal again to stop now)",
                     sig == SIGINT ? "SIGINT" : "SIGTERM", grace_seconds);
        server.stop(std::chrono::milliseconds(static_cast<long>(grace_seconds * 1000)));
      } else {
        spdlog::warn("second signal: stopping now");
        server.stop(std::chrono::milliseconds(0));
      }
    }
  }).detach();
}

}  // namespace

int main(int argc, char** argv) {
  const server::Options opt = server::parse_options(argc, argv);
  setup_logging(opt);
  // Signals are taken by one thread with sigwait; block them before any other thread starts.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  try {
    const io::LoadedIdentity id = io::load_or_create_server_identity(opt.keys);
    if (id.created) spdlog::info("created a new server key in {}/", opt.keys);
    io::SystemClock clock;
    auto registry = auth::make_in_memory_registry(opt.max_clients);
    auth::AuthConfig cfg;
    cfg.policy.max_skew = opt.max_skew;
    cfg.policy.session_ttl = opt.session_ttl;
    cfg.handshakes_per_second = opt.handshake_rate;
    cfg.handshake_burst = opt.handshake_burst;
    cfg.authorized = io::load_authorized_clients(opt.keys);
    if (cfg.authorized) spdlog::info("only the {} keys in {}/authorized_clients may register", cfg.authorized->size(), opt.keys);
    auth::AuthService auth(id.key, *registry, std::move(cfg), clock);
    // A signed request is acceptable for 2 * max_skew seconds: its nonce is kept that long.
    auth::ReplayCache request_nonces(2 * opt.max_skew + 1, opt.replay_capacity);
    web::RequestVerifier verifier(*registry, request_nonces, clock, opt.max_skew);
    web::FileService files(web::FileServiceOptions{opt.root});
    web::WebService web(*registry, verifier, files, id.key, clock);
    server::Router router(auth, web);

    net::ServerLimits limits;
    limits.max_connections = opt.max_connections;
    limits.max_header_bytes = opt.max_header_bytes;
    limits.request_timeout = std::chrono::milliseconds(static_cast<long>(opt.request_timeout * 1000));
    limits.body_timeout = limits.request_timeout * 2;
    net::HttpServer http(router, limits, opt.threads, access_logger(opt.access_log));
    const std::uint16_t port = http.listen(opt.host, opt.port);
    http.every(std::chrono::seconds(30), [&registry, &clock, ttl = opt.session_ttl] {
      if (const auto n = registry->sweep(clock.now(), ttl)) spdlog::info("swept {} expired clients", n);
    });

    const bool v6 = opt.host.find(':') != std::string::npos;
    std::printf("listening on http://%s%s%s:%u\n", v6 ? "[" : "", opt.host.c_str(), v6 ? "]" : "", port);
    std::printf("fingerprint %s\n", ed25519_fingerprint(id.key.public_key()).c_str());
    std::printf("serving %s with %d threads; stop with Ctrl-C or SIGTERM\n", opt.root.c_str(), opt.threads);
    std::fflush(stdout);

    watch_signals(http, opt.grace);
    http.run();
    spdlog::info("stopped");
    return 0;
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
}
