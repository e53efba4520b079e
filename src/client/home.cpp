#include "client/home.hpp"

#include <cstdlib>
#include <sstream>

#include "core/error.hpp"
#include "core/stream.hpp"
#include "core/strict_json.hpp"
#include "io/files.hpp"

namespace mh::client {
namespace fs = std::filesystem;
using json = nlohmann::json;

Home Home::locate(const std::string& option) {
  if (!option.empty()) return Home(option);
  if (const char* h = std::getenv("MINIHTTPS_HOME"); h && *h) return Home(h);
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) return Home(fs::path(x) / "minihttps");
  if (const char* home = std::getenv("HOME"); home && *home) return Home(fs::path(home) / ".config" / "minihttps");
  throw Error(Errc::bad_request, "no home directory: pass --home DIR or set MINIHTTPS_HOME");
}

bool Home::has_identity() const { return fs::exists(dir_ / "identity.pem"); }

RsaPrivateKey Home::load_identity() const {
  const auto pem = io::read_file_if_exists(dir_ / "identity.pem", 64 * 1024);
  if (!pem) throw Error(Errc::unauthenticated, "no identity in " + dir_.string() + ": run minihttps connect first");
  if (io::file_mode(dir_ / "identity.pem") & 077)
    throw Error(Errc::unauthenticated, (dir_ / "identity.pem").string() + " is readable by others; run: chmod 600 " +
                                           (dir_ / "identity.pem").string());
  RsaPrivateKey key = RsaPrivateKey::from_pem(*pem);
  if (key.bits() < kRsaMinBits || key.bits() > kRsaMaxBits)
    throw Error(Errc::bad_request, (dir_ / "identity.pem").string() + " is a " + std::to_string(key.bits()) +
                                       "-bit key; minihttps needs 2048-4096 bits (move it away to create a new one)");
  return key;
}

RsaPrivateKey Home::load_or_create_identity(int bits, bool& created) {
  created = false;
  if (has_identity()) return load_identity();
  io::ensure_directory(dir_, 0700);
  RsaPrivateKey key = RsaPrivateKey::generate(bits);
  io::write_file_atomic(dir_ / "identity.pem", key.pem(), 0600);
  created = true;
  return key;
}

std::optional<std::string> Home::remembered_server() const {
  const auto text = io::read_file_if_exists(dir_ / "config.json", 64 * 1024);
  if (!text) return std::nullopt;
  const json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("server") || !j["server"].is_string())
    throw Error(Errc::bad_request, (dir_ / "config.json").string() + " is not valid; delete it and connect again");
  return j["server"].get<std::string>();
}

void Home::remember_server(const std::string& url) {
  io::ensure_directory(dir_, 0700);
  io::write_file_atomic(dir_ / "config.json", json{{"server", url}}.dump(2) + "\n", 0644);
}

std::optional<std::string> Home::pinned_fingerprint(const std::string& authority) const {
  const auto text = io::read_file_if_exists(dir_ / "known_servers", 1 << 20);
  if (!text) return std::nullopt;
  std::istringstream in(*text);
  std::string a, fp;
  while (in >> a >> fp)
    if (a == authority) return fp;
  return std::nullopt;
}

void Home::pin(const std::string& authority, const std::string& fingerprint) {
  io::ensure_directory(dir_, 0700);
  std::string out;
  if (const auto text = io::read_file_if_exists(dir_ / "known_servers", 1 << 20)) {
    std::istringstream in(*text);
    std::string a, fp;
    while (in >> a >> fp)
      if (a != authority) out += a + " " + fp + "\n";
  }
  out += authority + " " + fingerprint + "\n";
  io::write_file_atomic(dir_ / "known_servers", out, 0644);
}

fs::path Home::session_path(const std::string& authority) const {
  std::string safe;
  for (char c : authority)
    safe.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ? c : '_');
  return dir_ / "sessions" / (safe + ".json");
}

namespace {

// The session file's format; a file without it was written by a version-1 client.
constexpr int kSessionVersion = 2;

}  // namespace

