#include "client/response_check.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace mh::client {
namespace {
[[noreturn]] void refuse(const std::string& why) {
  throw Error(Errc::integrity, "response signature: " + why + "; nothing was written");
}
}  // namespace

std::string accept_signature_value() {
  return R"(sig1=("@status" "content-digest" "signature";req;key="sig1");alg="ed25519")";
}

Bytes check_response_signature(const net::ClientResponse& res, const httpsig::Message& req,
                               const Ed25519Public& server_key, std::int64_t now, std::int64_t max_skew) {
  httpsig::Message m{"", req.scheme, req.authority, req.target, res.status, {}, &req};
  for (const auto& h : res.headers) m.headers.emplace_back(h.name, h.value);
  const auto input = httpsig::field_value(m, "signature-input");
  const auto sig = httpsig::field_value(m, "signature");
  if (!input || !sig) refuse("missing (the server did not sign its answer)");
  try {
    const auto inputs = httpsig::parse_signature_input(*input);
    const auto sigs = httpsig::parse_signature(*sig);
    const auto in = std::find_if(inputs.begin(), inputs.end(), [](const auto& p) { return p.first == "sig1"; });
    const auto sv = std::find_if(sigs.begin(), sigs.end(), [](const auto& p) { return p.first == "sig1"; });
    if (in == inputs.end() || sv == sigs.end()) refuse("no sig1");
    const auto& p = in->second;
    sfv::Parameters req_sig;
    req_sig.set("req", true);
    req_sig.set("key", std::string("sig1"));
    const std::vector<httpsig::Component> want = {{"@status", {}}, {"content-digest", {}}, {"signature", req_sig}};
    for (const auto& c : want)
      if (std::find(p.components.begin(), p.components.end(), c) == p.components.end())
        refuse("does not cover " + c.name);
    if (p.alg && *p.alg != "ed25519") refuse("unexpected alg");
    if (!p.created || *p.created < now - max_skew || *p.created > now + max_skew) refuse("not fresh");
    const std::string base = httpsig::signature_base(m, p);
    if (!ed25519_verify(server_key, as_bytes(base), sv->second)) refuse("does not verify");
    const auto digest = httpsig::content_digest_sha512_value(httpsig::field_value(m, "content-digest").value_or(""));
    if (!digest) refuse("no sha-512 content-digest");
    return *digest;
  } catch (const Error& e) {
    if (e.code() == Errc::integrity) throw;
    refuse(e.what());
  }
}

}  // namespace mh::client
