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
    return net::BufferBody{handshake::kMaxMessageBytes, [this](net::Request& r) {
                             return net::json_response(200, auth_.handshake(r.body, r.remote_address));
                           }};
  }
  return web_.on_head(req);
}

}  // namespace mh::server
