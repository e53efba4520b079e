#pragma once
// minihttpsd's options: command line, optionally a config file (--config), defaults here.
#include <cstdint>
#include <string>

namespace mh::server {

struct Options {
  std::string listen = "127.0.0.1:8443";
  std::string root = "www";
  std::string keys = "keys";
  int threads = 0;  // 0 = one per core
  std::int64_t session_ttl = 3600;
  std::int64_t max_skew = 60;
  std::size_t max_clients = 10000;
  double handshake_rate = 10;
  double handshake_burst = 20;
  std::size_t max_connections = 20000;
  std::size_t replay_capacity = 1 << 22;  // nonces remembered at most (bounded memory)
  std::size_t max_header_bytes = 16 * 1024;
  double request_timeout = 15;
  double grace = 10;
  std::string log_level = "info";
  bool access_log = true;

  std::string host;  // parsed from listen
  std::uint16_t port = 0;
};

// Parses argv; on --help or a bad value prints to stdout/stderr and exits (0 resp. 2).
Options parse_options(int argc, char** argv);

}  // namespace mh::server
