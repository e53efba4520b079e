#include "web/app_page.hpp"

#include <nlohmann/json.hpp>

#include "core/base64.hpp"
#include "core/conditional.hpp"
#include "core/error.hpp"
#include "core/hash.hpp"
#include "core/routes.hpp"

namespace mh::web {
namespace {

constexpr std::string_view kIndex = "index.html";
constexpr std::string_view kFilesJson = "files.json";

// The page may run only its own scripts and talk only to its own origin; nothing from the network
// can become code, and no other site can frame it (docs/SECURITY.md).
constexpr std::string_view kPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
    "worker-src 'self'; frame-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'";

std::string media_type(std::string_view path) {
  const auto dot = path.rfind('.');
  const std::string_view ext = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "json") return "application/json";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "webmanifest") return "application/manifest+json";
  return "application/octet-stream";
}

// A strong validator of the bytes: the first 16 bytes of their SHA-256, as b64u.
std::string etag_of(std::string_view bytes) {
  const Sha256Digest d = sha256(as_bytes(bytes));
  return "\"" + base64_encode(ByteView(d.data(), 16), Alphabet::url, false) + "\"";
}

}  // namespace

AppPage::AppPage(std::span<const page::AppFile> files) : hash_(page::app_hash(files)) {
  nlohmann::json list = nlohmann::json::array();
  for (const page::AppFile& f : files) {
    files_.emplace(std::string(f.path), File{f.bytes, media_type(f.path), etag_of(f.bytes)});
    const Sha256Digest d = sha256(as_bytes(f.bytes));
    list.push_back({{"path", f.path}, {"sha256", to_hex(ByteView(d.data(), d.size()))}, {"size", f.bytes.size()}});
  }
  files_json_ = nlohmann::json{{"app_hash", hash_}, {"files", list}}.dump();
  files_json_etag_ = etag_of(files_json_);
}

net::Response AppPage::answer(const net::Request& req) const {
  const std::string_view path = routes::path_of(req.target);
  if (req.method != "GET" && req.method != "HEAD") {
    net::Response r = net::error_response(Error(Errc::method_not_allowed, "app: use GET or HEAD"));
    r.set("Allow", "GET, HEAD");
    return r;
  }
  if (path == routes::kApp) {
    net::Response r;
    r.status = 301;
    r.set("Location", std::string(routes::kApp) + "/");
    return r;
  }
  std::string_view rel = path.substr(routes::kApp.size() + 1);  // route_of saw to the "/"
  if (rel.empty()) rel = kIndex;
  if (rel == kFilesJson) return file_response(req, files_json_, "application/json", files_json_etag_);
  const auto it = files_.find(rel);
  if (it == files_.end()) return net::error_response(Error(Errc::not_found, "app: no such file"));
  return file_response(req, it->second.bytes, it->second.type, it->second.etag);
}

net::Response AppPage::file_response(const net::Request& req, std::string_view bytes, const std::string& type,
                                     const std::string& etag) const {
  net::Response r;
  r.set("Content-Type", type);
  r.set("Cache-Control", "no-cache");
  r.set("ETag", etag);
  r.set("Content-Security-Policy", std::string(kPolicy));
  r.set("X-Content-Type-Options", "nosniff");
  r.set("Referrer-Policy", "no-referrer");
  r.set("Cross-Origin-Opener-Policy", "same-origin");
  r.set("Cross-Origin-Resource-Policy", "same-origin");
  r.set("X-Frame-Options", "DENY");
  if (type.starts_with("text/javascript") && routes::path_of(req.target).ends_with("/sw.js"))
    r.set("Service-Worker-Allowed", std::string(routes::kApp) + "/");
  if (const auto inm = req.header("If-None-Match"); inm && if_none_match_hits(*inm, etag)) {
    r.status = 304;
    return r;
  }
  r.body = std::string(bytes);
  r.head_only = req.method == "HEAD";
  return r;
}

}  // namespace mh::web
