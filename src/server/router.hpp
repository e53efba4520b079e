#pragma once
// minihttpsd's request routing: the public description, the handshake, and (everything else)
// the web part. Wiring only: the parts do the work.
#include "auth/auth_service.hpp"
#include "net/http_types.hpp"

namespace mh::server {

class Router final : public net::Handler {
 public:
  explicit Router(auth::AuthService& auth) : auth_(auth) {}
  net::Dispatch on_head(net::Request& req) override;
  net::Response on_body(net::Request& req) override;

 private:
  auth::AuthService& auth_;
};

}  // namespace mh::server
