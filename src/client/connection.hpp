#pragma once
// The client's side of the protocol: the handshake (with key pinning) and RFC 9421-signed
// requests that re-handshake once by themselves when the server says the session is gone.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "client/home.hpp"
#include "core/httpsig.hpp"
#include "net/http_client.hpp"

namespace mh::client {

// The most of a server's error reason that is printed (escaped), then "… (N more bytes)".
inline constexpr std::size_t kMaxReasonBytes = 300;

struct Verbosity {
  bool verbose = false;  // print requests and statuses to stderr
  bool quiet = false;    // no notices, no progress bar
};

class Connection {
 public:
  Connection(Home& home, net::ServerUrl url, Verbosity v, std::chrono::milliseconds timeout = std::chrono::seconds(30));

  const net::ServerUrl& url() const noexcept { return url_; }

  // Handshake as `name`. pin: fingerprint to require (--fingerprint/--server-key), else the one
  // in known_servers, else trust on first use (recorded, with a notice). Saves the session only
  // after every check passed.
  SavedSession handshake(const std::string& name, const std::optional<std::string>& pin, int rsa_bits);

  // The saved session, or Errc::unauthenticated telling the user to connect.
  const SavedSession& session();

  // A signed request (RFC 9421: @method @authority @path [@query] [content-digest]) asking for a
  // signed response. On 401 it runs the handshake again once, with the saved name, and retries.
  // The response's signature is checked before any body byte reaches on_body (2xx answers must
  // be signed), and the body's digest once it has all arrived; failures are Errc::integrity.
  // With on_body, a 200 body streams there; otherwise (and for other statuses) it is buffered.
  using BodyCallback = std::function<void(const net::ClientResponse& head, std::string_view chunk)>;
  net::ClientResponse request(const std::string& method, const std::string& target, const std::string& body = {},
                              net::Headers extra = {}, const BodyCallback& on_body = {}, bool rehandshake = true);

  // A signed request whose body streams from `body` (Content-Length = body.size()), with
  // `content_digest` the body's Content-Digest value, computed by the caller beforehand. No
  // automatic re-handshake: the body depends on the session key, so a 401 goes back to the caller.
  net::ClientResponse request_with_body(const std::string& method, const std::string& target, net::BodySource& body,
                                        const std::string& content_digest);

  // Handshake again with the saved name and pin (after a 401).
  void rehandshake();

  // The RFC 9421 signature fields (and Accept-Signature) for a bodiless request to send by other
  // means, e.g. a WebSocket upgrade (minihttps chat). No re-handshake here: the caller handles 401.
  net::Headers signed_headers(const std::string& method, const std::string& target);

  std::int64_t max_skew() const noexcept { return 300; }

  // Throws the server's refusal as an mh::Error (status -> Errc, reason from the JSON body).
  [[noreturn]] static void raise(const net::ClientResponse& r, const std::string& what);

 private:
  // The signed request, and the message as its signature base saw it (for ";req").
  std::pair<net::Request, httpsig::Message> sign(const std::string& method, const std::string& target,
                                                 const std::optional<std::string>& content_digest, net::Headers extra);
  // The signed answer's checks: its signature before the body, the body against its digest.
  void check_answer(const net::ClientResponse& head, const httpsig::Message& signed_request,
                    std::optional<Bytes>& digest) const;

  Home& home_;
  net::ServerUrl url_;
  Verbosity verb_;
  net::HttpClient http_;
  std::optional<RsaPrivateKey> identity_;
  std::optional<SavedSession> session_;
};

}  // namespace mh::client
