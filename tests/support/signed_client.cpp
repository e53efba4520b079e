#include "support/signed_client.hpp"

#include <nlohmann/json.hpp>

#include <ctime>

#include "core/base64.hpp"
#include "support/test_support.hpp"

namespace mh::test {
namespace fs = std::filesystem;

SignedClient::SignedClient(const fs::path& home, const std::string& url)
    : url_(net::ServerUrl::parse(url)), http_(url_, std::chrono::seconds(10)) {
  rsa_ = RsaPrivateKey::from_pem(read_file(home / "identity.pem"));
  for (const auto& e : fs::directory_iterator(home / "sessions")) {
    const auto j = nlohmann::json::parse(read_file(e.path()));
    uuid_ = *Uuid::parse(j["uuid"].get<std::string>());
    key_ = FernetKey::parse(j["session_key"].get<std::string>());
  }
}

net::Request SignedClient::build(const std::string& method, const std::string& target, const SignOptions& o,
                                 const std::string& body) {
  const std::string signed_target = o.sign_target.empty() ? target : o.sign_target;
  std::vector<httpsig::Component> covered;
  for (const auto& c : o.components) covered.push_back({c, {}});
  if (o.auto_query && signed_target.find('?') != std::string::npos) covered.push_back({"@query", {}});
  net::Headers headers = o.extra;
  if (!body.empty()) {
    headers.push_back({"Content-Digest", httpsig::content_digest_sha512(as_bytes(body))});
    covered.push_back({"content-digest", {}});
  }
  const auto params = httpsig::make_params(
      covered, {.created = o.omit_created ? std::nullopt : std::optional(o.created.value_or(std::time(nullptr))),
                .expires = o.expires,
                .nonce = o.omit_nonce ? std::nullopt
                                      : std::optional(o.nonce.value_or(base64_encode(random_bytes(12), Alphabet::url, false))),
                .alg = o.alg.empty() ? std::nullopt : std::optional(o.alg),
                .keyid = o.omit_keyid ? std::nullopt : std::optional(o.keyid.value_or(uuid_.to_string()))});
  httpsig::Message m{method, "http", url_.authority(), signed_target, std::nullopt, {}, nullptr};
  for (const auto& h : headers) m.headers.emplace_back(h.name, h.value);
  Bytes sig = rsa_->sign_pss_sha512(as_bytes(httpsig::signature_base(m, params)));
  if (o.flip_signature_bit) sig[sig.size() / 2] ^= 0x01;
  headers.push_back({"Signature-Input", httpsig::signature_input_member("sig1", params)});
  headers.push_back({"Signature", httpsig::signature_member("sig1", sig)});
  if (!o.send_authority.empty()) headers.push_back({"Host", o.send_authority});
  return net::Request{method, target, std::move(headers), body, {}, {}, !body.empty()};
}

net::ClientResponse SignedClient::send(const std::string& method, const std::string& target, const SignOptions& o,
                                       const std::string& body) {
  return send_raw(build(method, target, o, body));
}

net::ClientResponse SignedClient::send_raw(const net::Request& req) { return http_.send(req, 64 << 20); }

}  // namespace mh::test
