#include "client/get_checks.hpp"

#include <algorithm>
#include <cctype>

namespace mh::client {
namespace {

constexpr std::size_t kSniffBytes = 4096;

bool ends_with_json(std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  const std::string_view name = path.substr(path.rfind('/') + 1);
  constexpr std::string_view ext = ".json";
  if (name.size() <= ext.size()) return false;
  return std::equal(ext.begin(), ext.end(), name.end() - static_cast<std::ptrdiff_t>(ext.size()),
                    [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); });
}

// The length of the UTF-8 sequence that `lead` starts (0: not a lead byte), and the range its
// second byte must be in (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
std::size_t sequence_length(unsigned char lead, unsigned char& lo, unsigned char& hi) {
  lo = 0x80;
  hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) {
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
    return 4;
  }
  return 0;
}

}  // namespace

Error directory_error(std::string_view user_path) {
  std::string dir(user_path.empty() ? "/" : user_path);
  if (dir.back() != '/') dir += '/';
  return Error(Errc::bad_request, dir + " is a directory: fetch it with `minihttps get -r " + dir +
                                      "` or list it with `minihttps ls " + dir + "`");
}

void refuse_listing(const Answer& a, std::string_view target) {
  if (a.status != 200 || !a.head.content_type) return;
  const std::string& type = *a.head.content_type;
  if (type.substr(0, type.find(';')) == "application/json" && !ends_with_json(target)) throw IsDirectory();
}

bool looks_binary(ByteView b) {
  const std::size_t n = std::min(b.size(), kSniffBytes);
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = b[i];
    if (c == 0) return true;
    if (c < 0x80) {
      ++i;
      continue;
    }
    unsigned char lo, hi;
    const std::size_t len = sequence_length(c, lo, hi);
    if (len == 0) return true;
    for (std::size_t k = 1; k < len; ++k) {
      if (i + k >= n) return false;  // cut by the end of what was sniffed
      const unsigned char t = b[i + k];
      if (t < (k == 1 ? lo : 0x80) || t > (k == 1 ? hi : 0xBF)) return true;
    }
    i += len;
  }
  return false;
}

void refuse_binary_on_terminal(ByteView first_bytes) {
  if (looks_binary(first_bytes))
    throw Error(Errc::bad_request,
                "binary output can mess up your terminal: use -o FILE to save it, or -o - to write it here anyway");
}

}  // namespace mh::client
