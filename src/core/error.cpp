#include "core/error.hpp"

namespace mh {

int http_status(Errc code) noexcept {
  switch (code) {
    case Errc::bad_request: return 400;
    case Errc::unauthenticated: return 401;
    case Errc::forbidden: return 403;
    case Errc::not_found: return 404;
    case Errc::method_not_allowed: return 405;
    case Errc::conflict: return 409;
    case Errc::payload_too_large: return 413;
    case Errc::rate_limited: return 429;
    case Errc::unavailable: return 503;
    case Errc::insufficient_storage: return 507;
    case Errc::integrity: return 400;
    case Errc::trust: return 403;
    case Errc::io: return 500;
    case Errc::network: return 502;
    case Errc::internal: return 500;
  }
  return 500;
}

Errc errc_for_status(int status) noexcept {
  switch (status) {
    case 400: return Errc::bad_request;
    case 401: return Errc::unauthenticated;
    case 403: return Errc::forbidden;
    case 404: return Errc::not_found;
    case 405: return Errc::method_not_allowed;
    case 409: return Errc::conflict;
    case 413: return Errc::payload_too_large;
    case 429: return Errc::rate_limited;
    case 503: return Errc::unavailable;
    case 507: return Errc::insufficient_storage;
    default: return status >= 500 ? Errc::internal : Errc::bad_request;
  }
}

std::string_view errc_name(Errc code) noexcept {
  switch (code) {
    case Errc::bad_request: return "bad_request";
    case Errc::unauthenticated: return "unauthenticated";
    case Errc::forbidden: return "forbidden";
    case Errc::not_found: return "not_found";
    case Errc::method_not_allowed: return "method_not_allowed";
    case Errc::conflict: return "conflict";
    case Errc::payload_too_large: return "payload_too_large";
    case Errc::rate_limited: return "rate_limited";
    case Errc::unavailable: return "unavailable";
    case Errc::insufficient_storage: return "insufficient_storage";
    case Errc::integrity: return "integrity";
    case Errc::trust: return "trust";
    case Errc::io: return "io";
    case Errc::network: return "network";
    case Errc::internal: return "internal";
  }
  return "internal";
}

}  // namespace mh
