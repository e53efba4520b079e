// parse_redis_url: the two URL forms an operator may give, and nothing else. Errors name the
// problem but never echo the URL, so that a password typed into it by mistake is not logged.
#include <sys/un.h>

#include <charconv>

#include "core/error.hpp"
#include "store/redis_client.hpp"

namespace mh::store {
namespace {

constexpr std::string_view kTcpScheme = "redis://";
constexpr std::string_view kUnixScheme = "unix://";

[[noreturn]] void refuse(const std::string& why) { throw Error(Errc::bad_request, "store: " + why); }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A decimal number of digits only (no sign, no spaces) within [lo, hi], or -1.
int number_in(std::string_view s, int lo, int hi) {
  if (s.empty() || s.size() > 5) return -1;
  for (char c : s)
    if (!is_digit(c)) return -1;
  int v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v >= lo && v <= hi ? v : -1;
}

// The db after "/" or "?db=": empty only where the caller allows it.
int parse_db(std::string_view s) {
  std::size_t digits = 0;
  while (digits < s.size() && is_digit(s[digits])) ++digits;
  if (digits > 0 && digits < s.size()) refuse("unexpected text after the db in the redis URL");
  const int db = number_in(s, 0, 15);
  if (db < 0) refuse("bad db in the redis URL (0..15)");
  return db;
}

bool host_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '.' || c == '_';
}

bool ipv6_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

RedisAddress parse_tcp(std::string_view rest) {
  RedisAddress a;
  if (rest.find('@') != std::string_view::npos) refuse("credentials (user:pass@) are not accepted in a redis URL");
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) refuse("unclosed [ in the redis URL's host");
    a.host = std::string(authority.substr(1, close - 1));
    if (a.host.find(':') == std::string::npos) refuse("bad host in the redis URL");
    for (char c : a.host)
      if (!ipv6_char(c)) refuse("bad host in the redis URL");
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') refuse("unexpected text after the redis URL's host");
    has_port = !after.empty();
    if (has_port) port_text = after.substr(1);
  } else {
    const std::size_t colon = authority.find(':');
    a.host = std::string(authority.substr(0, colon));
    for (char c : a.host)
      if (!host_char(c)) refuse("bad host in the redis URL");
    has_port = colon != std::string_view::npos;
    if (has_port) port_text = authority.substr(colon + 1);
  }
  if (a.host.empty()) refuse("the redis URL has no host");
  if (has_port) {
    a.port = number_in(port_text, 1, 65535);
    if (a.port < 0) refuse("bad port in the redis URL (1..65535)");
  }
  if (slash != std::string_view::npos && slash + 1 < rest.size()) a.db = parse_db(rest.substr(slash + 1));
  return a;
}

RedisAddress parse_unix(std::string_view rest) {
  RedisAddress a;
  a.host.clear();
  if (rest.empty() || rest.front() != '/') refuse("a unix redis URL needs an absolute path (unix:///PATH)");
  const std::size_t q = rest.find('?');
  a.unix_path = std::string(rest.substr(0, q));
  if (a.unix_path == "/") refuse("the unix redis URL has no socket path");
  for (char c : a.unix_path)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) refuse("control character in the redis socket path");
  if (a.unix_path.size() >= sizeof(sockaddr_un{}.sun_path)) refuse("the redis socket path is too long");
  if (q != std::string_view::npos) {
    const std::string_view query = rest.substr(q + 1);
    if (query.substr(0, 3) != "db=") refuse("only ?db=N may follow the socket path in a unix redis URL");
    a.db = parse_db(query.substr(3));
  }
  return a;
}

}  // namespace

std::string RedisAddress::text() const {
  if (!unix_path.empty()) return "unix://" + unix_path + (db != 0 ? "?db=" + std::to_string(db) : "");
  const bool v6 = host.find(':') != std::string::npos;
  return std::string(kTcpScheme) + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) +
         (db != 0 ? "/" + std::to_string(db) : "");
}

RedisAddress parse_redis_url(std::string_view url) {
  if (url.starts_with(kTcpScheme)) return parse_tcp(url.substr(kTcpScheme.size()));
  if (url.starts_with(kUnixScheme)) return parse_unix(url.substr(kUnixScheme.size()));
  if (url.starts_with("rediss://")) refuse("rediss:// (TLS) is not supported; use redis:// or unix://");
  refuse("a redis URL starts with redis:// or unix://");
}

}  // namespace mh::store
