#pragma once
// The one error type of minihttps. Every failure the core, the server or the client can report
// is an mh::Error carrying an Errc; http_status() is the only place an Errc becomes a status code.
#include <stdexcept>
#include <string>
#include <string_view>

namespace mh {

enum class Errc {
  bad_request,      // malformed input: JSON, base64, header syntax, lengths
  unauthenticated,  // no credentials, unknown key id, expired session
  forbidden,        // bad signature, replay, stale time, policy refusal
  not_found,        // no such file (or not yours)
  method_not_allowed,
  conflict,  // name held by another key
  payload_too_large,
  rate_limited,
  unavailable,           // registry full, shutting down
  insufficient_storage,  // quota or disk full
  integrity,             // a token, MAC or checksum did not verify
  trust,                 // the server's key is not the one pinned (client side)
  io,                    // local file failure
  network,               // connection refused, timed out or broken; malformed HTTP (client side)
  internal,              // a bug or a library failure
};

class Error : public std::runtime_error {
 public:
  Error(Errc code, const std::string& reason) : std::runtime_error(reason), code_(code) {}
  Errc code() const noexcept { return code_; }

 private:
  Errc code_;
};

// HTTP status for an error answered by the server.
int http_status(Errc code) noexcept;
// The inverse, for clients reading a server's answer: the Errc a status stands for.
Errc errc_for_status(int status) noexcept;
// Stable lower-case name ("forbidden", ...), used in logs and JSON error bodies.
std::string_view errc_name(Errc code) noexcept;

}  // namespace mh
