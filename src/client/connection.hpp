#pragma once
// The client's side of minihttps/2: discovery and the handshake (with key pinning), then sealed
// requests (docs/PROTOCOL.md §5): every request travels as a Binary HTTP head sealed under the
// session, inside a signed POST (GET for a WebSocket upgrade) of /.well-known/minihttps/sealed,
// and every answer is opened under the request's binding B before any of it is used.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/home.hpp"
#include "client/sealed_answer.hpp"
#include "core/bhttp.hpp"
#include "core/seal.hpp"
#include "net/http_client.hpp"

namespace mh::client {

// The most of a server's error reason that is printed (escaped), then "… (N more bytes)".
inline constexpr std::size_t kMaxReasonBytes = 300;

struct Verbosity {
  bool verbose = false;  // print requests and statuses to stderr
  bool quiet = false;    // no notices, no progress bar
};

// One request as the client means it, before it is sealed.
struct Exchange {
  std::string method;                  // GET HEAD PUT POST DELETE
  std::string target;                  // path and query, percent-encoded
  std::vector<bhttp::Field> fields{};  // range, if-range, if-none-match: lower case
  // A request body (an upload): made once the request is signed, since its keys derive from the
  // request's binding B (PROTOCOL.md §4); made again for a retry, under the new session.
  std::function<std::unique_ptr<net::BodySource>(const SavedSession&, const Binding&)> body{};
  // How the answer's body is taken: see AnswerReader. Without on_head it is buffered.
  AnswerReader::OnHead on_head{};
  AnswerReader::OnChunk on_chunk{};
  // false: a plain 401 is the answer (whoami asks whether the session lives, it does not renew it).
  bool handshake_again = true;
};

// A request sealed for sending by other means (the chat's WebSocket upgrade).
struct SealedRequest {
  net::Request outer;  // method, the sealed path and the sealed, signed fields
  seal::Signed sig;    // its binding B keys the answer, the body and chat frames
};

class Connection {
 public:
  Connection(Home& home, net::ServerUrl url, Verbosity v, std::chrono::milliseconds timeout = std::chrono::seconds(30));

  const net::ServerUrl& url() const noexcept { return url_; }

  // Discovery and the handshake as `name`. pin: the fingerprint to require (--fingerprint,
  // --server-key), else the one in known_servers, else trust on first use (recorded, with a
  // notice). Saves the session only after every check passed. pin_from names the option the pin
  // came from ("--fingerprint"), for the message when the server presents another key.
  SavedSession handshake(const std::string& name, const std::optional<std::string>& pin, int rsa_bits,
                         const std::string& pin_from = "");
  // Handshake again with the saved name and pin (after a 401).
  void rehandshake();

  // The saved session, or Errc::unauthenticated telling the user to connect (and, after a logout,
  // that they logged out).
  const SavedSession& session();

  // Seals `x`, sends it and reads the answer. A plain 401 (the session is unknown or ended) is
  // answered by a new handshake and one retry, but only for GET, HEAD and PUT: a commit (POST)
  // or a DELETE is never sent twice by itself, since an attacker could inject the 401 to make it
  // repeat; see reconnect_after_401. A 429 or 503 to one of those is sent again after the
  // Retry-After seconds, up to 3 times, with a notice unless quiet (client/retry.hpp); then it
  // is the answer. Errc::integrity when the answer does not verify.
  Answer send(const Exchange& x);

  SealedRequest seal(const std::string& method, const std::string& target, const std::vector<bhttp::Field>& fields,
                     bool upgrade);

  // Throws the server's refusal as an mh::Error (status -> Errc, reason from the JSON body).
  [[noreturn]] static void raise(const Answer& a, const std::string& what);
  [[noreturn]] static void raise(const net::ClientResponse& r, const std::string& what);
  // For a 401 to a request that is not repeated by itself: handshakes again (so the next command
  // works) and throws, telling the user to run the command again.
  [[noreturn]] void reconnect_after_401(const Answer& a, const std::string& what, const std::string& method);

 private:
  Home& home_;
  net::ServerUrl url_;
  Verbosity verb_;
  net::HttpClient http_;
  std::optional<RsaPrivateKey> identity_;
  std::optional<SavedSession> session_;
};

}  // namespace mh::client
