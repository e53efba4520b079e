#include "web/web_service.hpp"

#include <memory>
#include <string>

#include "web/chat_hub.hpp"
#include "web/response_signer.hpp"

namespace mh::web {

namespace {
constexpr std::size_t kMaxSmallBody = 64 * 1024;  // bodies of requests other than uploads
std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }
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
  // The signature is checked on the head (it covers Content-Digest, not the body itself), so
  // nothing is read or revealed for an unauthenticated request.
  auto v = std::make_shared<VerifiedRequest>(verifier_.verify(req));
  req.client_id = v->client->uuid.to_string();
  if (chat_ && path_of(req.target) == "/chat") return route_chat(req, *v);
  if (UploadService::owns(path_of(req.target))) return route_upload(req, v);
  if (!req.has_body) return route(req, *v);
  return net::BufferBody{kMaxSmallBody, [this, v](net::Request& r) {
                           RequestVerifier::check_body_digest(*v, as_bytes(r.body));
                           return route(r, *v);
                         }};
}

namespace {
// Signs the answer an upload body produces, once the body has been taken.
class SigningSink final : public net::BodySink {
 public:
  SigningSink(std::unique_ptr<net::BodySink> inner, const net::Request& req, std::shared_ptr<VerifiedRequest> v,
              const Ed25519KeyPair& key, const Clock& clock)
      : inner_(std::move(inner)), req_(req), v_(std::move(v)), key_(key), clock_(clock) {}
  void write(std::string_view chunk) override { inner_->write(chunk); }
  void abort() noexcept override { inner_->abort(); }
  net::Response finish() override {
    net::Response r;
    try {
      r = inner_->finish();
    } catch (const Error& e) {
      r = net::error_response(e);
    }
    sign_response(r, req_, *v_, key_, clock_.now());
    return r;
  }

 private:
  std::unique_ptr<net::BodySink> inner_;
  const net::Request& req_;  // the server keeps the request alive while its body is read
  std::shared_ptr<VerifiedRequest> v_;
  const Ed25519KeyPair& key_;
  const Clock& clock_;
};
}  // namespace

net::Dispatch WebService::route_upload(net::Request& req, const std::shared_ptr<VerifiedRequest>& v) {
  net::Dispatch d;
  try {
    d = uploads_.handle(req, *v);
  } catch (const Error& e) {
    d = net::error_response(e);
  }
  if (auto* stream = std::get_if<net::StreamBody>(&d)) {
    stream->sink = std::make_unique<SigningSink>(std::move(stream->sink), req, v, server_key_, clock_);
    return d;
  }
  auto& res = std::get<net::Response>(d);
  sign_response(res, req, *v, server_key_, clock_.now());
  return d;
}

// GET /chat[?room=NAME], verified: the WebSocket goes to the chat hub (which applies the per-client
// upgrade limit). Refusals are signed.
net::Dispatch WebService::route_chat(net::Request& req, const VerifiedRequest& v) {
  net::Response res;
  try {
    if (req.method != "GET") throw Error(Errc::method_not_allowed, "chat: use GET with a WebSocket upgrade");
    if (req.has_body) throw Error(Errc::bad_request, "chat: the upgrade request takes no body");
    std::string room(kDefaultRoom);
    if (const auto q = req.target.find('?'); q != std::string::npos) {
      const std::string_view query = std::string_view(req.target).substr(q + 1);
      if (query.substr(0, 5) != "room=") throw Error(Errc::bad_request, "chat: the only query parameter is room=NAME");
      room = std::string(query.substr(5));
    }
    if (!net::wants_websocket(req)) {
      res = net::error_response(Error(Errc::bad_request, "chat: needs a WebSocket upgrade"));
      res.status = 426;
      res.set("Upgrade", "websocket");
    } else {
      return chat_->upgrade(v.client, std::move(room));
    }
  } catch (const ChatRateLimited& e) {
    // Over the client's upgrade limit: 429 saying when the next upgrade will be allowed.
    res = net::error_response(e);
    res.set("Retry-After", std::to_string(e.retry_after()));
  } catch (const Error& e) {
    res = net::error_response(e);
  }
  sign_response(res, req, v, server_key_, clock_.now());
  return res;
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
