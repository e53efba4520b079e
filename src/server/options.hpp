#pragma once
// minihttpsd's options: command line, optionally a config file (--config), defaults here.
#include <cstdint>
#include <string>
#include <vector>

namespace mh::server {

struct Options {
  std::string listen = "127.0.0.1:8443";
  std::string root = "www";
  std::string keys = "keys";
  // "memory" (this process only) or where the state several instances share lives: redis://HOST[:PORT][/DB]
  // or unix:///PATH[?db=N] (docs/ARCHITECTURE.md §7).
  std::string store = "memory";
  double store_timeout = 1.0;  // seconds per call to the store
  int threads = 0;             // 0 = one per core
  std::int64_t session_ttl = 3600;
  std::int64_t max_skew = 60;
  std::uint32_t chunk_size = 262144;  // stream chunk size of every session (PROTOCOL.md §6)
  bool require_sealed = false;        // refuse unsealed signed requests (PROTOCOL.md §5.1)
  bool web_app = true;                // serve the browser client at /.app/ (PROTOCOL.md §2.1)
  std::size_t max_clients = 10000;
  double handshake_rate = 10;
  double handshake_burst = 20;
  double server_handshake_rate = 1000;  // all addresses together
  double server_handshake_burst = 2000;
  std::size_t max_clients_per_address = 500;  // identities registered from one address group
  std::int64_t unused_identity_ttl = 600;     // an identity that never made a request is dropped after
  std::size_t max_connections = 20000;
  std::size_t replay_capacity = 1 << 22;    // nonces remembered at most (bounded memory)
  std::size_t replay_per_client = 1 << 16;  // of which one client may hold at most (429 beyond)
  std::size_t max_header_bytes = 16 * 1024;
  double request_timeout = 15;
  double write_timeout = 30;  // longest pause allowed while a client reads an answer
  double grace = 10;
  std::string upload_dir = "uploads";
  std::uint64_t max_upload_size = 1ull << 30;
  std::uint64_t upload_quota = 4ull << 30;
  std::size_t upload_max_files = 10000;  // per client: committed files + pending attempts
  std::size_t upload_max_pending = 16;   // per client: attempts in progress or awaiting commit
  std::int64_t upload_timeout = 600;
  int corrupt_uploads = 0;     // fault injection (test builds only)
  std::string control_socket;  // empty: <keys>/control.sock; "off": none
  std::string port_file;       // the port to use when --listen does not say; the bound port is written back
  std::string log_level = "info";
  bool access_log = true;
  std::string access_log_file;       // --access-log: Combined Log Format lines go there instead of the console log
  double chat_rate = 10;             // chat messages per second per client (token bucket)
  double chat_burst = 20;            // and its burst
  std::size_t chat_room_size = 100;  // connections per chat room
  double chat_upgrade_rate = 2;      // chat connections a client may open per second (token bucket)
  double chat_upgrade_burst = 10;    // and its burst

  // TLS under HTTP (docs/ARCHITECTURE.md §9): the operator's certificate chain and key, or one made
  // and kept in the keys folder for tls_names (and localhost, 127.0.0.1, ::1, this host's name).
  std::string tls_cert;
  std::string tls_key;
  bool tls_self_signed = false;
  std::vector<std::string> tls_names;
  bool tls() const { return tls_self_signed || !tls_cert.empty(); }

  std::string host;  // parsed from listen
  std::uint16_t port = 0;
};

// Parses argv; on --help or a bad value prints to stdout/stderr and exits (0 resp. 2).
Options parse_options(int argc, char** argv);

}  // namespace mh::server
