#pragma once
// What counts as "one address" for per-address limits (handshake rate, identities registered).
// An IPv4 host is its /32; an IPv6 host is its /64, since one subscriber commonly holds a whole
// /64 and can pick any of its 2^64 addresses at will. IPv4-mapped IPv6 addresses count as the
// IPv4 address they carry. Text that is no IP address is its own group.
#include <string>
#include <string_view>

namespace mh::auth {

// "192.0.2.7" -> "192.0.2.7"; "2001:db8:1:2:3:4:5:6" -> "2001:db8:1:2::/64";
// "::ffff:192.0.2.7" -> "192.0.2.7".
std::string address_group(std::string_view address);

}  // namespace mh::auth