std::optional<SavedSession> Home::load_session(const std::string& authority) const {
  const auto text = io::read_file_if_exists(session_path(authority), 64 * 1024);
  if (!text) return std::nullopt;
  const json j = json::parse(*text, nullptr, false);
  // A version-1 session (a Fernet session key, the UUID as keyid) is of no use to minihttps/2: as
  // if there were none, so that the next command says "connect" instead of failing on the file.
  if (j.is_object() && (!j.contains("version") || j["version"] != kSessionVersion)) return std::nullopt;
  try {
    const StrictJson sj("session file");
    if (!j.is_object()) sj.malformed("not a JSON object");
    sj.only_fields(j, {"version", "server", "authority", "name", "keyid", "uuid", "secret", "expires", "chunk_size",
                       "server_fingerprint", "server_key", "static_key"});
    SavedSession s;
    s.server = sj.need_string(j, "server", 1024);
    s.authority = sj.need_string(j, "authority", 1024);
    s.name = sj.need_string(j, "name", 64);
    s.keyid = sj.need_fixed<16>(j, "keyid");
    s.uuid = sj.need_uuid(j, "uuid");
    s.secret = SessionSecret(sj.need_fixed<32>(j, "secret"));
    s.expires = sj.need_int(j, "expires");
    const std::int64_t chunk = sj.need_int(j, "chunk_size");
    if (!stream::valid_chunk_size(static_cast<std::uint64_t>(chunk))) sj.malformed("invalid chunk size");
    s.chunk_size = static_cast<std::uint32_t>(chunk);
    s.server_fingerprint = sj.need_string(j, "server_fingerprint", 64);
    s.server_key = sj.need_fixed<32>(j, "server_key");
    s.static_key = sj.need_fixed<32>(j, "static_key");
    if (ed25519_fingerprint(s.server_key) != s.server_fingerprint) sj.malformed("key mismatch");
    return s;
  } catch (const std::exception&) {
    throw Error(Errc::bad_request, session_path(authority).string() + " is not valid; run minihttps connect again");
  }
}

void Home::save_session(const std::string& authority, const SavedSession& s) {
  io::ensure_directory(dir_ / "sessions", 0700);
  const json j = {{"version", kSessionVersion},       {"server", s.server},
                  {"authority", s.authority},         {"name", s.name},
                  {"keyid", b64u(s.keyid)},           {"uuid", s.uuid.to_string()},
                  {"secret", b64u(s.secret.bytes())}, {"expires", s.expires},
                  {"chunk_size", s.chunk_size},       {"server_fingerprint", s.server_fingerprint},
                  {"server_key", b64u(s.server_key)}, {"static_key", b64u(s.static_key)}};
  // 0600 from birth: the secret opens every request and answer of the session.
  io::write_file_atomic(session_path(authority), j.dump(2) + "\n", 0600);
  std::error_code ec;
  fs::remove(ended_path(authority), ec);
}

std::optional<Uuid> Home::previous_uuid(const std::string& authority) const noexcept {
  try {
    const auto text = io::read_file_if_exists(session_path(authority), 64 * 1024);
    if (!text) return std::nullopt;
    const json j = json::parse(*text, nullptr, false);
    if (!j.is_object() || !j.contains("uuid") || !j["uuid"].is_string()) return std::nullopt;
    return Uuid::parse(j["uuid"].get_ref<const std::string&>());
  } catch (const std::exception&) { return std::nullopt; }
}

bool Home::forget_session(const std::string& authority) {
  std::error_code ec;
  return fs::remove(session_path(authority), ec);
}

fs::path Home::ended_path(const std::string& authority) const {
  fs::path p = session_path(authority);
  return p.replace_extension(".ended");
}

void Home::record_ended_session(const std::string& authority, const std::string& why) {
  io::ensure_directory(dir_ / "sessions", 0700);
  io::write_file_atomic(ended_path(authority), why + "\n", 0600);
}

std::optional<std::string> Home::ended_session(const std::string& authority) const {
  auto text = io::read_file_if_exists(ended_path(authority), 1024);
  if (!text) return std::nullopt;
  while (!text->empty() && text->back() == '\n') text->pop_back();
  return text;
}

}  // namespace mh::client
