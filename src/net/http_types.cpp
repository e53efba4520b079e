#include "net/http_types.hpp"

#include <nlohmann/json.hpp>

#include "core/routes.hpp"

namespace mh::net {

std::optional<std::string_view> find_header(const Headers& h, std::string_view name) noexcept {
  for (const auto& f : h)
    if (iequals(f.name, name)) return std::string_view(f.value);
  return std::nullopt;
}

namespace {
// Whether the comma-separated list `value` holds `token` (case-insensitive, spaces trimmed).
bool has_token(std::string_view value, std::string_view token) noexcept {
  while (!value.empty()) {
    const auto comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}
}  // namespace

bool wants_websocket(const Request& req) noexcept {
  bool connection = false, upgrade = false;
  for (const auto& h : req.headers) {
    if (iequals(h.name, "Connection") && has_token(h.value, "upgrade")) connection = true;
    if (iequals(h.name, "Upgrade") && has_token(h.value, "websocket")) upgrade = true;
  }
  return connection && upgrade;
}

void Response::set(std::string name, std::string value) {
  for (auto& f : headers)
    if (iequals(f.name, name)) {
      f.value = std::move(value);
      return;
    }
  headers.push_back({std::move(name), std::move(value)});
}

Response json_response(int status, std::string json) {
  Response r;
  r.status = status;
  r.set("Content-Type", "application/json");
  r.body = std::move(json);
  return r;
}

std::string error_json(const Error& e) {
  const int status = http_status(e.code());
  // Internal failures say nothing specific to the peer; the log has the details.
  const bool opaque = status >= 500 && e.code() != Errc::unavailable && e.code() != Errc::insufficient_storage;
  const std::string reason = opaque ? "internal error" : e.what();
  return nlohmann::json{{"error", errc_name(e.code())}, {"reason", reason}}.dump();
}

Response error_response(const Error& e) {
  const int status = http_status(e.code());
  Response r = json_response(status, error_json(e));
  if (status == 401) r.set("WWW-Authenticate", std::string(routes::kHandshakeChallenge));
  if (status == 429 || status == 503) r.set("Retry-After", "1");
  return r;
}

}  // namespace mh::net
