#include "auth/address_group.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace mh::auth {

std::string address_group(std::string_view address) {
  std::string text(address);
  // A scoped address ("fe80::1%eth0") is grouped by its address part.
  if (const auto pct = text.find('%'); pct != std::string::npos) text.resize(pct);
  in_addr v4{};
  if (::inet_pton(AF_INET, text.c_str(), &v4) == 1) return text;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, text.c_str(), &v6) != 1) return std::string(address);
  char out[INET6_ADDRSTRLEN + 4] = {};
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    std::memcpy(&v4, v6.s6_addr + 12, 4);
    ::inet_ntop(AF_INET, &v4, out, sizeof out);
    return out;
  }
  std::memset(v6.s6_addr + 8, 0, 8);
  ::inet_ntop(AF_INET6, &v6, out, sizeof out);
  return std::string(out) + "/64";
}

}  // namespace mh::auth
