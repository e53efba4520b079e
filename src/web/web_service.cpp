#include "web/web_service.hpp"

#include <algorithm>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/base64.hpp"
#include "core/routes.hpp"
#include "core/seal.hpp"
#include "web/chat_hub.hpp"
#include "web/chat_tickets.hpp"

namespace mh::web {

namespace {

// Answers an upload body's sink produces, responded once the body has been taken.
class RespondingSink final : public net::BodySink {
 public:
  RespondingSink(std::unique_ptr<AnswerSink> inner, std::shared_ptr<VerifiedRequest> v, const Ed25519KeyPair& key,
                 const Clock& clock)
      : inner_(std::move(inner)), v_(std::move(v)), key_(key), clock_(clock) {}
  void write(std::string_view chunk) override { inner_->write(chunk); }
  void abort() noexcept override { inner_->abort(); }
  // A chunk refused while the body arrives is answered sealed, like every answer to a verified
  // request (PROTOCOL.md §5.1).
  net::Response refusal(const Error& e) override {
    return respond(*v_, error_answer(e, v_->client->chunk_size), key_, clock_.now());
  }
  net::Response finish() override {
    Answer a;
    try {
      a = inner_->finish();
    } catch (const Error& e) { a = error_answer(e, v_->client->chunk_size); }
    return respond(*v_, std::move(a), key_, clock_.now());
  }
  // A body whose sender stopped before its end is one that ended before its last chunk
  // (PROTOCOL.md §8): the inner sink's finish() says so, sealed.
  std::optional<net::Response> ended_early() override { return finish(); }

