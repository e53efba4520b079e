#include "server/router.hpp"

#include "core/handshake.hpp"
#include "core/routes.hpp"

namespace mh::server {

// The public routes of core/routes.hpp are the auth service's; every other one is signed and the
// web part's.
net::Dispatch Router::on_head(net::Request& req) {
  switch (routes::route_of(routes::path_of(req.target))) {
    case routes::Route::well_known: {
      if (req.method != "GET" && req.method != "HEAD") throw Error(Errc::method_not_allowed, "use GET");
      net::Response r = net::json_response(200, auth_.well_known_json());
      r.head_only = req.method == "HEAD";
      return r;
    }
    case routes::Route::handshake:
      if (req.method != "POST") throw Error(Errc::method_not_allowed, "use POST");
      return net::BufferBody{handshake::kMaxMessageBytes, [this](net::Request& r) {
                               return net::json_response(200, auth_.handshake(r.body, r.remote_address));
                             }};
    case routes::Route::ticketed_chat: return web_.on_ticketed_chat(req);
    case routes::Route::app:
      if (page_) return page_->answer(req);
      return web_.on_head(req);
    default: return web_.on_head(req);
  }
}

}  // namespace mh::server
