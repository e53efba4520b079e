#include "web/web_service.hpp"

#include <memory>

#include "web/response_signer.hpp"

namespace mh::web {

namespace {
constexpr std::size_t kMaxSmallBody = 64 * 1024;  // bodies of requests other than uploads
std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }
}  // namespace

WebService::WebService(auth::ClientRegistry& registry, const RequestVerifier& verifier, const FileService& files,
                       const Ed25519KeyPair& server_key, const Clock& clock)
    : registry_(registry), verifier_(verifier), files_(files), server_key_(server_key), clock_(clock) {}

net::Dispatch WebService::on_head(net::Request& req) {
  // The signature is checked on the head (it covers Content-Digest, not the body itself), so
  // nothing is read or revealed for an unauthenticated request.
  auto v = std::make_shared<VerifiedRequest>(verifier_.verify(req));
  req.client_id = v->client->uuid.to_string();
  if (!req.has_body) return route(req, *v);
  return net::BufferBody{kMaxSmallBody, [this, v](net::Request& r) {
                           RequestVerifier::check_body_digest(*v, as_bytes(r.body));
                           return route(r, *v);
                         }};
}

net::Response WebService::route(net::Request& req, const VerifiedRequest& v) {
  net::Response res;
  try {
    const std::string_view path = path_of(req.target);
    if (path == "/auth/logout") {
      if (req.method != "POST") throw Error(Errc::method_not_allowed, "use POST");
      registry_.end_session(v.client->uuid);
      res.status = 204;
    } else {
      res = files_.serve(req, v.client->session_key, clock_.now());
    }
  } catch (const Error& e) {
    // Refusals after verification are signed too, so they cannot be swapped either.
    res = net::error_response(e);
  }
  sign_response(res, req, v, server_key_, clock_.now());
  return res;
}

}  // namespace mh::web
