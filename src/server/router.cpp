#include "server/router.hpp"

#include "core/handshake.hpp"

namespace mh::server {

namespace {
std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }
}  // namespace

net::Dispatch Router::on_head(net::Request& req) {
  const std::string_view path = path_of(req.target);
  if (path == "/.well-known/minihttps") {
    if (req.method != "GET" && req.method != "HEAD") throw Error(Errc::method_not_allowed, "use GET");
    net::Response r = net::json_response(200, auth_.well_known_json());
    r.head_only = req.method == "HEAD";
    return r;
  }
  if (path == "/auth/handshake") {
    if (req.method != "POST") throw Error(Errc::method_not_allowed, "use POST");
    return net::BufferBody{handshake::kMaxMessageBytes};
  }
  if (!req.header("Signature") && !req.header("Signature-Input"))
    throw Error(Errc::unauthenticated, "request is not signed: run the handshake, then sign requests (RFC 9421)");
  throw Error(Errc::not_found, "no such resource");
}

net::Response Router::on_body(net::Request& req) {
  // Only the handshake asks for a buffered body.
  return net::json_response(200, auth_.handshake(req.body, req.remote_address));
}

}  // namespace mh::server
