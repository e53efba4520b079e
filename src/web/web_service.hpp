#pragma once
// The web part of minihttpsd: everything that needs a signed request. It verifies the request
// (RequestVerifier), opens it when sealed, routes the request the client meant (logout, files,
// uploads, chat), and turns every answer into the response in one place (web/answer.hpp).
#include <cstdint>
#include <memory>

#include "auth/registry.hpp"
#include "core/clock.hpp"
#include "core/ed25519.hpp"
#include "net/http_types.hpp"
#include "web/answer.hpp"
#include "web/file_service.hpp"
#include "web/request_verifier.hpp"
#include "web/upload_service.hpp"

namespace mh::web {

class ChatHub;
class ChatTickets;

class WebService {
 public:
  WebService(auth::ClientRegistry& registry, const RequestVerifier& verifier, const FileService& files,
             UploadService& uploads, const Ed25519KeyPair& server_key, const Clock& clock);

  net::Dispatch on_head(net::Request& req);

  // Serves GET /chat (a signed WebSocket upgrade) and POST /chat (a ticket) with `hub`, and the
  // ticketed upgrade; without it /chat is a file path. Call before the server runs.
  void enable_chat(ChatHub& hub, const ChatTickets& tickets) noexcept {
    chat_ = &hub;
    tickets_ = &tickets;
  }

  // The unsigned upgrade GET /.well-known/minihttps/chat?ticket=T (the router's public route).
  net::Dispatch on_ticketed_chat(net::Request& req);

 private:
  using Route = std::variant<Answer, BodyIntake, net::Upgrade>;
  Route route(const net::Request& req, const std::shared_ptr<VerifiedRequest>& v);
  Route route_chat(const net::Request& req, const VerifiedRequest& v);
  net::Dispatch deliver(Route r, const std::shared_ptr<VerifiedRequest>& v);

  auth::ClientRegistry& registry_;
  const RequestVerifier& verifier_;
  const FileService& files_;
  UploadService& uploads_;
  const Ed25519KeyPair& server_key_;
  const Clock& clock_;
  ChatHub* chat_ = nullptr;
  const ChatTickets* tickets_ = nullptr;
};

}  // namespace mh::web
