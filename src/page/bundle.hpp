#pragma once
// The browser client (app/ in the repository), embedded in the binaries at build time
// (cmake/embed_app.cmake): what the server serves at /.app/ and what the client can check a served
// page against. The files are sorted by path (byte order).
#include <span>
#include <string>
#include <string_view>

namespace mh::page {

struct AppFile {
  std::string_view path;  // relative to app/: "index.html", "lib/fernet.js"
  std::string_view bytes;
};

std::span<const AppFile> files();

// "SHA256:" + unpadded base64 of SHA-256 over F(path) || F(SHA-256 of the file) for every file in
// path order (docs/PROTOCOL.md §2.1): one value naming exactly this page.
std::string app_hash(std::span<const AppFile> files);

}  // namespace mh::page
