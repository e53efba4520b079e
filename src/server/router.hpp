#pragma once
// minihttpsd's request routing: the public description, the handshake, and (everything else)
// the web part. Wiring only: the parts do the work.
#include "auth/auth_service.hpp"
#include "net/http_types.hpp"
#include "web/web_service.hpp"

namespace mh::server {

class Router final : public net::Handler {
 public:
  Router(auth::AuthService& auth, web::WebService& web) : auth_(auth), web_(web) {}
  net::Dispatch on_head(net::Request& req) override;

 private:
  auth::AuthService& auth_;
  web::WebService& web_;
};

}  // namespace mh::server