 private:
  std::unique_ptr<AnswerSink> inner_;
  std::shared_ptr<VerifiedRequest> v_;
  const Ed25519KeyPair& key_;
  const Clock& clock_;
};
}  // namespace

WebService::WebService(auth::ClientRegistry& registry, const RequestVerifier& verifier, const FileService& files,
                       UploadService& uploads, const Ed25519KeyPair& server_key, const Clock& clock)
    : registry_(registry),
      verifier_(verifier),
      files_(files),
      uploads_(uploads),
      server_key_(server_key),
      clock_(clock) {}

net::Dispatch WebService::on_head(net::Request& req) {
  // The signature is checked on the head, so nothing is read or revealed for an unauthenticated
  // request; its refusals are plain (they cannot be sealed without a verified session).
  auto v = std::make_shared<VerifiedRequest>(verifier_.verify(req));
  req.client_id = v->client->uuid.to_string();
  Route r;
  try {
    verifier_.open(*v, req);
    r = route(req, v);
  } catch (const Error& e) {
    // From here on every refusal is answered sealed (PROTOCOL.md §5.1).
    r = error_answer(e, v->client->chunk_size);
  }
  return deliver(std::move(r), v);
}

net::Dispatch WebService::deliver(Route r, const std::shared_ptr<VerifiedRequest>& v) {
  if (auto* intake = std::get_if<BodyIntake>(&r))
    return net::StreamBody{std::make_unique<RespondingSink>(std::move(intake->sink), v, server_key_, clock_),
                           intake->max_bytes};
  if (auto* up = std::get_if<net::Upgrade>(&r)) {
    // The 101 carries the sealed head of an accepted upgrade: status 200, no body.
    net::Response head = respond(*v, Answer{}, server_key_, clock_.now());
    for (const auto& h : head.headers)
      if (net::iequals(h.name, seal::kSealedField)) up->headers.push_back(h);
    return std::move(*up);
  }
  net::Response res = respond(*v, std::move(std::get<Answer>(r)), server_key_, clock_.now());
  return res;
}

WebService::Route WebService::route(const net::Request& req, const std::shared_ptr<VerifiedRequest>& v) {
  // The signed routes of core/routes.hpp (the router kept the public ones), on the inner target.
  const routes::Route route = routes::route_of(routes::path_of(v->target));
  if (route == routes::Route::chat && chat_) return route_chat(req, *v);
  if (route == routes::Route::uploads)
    return std::visit([](auto&& r) -> Route { return std::move(r); }, uploads_.handle(req, *v));
  // Only uploads take a body; anything else is refused, and the connection closed after the answer.
  if (req.has_body) throw Error(Errc::bad_request, "this request takes no body");
  if (route == routes::Route::logout) {
    if (v->method != "POST") throw Error(Errc::method_not_allowed, "use POST");
    registry_.end_session(v->client->uuid);
    Answer a;
    a.status = 204;
    return a;
  }
  return files_.serve(FileRequest{v->method, v->target, v->fields, v->client->chunk_size});
}

// GET /chat[?room=NAME] with a WebSocket upgrade, verified: the WebSocket goes to the chat hub
// (which applies the per-client upgrade limit). POST /chat[?room=NAME]: the same checks, and a
// ticket for the unsigned upgrade a browser can make (PROTOCOL.md §9.1).
WebService::Route WebService::route_chat(const net::Request& req, const VerifiedRequest& v) {
  const bool ticket = v.method == "POST";
  if (v.method != "GET" && !ticket)
    throw Error(Errc::method_not_allowed, "chat: use GET with a WebSocket upgrade, or POST for a ticket");
  if (req.has_body) throw Error(Errc::bad_request, "chat: the upgrade request takes no body");
  std::string room(kDefaultRoom);
  if (const auto q = v.target.find('?'); q != std::string::npos) {
    const std::string_view query = std::string_view(v.target).substr(q + 1);
    if (query.substr(0, 5) != "room=") throw Error(Errc::bad_request, "chat: the only query parameter is room=NAME");
    room = std::string(query.substr(5));
  }
  if (!ticket && !net::wants_websocket(req)) {
    Answer a = error_answer(Error(Errc::bad_request, "chat: needs a WebSocket upgrade"), v.client->chunk_size);
    a.status = 426;
    return a;
  }
  try {
    if (!ticket) return chat_->upgrade(v.client, std::move(room), v.binding);
    chat_->check_upgrade(*v.client, room);
  } catch (const ChatRateLimited& e) {
    // Over the client's upgrade limit: 429 saying when the next upgrade will be allowed.
    Answer a = error_answer(e, v.client->chunk_size);
    a.retry_after = e.retry_after();
    return a;
  }
  const std::int64_t now = clock_.now();
  const nlohmann::json body{{"ticket", tickets_->issue(*v.client, room, v.binding, now)},
                            {"room", room},
                            {"expires", now + tickets_->lifetime()}};
  return body_answer(200, "application/json", body.dump(), v.client->chunk_size);
}

// GET /.well-known/minihttps/chat?ticket=T with a WebSocket upgrade, unsigned: the ticket is the
// credential, and the frames are keyed by B of the POST that got it. Refusals are plain: nothing
// here is verified to seal them for.
net::Dispatch WebService::on_ticketed_chat(net::Request& req) {
  if (!chat_) throw Error(Errc::not_found, "no such file");
  if (req.method != "GET") throw Error(Errc::method_not_allowed, "chat: use GET with a WebSocket upgrade");
  if (req.has_body) throw Error(Errc::bad_request, "chat: the upgrade request takes no body");
  const auto q = req.target.find('?');
  const std::string_view query =
      q == std::string::npos ? std::string_view() : std::string_view(req.target).substr(q + 1);
  const std::string_view ticket = query.substr(std::min<std::size_t>(7, query.size()));
  if (query.substr(0, 7) != "ticket=" || ticket.empty() || !is_base64_text(ticket, Alphabet::url))
    throw Error(Errc::bad_request, "chat: the only query parameter is ticket=TICKET");
  if (!net::wants_websocket(req)) {
    net::Response r = net::error_response(Error(Errc::bad_request, "chat: needs a WebSocket upgrade"));
    r.status = 426;
    r.set("Upgrade", "websocket");
    return r;
  }
  SpentTicket t = tickets_->spend(ticket, clock_.now());
  req.client_id = t.client->uuid.to_string();
  return chat_->accept(std::move(t.client), std::move(t.room), t.binding);
}

}  // namespace mh::web
