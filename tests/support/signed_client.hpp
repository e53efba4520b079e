#pragma once
// Crafts RFC 9421-signed requests by hand, with the identity and session a real `minihttps
// connect` left in its home, so attack tests can vary one thing at a time (time, nonce,
// coverage, key id, signature bytes) and look at the exact status and reason.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/fernet.hpp"
#include "core/httpsig.hpp"
#include "core/rsa.hpp"
#include "core/uuid.hpp"
#include "net/http_client.hpp"

namespace mh::test {

struct SignOptions {
  std::optional<std::int64_t> created;          // default: now
  std::optional<std::string> nonce;             // default: random
  std::optional<std::string> keyid;             // default: the session UUID
  std::vector<std::string> components = {"@method", "@authority", "@path"};  // + @query when needed
  bool auto_query = true;
  bool flip_signature_bit = false;
  std::string sign_target;  // sign this target but send another (empty: the same)
  std::string send_authority;  // sign for the server's authority but send this Host (empty: the same)
  std::string alg = "rsa-pss-sha512";         // empty: no alg parameter
  std::optional<std::int64_t> expires;
  bool omit_created = false, omit_nonce = false, omit_keyid = false;
  net::Headers extra;       // added before signing (and covered only if listed in components)
};

class SignedClient {
 public:
  // Loads identity.pem and the single session file from a client home after `connect`.
  SignedClient(const std::filesystem::path& home, const std::string& url);

  net::ClientResponse send(const std::string& method, const std::string& target, const SignOptions& o = {},
                           const std::string& body = {});
  // The signed request without sending it (to replay it).
  net::Request build(const std::string& method, const std::string& target, const SignOptions& o = {},
                     const std::string& body = {});
  net::ClientResponse send_raw(const net::Request& req);

  const Uuid& uuid() const noexcept { return uuid_; }
  const FernetKey& session_key() const noexcept { return key_; }

 private:
  std::optional<RsaPrivateKey> rsa_;
  Uuid uuid_;
  FernetKey key_;
  net::ServerUrl url_;
  net::HttpClient http_;
};

}  // namespace mh::test
