#pragma once
// The web part of minihttpsd: everything that needs a signed request. It verifies the request
// (RequestVerifier), routes it (logout, files), and signs the answer when asked.
#include <cstdint>

#include "auth/registry.hpp"
#include "core/clock.hpp"
#include "core/ed25519.hpp"
#include "net/http_types.hpp"
#include "web/file_service.hpp"
#include "web/request_verifier.hpp"

namespace mh::web {

class WebService {
 public:
  WebService(auth::ClientRegistry& registry, const RequestVerifier& verifier, const FileService& files,
             const Ed25519KeyPair& server_key, const Clock& clock);

  net::Dispatch on_head(net::Request& req);

 private:
  net::Response route(net::Request& req, const VerifiedRequest& v);

  auth::ClientRegistry& registry_;
  const RequestVerifier& verifier_;
  const FileService& files_;
  const Ed25519KeyPair& server_key_;
  const Clock& clock_;
};

}  // namespace mh::web
