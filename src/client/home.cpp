#include "client/home.hpp"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <sstream>

#include "core/base64.hpp"
#include "core/error.hpp"
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
    throw Error(Errc::forbidden, (dir_ / "identity.pem").string() + " is readable by others; run: chmod 600 " +
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
  for (char c : authority) safe.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ? c : '_');
  return dir_ / "sessions" / (safe + ".json");
}

std::optional<SavedSession> Home::load_session(const std::string& authority) const {
  const auto text = io::read_file_if_exists(session_path(authority), 64 * 1024);
  if (!text) return std::nullopt;
  const json j = json::parse(*text, nullptr, false);
  try {
    SavedSession s{j.at("server").get<std::string>(), j.at("name").get<std::string>(),
                   Uuid::parse(j.at("uuid").get<std::string>()).value(),
                   FernetKey::parse(j.at("session_key").get<std::string>()), j.at("expires").get<std::int64_t>(),
                   j.at("server_fingerprint").get<std::string>(),
                   ed25519_public_from_raw(base64_decode(j.at("server_key").get<std::string>(), Alphabet::url,
                                                         Padding::forbidden))};
    if (ed25519_fingerprint(s.server_key) != s.server_fingerprint) throw Error(Errc::bad_request, "key mismatch");
    return s;
  } catch (const std::exception&) {
    throw Error(Errc::bad_request, session_path(authority).string() + " is not valid; run minihttps connect again");
  }
}

void Home::save_session(const std::string& authority, const SavedSession& s) {
  io::ensure_directory(dir_ / "sessions", 0700);
  const json j = {{"server", s.server},     {"name", s.name},       {"uuid", s.uuid.to_string()},
                  {"session_key", s.key.format()}, {"expires", s.expires}, {"server_fingerprint", s.server_fingerprint},
                  {"server_key", base64_encode(s.server_key, Alphabet::url, false)}};
  io::write_file_atomic(session_path(authority), j.dump(2) + "\n", 0600);
}

bool Home::forget_session(const std::string& authority) {
  std::error_code ec;
  return fs::remove(session_path(authority), ec);
}

}  // namespace mh::client
