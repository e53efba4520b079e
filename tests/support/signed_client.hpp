#pragma once
// Crafts minihttps/2 requests by hand — sealed like the CLI's, or plain RFC 9421-signed ones —
// with the identity and session a real `minihttps connect` left in its home, so attack tests can
// vary one thing at a time (time, nonce, coverage, keyid, signature bytes, the sealed head, the
// body stream) and look at the exact status and reason. Answers are opened the way a client must
// (docs/PROTOCOL.md §5.3, §6.3), so tests see the real status and the verified plaintext.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/bhttp.hpp"
#include "core/httpsig.hpp"
#include "core/key_schedule.hpp"
#include "core/rsa.hpp"
#include "core/seal.hpp"
#include "core/uuid.hpp"
#include "net/http_client.hpp"

namespace mh::test {

struct SignOptions {
  bool sealed = true;                                  // a sealed request (as the CLI sends); false: plain RFC 9421
  std::optional<std::int64_t> created;                 // default: now
  std::optional<std::string> nonce;                    // default: random
  std::optional<std::string> keyid;                    // default: the session's keyid
  std::optional<std::vector<std::string>> components;  // default: the profile's (seal::sign)
  bool flip_signature_bit = false;
  std::string sign_target;             // plain: sign this target but send another (empty: the same)
  std::string send_authority;          // sign for the server's authority but send this Host (empty: the same)
  std::string alg = "rsa-pss-sha512";  // empty: no alg parameter
  std::optional<std::int64_t> expires;
  bool omit_created = false, omit_nonce = false, omit_keyid = false;
  net::Headers extra;    // outer headers added before signing (covered by the profile's rules)
  net::Headers inner;    // sealed: fields inside the head (range, if-range, if-none-match)
  bool upgrade = false;  // sealed: the outer request is a GET (WebSocket upgrade)
};

// A request ready to send, and what its answer is bound to.
struct Built {
  net::Request request;
  Binding binding{};
};

// An answer opened as a client must: the real status and fields from the sealed head (when
// there is one), the body stream opened chunk by chunk. `error` says why opening failed.
struct Reply {
  int status = 0;  // the sealed head's status, else the outer one
  int outer_status = 0;
  bool sealed = false;  // a MiniHTTPS-Sealed head came with it
  std::optional<seal::ResponseHead> head;
  net::Headers headers;  // the outer ones
  std::string body;      // opened plaintext (or the plain body of a plain answer)
  std::string raw_body;  // the bytes as received
  std::string error;     // non-empty when the head or a chunk did not open
  std::optional<std::string_view> header(std::string_view name) const { return net::find_header(headers, name); }
  std::string reason() const;  // the "reason" of a JSON error body, or ""
};

class SignedClient {
 public:
  // Loads identity.pem and the single session file from a client home after `connect`.
  SignedClient(const std::filesystem::path& home, const std::string& url);

  // A request for `target`: sealed (method and target inside) or plain. A `body` is sent as the
  // request body stream (an upload) unless `raw_body` says to send it as it is.
  Reply send(const std::string& method, const std::string& target, const SignOptions& o = {},
             const std::string& body = {});
  Built build(const std::string& method, const std::string& target, const SignOptions& o = {},
              const std::string& body = {}, bool raw_body = false);
  net::ClientResponse send_raw(const net::Request& req);
  // Opens an answer the way the CLI does.
  Reply open(const net::ClientResponse& r, const Binding& b) const;

  const Uuid& uuid() const noexcept { return uuid_; }
  const KeyId& keyid() const noexcept { return keyid_; }
  std::string keyid_text() const { return seal::keyid_text(keyid_); }
  const SessionSecret& secret() const noexcept { return secret_; }
  std::uint32_t chunk_size() const noexcept { return chunk_size_; }
  const RsaPrivateKey& rsa() const { return *rsa_; }
  const net::ServerUrl& url() const noexcept { return url_; }

 private:
  std::optional<RsaPrivateKey> rsa_;
  Uuid uuid_;
  KeyId keyid_{};
  SessionSecret secret_;
  std::uint32_t chunk_size_ = 0;
  net::ServerUrl url_;
  net::HttpClient http_;
};

// The request body stream of `plaintext` (an upload) under the session's keys.
std::string body_stream(const SignedClient& c, const Binding& b, std::string_view plaintext);

// Raw TCP, for attacks that stop half-way: the head of `req` as it goes on the wire (Host
// `authority` unless req has one, Content-Length `content_length` when not 0); and an answer read
// off a socket parsed back into status, fields and body (status 0 when there was none).
std::string wire_head(const net::Request& req, const std::string& authority, std::size_t content_length);
net::ClientResponse parse_wire_answer(std::string_view raw);

// The same exchange without a client home, for tools that hold their sessions in memory (the load
// generator): a session, a sealed request as the CLI makes it, and the answer opened as it must be.
struct Session {
  Uuid uuid;
  KeyId keyid{};
  SessionSecret secret;
  std::uint32_t chunk_size = 0;
};
std::string body_stream(const SessionSecret& s, std::uint32_t chunk_size, const Binding& b, std::string_view plaintext);
Built seal_request(const RsaPrivateKey& rsa, const Session& s, const std::string& authority, const std::string& method,
                   const std::string& target, const net::Headers& inner = {}, const std::string& body = {},
                   bool upgrade = false);
Reply open_answer(const SessionSecret& s, const Binding& b, const net::ClientResponse& r);

}  // namespace mh::test
