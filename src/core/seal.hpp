#pragma once
// The one signing and sealing profile of minihttps/2 (docs/PROTOCOL.md §5), used by the
// client, the server, the tests and the benchmarks alike: the signature's label, algorithm and
// covered components; the sealed request head (Binary HTTP under K("request head", BH)); the
// sealed response head (Binary HTTP under K("response head", B)) and what its fields mean.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/bhttp.hpp"
#include "core/bytes.hpp"
#include "core/fernet.hpp"
#include "core/httpsig.hpp"
#include "core/key_schedule.hpp"
#include "core/rsa.hpp"

namespace mh::seal {

inline constexpr std::string_view kLabel = "sig1";
inline constexpr std::string_view kAlg = "rsa-pss-sha512";
inline constexpr std::string_view kSealedPath = "/.well-known/minihttps/sealed";
inline constexpr std::string_view kSealedField = "MiniHTTPS-Sealed";
inline constexpr std::size_t kMaxHeadBytes = 8192;
inline constexpr std::size_t kMaxNonceLength = 128;
// What a client sends to ask for a signed answer to an unsealed request (§5.4), and what the
// server then covers.
inline constexpr std::string_view kAcceptSignature =
    R"(sig1=("@status" "minihttps-sealed" "signature";req;key="sig1");alg="ed25519")";

std::string keyid_text(const KeyId& id);               // 22 characters of b64u
std::optional<KeyId> parse_keyid(std::string_view s);  // nullopt unless exactly that

struct Credentials {
  const SessionSecret& secret;
  KeyId keyid;
  const RsaPrivateKey& rsa;
};

// created and nonce of one request; fresh() takes 16 random bytes for the nonce.
struct Freshness {
  std::int64_t created = 0;
  std::string nonce;
  static Freshness fresh(std::int64_t now);
};

// What signing a request leaves its sender with: the binding B of its body and answer.
struct Signed {
  Binding binding{};
  std::string signature_base;
};

// Signs `msg` (a request) with the profile: "@method" "@authority" "@path", "@query" when the
// target has one, and every field of covered_when_present() that msg carries; appends
// Signature-Input and Signature to msg.headers.
Signed sign(const Credentials& c, httpsig::Message& msg, const Freshness& f);

// The outer request for `inner`: POST (GET for an upgrade) of kSealedPath with the sealed head in
// kSealedField, signed. Host and any upgrade headers are the caller's to add before sending, and
// must not change what was signed (the signature covers "@authority" from `authority`).
struct SealOptions {
  bool upgrade = false;
  std::size_t pad_to = 0;  // pad the Binary HTTP head with zeros to this many bytes
  std::optional<FernetIv> iv{};
};
httpsig::Message seal_request(const Credentials& c, const bhttp::Request& inner, std::string_view scheme,
                              std::string_view authority, const Freshness& f, Signed& out,
                              const SealOptions& options = {});

// ---- server side --------------------------------------------------------------------------------

// Fields a request must cover when it carries them (§5.2): minihttps-sealed on a sealed one;
// range, if-range, if-none-match and accept-signature on an unsealed one.
std::span<const std::string_view> covered_when_present();
// The coverage rule of §5.2: nullopt if `params` covers what `msg` needs, else the reason
// ("must cover @query", "range is present but not covered", ...).
std::optional<std::string> missing_coverage(const httpsig::Message& msg, const httpsig::SignatureParams& params);
bool is_sealed(const httpsig::Message& msg);  // carries kSealedField
// Step 2 of §5.1: Errc::bad_request "sealed: NAME must travel inside the seal" for a meaningful
// field, or a query, outside the seal.
void check_nothing_outside(const httpsig::Message& msg);
// Step 3 of §5.1: opens and checks the request head (path, authority, no repeated range,
// if-range or if-none-match). Errc::bad_request with "sealed: ..."; the method is the routes' to judge.
bhttp::Request open_request_head(const SessionSecret& secret, const KeyId& keyid, std::int64_t created,
                                 std::string_view nonce, std::string_view token, std::string_view authority);

// ---- response head (§5.3) -----------------------------------------------------------------------

struct Chunks {
  std::uint32_t size = 0;  // the session's chunk size
  std::uint64_t first = 0, last = 0;
  bool operator==(const Chunks&) const = default;
};

struct ResponseHead {
  int status = 200;
  std::optional<std::string> content_type{};
  std::uint64_t content_length = 0;
  std::optional<std::string> content_range{};
  std::optional<std::string> etag{};
  std::optional<std::int64_t> retry_after{};
  std::optional<Chunks> chunks{};  // present when a body stream follows
};

bhttp::Response to_bhttp(const ResponseHead& h);
// Strict: known fields must be well formed (decimal integers without sign or leading zeros, the
// three chunk fields together or not at all); unknown fields are ignored. Errc::integrity:
// a head the server could not have sent is a broken response, not a bad request.
ResponseHead from_bhttp(const bhttp::Response& r);

std::string seal_response_head(const SessionSecret& secret, const Binding& b, const ResponseHead& h, std::int64_t now,
                               const std::optional<FernetIv>& iv = std::nullopt);
// Errc::integrity "the response head is not bound to this request" when it does not open.
ResponseHead open_response_head(const SessionSecret& secret, const Binding& b, std::string_view token);

}  // namespace mh::seal
