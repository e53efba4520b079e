#pragma once
// minihttpsd's request routing: the public description, the handshake, the browser client's files,
// and (everything else) the web part. Wiring only: the parts do the work.
#include "auth/auth_service.hpp"
#include "net/http_types.hpp"
#include "web/app_page.hpp"
#include "web/web_service.hpp"

namespace mh::server {

class Router final : public net::Handler {
 public:
  // `page` null: the browser client is not served (--no-web-app), /.app is an ordinary signed path.
  Router(auth::AuthService& auth, web::WebService& web, const web::AppPage* page = nullptr)
      : auth_(auth), web_(web), page_(page) {}
  net::Dispatch on_head(net::Request& req) override;

 private:
  auth::AuthService& auth_;
  web::WebService& web_;
  const web::AppPage* page_;
};

}  // namespace mh::server
