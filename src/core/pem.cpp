#include "core/pem.hpp"

#include "core/base64.hpp"
#include "core/error.hpp"

namespace mh {

std::string pem_encode(std::string_view label, ByteView der) {
  const std::string body = base64_encode(der);
  std::string out = "-----BEGIN " + std::string(label) + "-----\n";
  for (std::size_t i = 0; i < body.size(); i += 64) out.append(body, i, 64).push_back('\n');
  out += "-----END " + std::string(label) + "-----\n";
  return out;
}

Bytes pem_decode(std::string_view text, std::string_view label) {
  const std::string begin = "-----BEGIN " + std::string(label) + "-----";
  const std::string end = "-----END " + std::string(label) + "-----";
  const auto b = text.find(begin);
  if (b == std::string_view::npos) throw Error(Errc::bad_request, "pem: no " + std::string(label) + " block");
  const auto e = text.find(end, b + begin.size());
  if (e == std::string_view::npos) throw Error(Errc::bad_request, "pem: unterminated block");
  std::string body;
  for (char c : text.substr(b + begin.size(), e - b - begin.size()))
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') body.push_back(c);
  return base64_decode(body);
}

}  // namespace mh
