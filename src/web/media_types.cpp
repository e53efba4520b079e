#include "web/media_types.hpp"

#include <array>
#include <cstddef>
#include <utility>

namespace mh::web {
namespace {

// Text types carry charset=utf-8: the files of a www/ folder are written in UTF-8, and without
// the parameter a browser would guess.
constexpr std::array<std::pair<std::string_view, std::string_view>, 27> kTable{{
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"txt", "text/plain; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"md", "text/markdown; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"xml", "application/xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"svg", "image/svg+xml"},
    {"webp", "image/webp"},
    {"ico", "image/vnd.microsoft.icon"},
    {"pdf", "application/pdf"},
    {"wasm", "application/wasm"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"tar", "application/x-tar"},
    {"mp4", "video/mp4"},
    {"mp3", "audio/mpeg"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
}};

// Longest extension in the table; anything longer cannot match and is not lower-cased.
constexpr std::size_t kMaxExtension = 5;

}  // namespace

std::string_view media_type_for(std::string_view filename) noexcept {
  const std::size_t slash = filename.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? filename : filename.substr(slash + 1);
  const std::size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return kDefaultMediaType;  // no extension, or a dotfile
  const std::string_view ext = name.substr(dot + 1);
  if (ext.empty() || ext.size() > kMaxExtension) return kDefaultMediaType;
  char lower[kMaxExtension];
  for (std::size_t i = 0; i < ext.size(); ++i) {
    const char c = ext[i];
    lower[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  }
  const std::string_view key(lower, ext.size());
  for (const auto& [e, type] : kTable)
    if (e == key) return type;
  return kDefaultMediaType;
}

}  // namespace mh::web
