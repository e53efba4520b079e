// Handshake messages (core/handshake.hpp), the input as JSON:
//  * parse_client_hello / parse_server_reply: a refusal is Errc::bad_request; an accepted message
//    re-serializes with to_json and reparses to an equal message (field by field), to_json is a
//    fixed point, and the transcript encoding is the same for both. Its integers are the JSON
//    numbers of the text (no integer outside int64 is accepted as a wrapped-around value).
//  * ServerHandshake::consume_hello with a fixed Ed25519 identity, fixed ephemeral key and nonce,
//    and a FixedClock derived from the input (up to 90 s from the hello's own time, so the window
//    edges are explored; a hello refused for its time only is retried inside the window, so every
//    parseable hello reaches the key and signature checks): only success, Errc::bad_request or
//    Errc::forbidden. On success the hello was inside the window with an acceptable key, and the
//    reply create_reply() signs parses, round-trips and carries a signature over TH2 that verifies
//    with the server key, exactly as ClientHandshake::consume checks it.
#include <algorithm>
#include <climits>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/ed25519.hpp"
#include "core/handshake.hpp"
#include "fuzz_common.hpp"

namespace {

using namespace mh;
using namespace mh::handshake;
using mh::fuzz::Rng;

constexpr std::int64_t kNow = 1700000000;  // the seed hellos' time

ByteView fixed_bytes(std::uint8_t fill) {
  static std::array<std::array<std::uint8_t, 32>, 256> all = [] {
    std::array<std::array<std::uint8_t, 32>, 256> a{};
    for (std::size_t i = 0; i < a.size(); ++i)
      for (std::size_t k = 0; k < 32; ++k) a[i][k] = static_cast<std::uint8_t>(i * 31 + k * 7 + 1);
    return a;
  }();
  return all[fill];
}

const Ed25519KeyPair& identity() {
  static const Ed25519KeyPair k = Ed25519KeyPair::from_seed(fixed_bytes(1));
  return k;
}

// The integer `name` of the message object in `text` is the value the parser returned: JSON has
// integers beyond int64 (e.g. 18446744073709551615), and a strict parser refuses them rather than
// wrapping them around.
void check_int_field(std::string_view text, const char* name, std::int64_t parsed) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  MH_FUZZ_CHECK(!j.is_discarded() && j.is_object() && j.contains(name) && j[name].is_number_integer());
  const nlohmann::json& v = j[name];
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(INT64_MAX))
      std::fprintf(stderr, "\n==FUZZ== field '%s' = %llu accepted as %lld\n", name,
                   static_cast<unsigned long long>(u), static_cast<long long>(parsed));
    MH_FUZZ_CHECK(u <= static_cast<std::uint64_t>(INT64_MAX) && static_cast<std::int64_t>(u) == parsed);
  } else {
    MH_FUZZ_CHECK(v.get<std::int64_t>() == parsed);
  }
}

bool same(const ClientHello& a, const ClientHello& b) {
  return a.version == b.version && a.name == b.name && a.x25519 == b.x25519 && a.nonce == b.nonce &&
         a.rsa_spki == b.rsa_spki && a.uuid == b.uuid && a.time == b.time && a.signature == b.signature;
}

bool same(const ServerReply& a, const ServerReply& b) {
  return a.version == b.version && a.uuid == b.uuid && a.x25519 == b.x25519 && a.nonce == b.nonce &&
         a.expires == b.expires && a.server_key == b.server_key && a.signature == b.signature;
}

std::optional<ClientHello> hello_round_trip(std::string_view text) {
  std::optional<ClientHello> h;
  if (!fuzz::accepts([&] { h = parse_client_hello(text); }, {Errc::bad_request})) return std::nullopt;
  MH_FUZZ_CHECK(h->version == kVersion);
  MH_FUZZ_CHECK(valid_name(h->name));
  MH_FUZZ_CHECK(!h->rsa_spki.empty() && h->rsa_spki.size() <= kMaxSpkiBytes);
  MH_FUZZ_CHECK(!h->signature.empty() && h->signature.size() <= kMaxRsaSignatureBytes);
  check_int_field(text, "time", h->time);
  check_int_field(text, "version", h->version);
  const std::string json = to_json(*h);
  MH_FUZZ_CHECK(json.size() <= text.size() + 64);  // canonical form is not bigger (uuid: null aside)
  const ClientHello again = parse_client_hello(json);  // must not throw
  MH_FUZZ_CHECK(same(*h, again));
  MH_FUZZ_CHECK(to_json(again) == json);
  MH_FUZZ_CHECK(encode_transcript1(*h) == encode_transcript1(again));
  return h;
}

std::optional<ServerReply> reply_round_trip(std::string_view text) {
  std::optional<ServerReply> r;
  if (!fuzz::accepts([&] { r = parse_server_reply(text); }, {Errc::bad_request})) return std::nullopt;
  MH_FUZZ_CHECK(r->version == kVersion);
  check_int_field(text, "expires", r->expires);
  check_int_field(text, "version", r->version);
  const std::string json = to_json(*r);
  const ServerReply again = parse_server_reply(json);
  MH_FUZZ_CHECK(same(*r, again));
  MH_FUZZ_CHECK(to_json(again) == json);
  return r;
}

// One server handshake at time `now`. Returns false when refused for the time window only.
bool consume(std::string_view text, const std::optional<ClientHello>& hello, std::int64_t now) {
  const FixedClock clock(now);
  const ServerPolicy policy{};
  Nonce nonce{};
  std::copy_n(fixed_bytes(3).begin(), nonce.size(), nonce.begin());
  ServerHandshake server(identity(), policy, clock, X25519KeyPair::from_secret(fixed_bytes(2)), nonce);
  try {
    server.consume_hello(text);
  } catch (const Error& e) {
    if (e.code() != Errc::bad_request && e.code() != Errc::forbidden) {
      std::fprintf(stderr, "\n==FUZZ== consume_hello refused with Errc::%s: %s\n",
                   std::string(errc_name(e.code())).c_str(), e.what());
      MH_FUZZ_CHECK(!"consume_hello refuses only with bad_request or forbidden");
    }
    MH_FUZZ_CHECK(server.state() == ServerHandshake::State::failed);
    return std::string_view(e.what()) != "handshake: hello time outside the allowed window";
  }
  MH_FUZZ_CHECK(hello.has_value());  // consume_hello accepted what parse_client_hello refused?
  MH_FUZZ_CHECK(server.state() == ServerHandshake::State::hello_verified);
  MH_FUZZ_CHECK(same(server.hello(), *hello));
  MH_FUZZ_CHECK(hello->time >= clock.now() - policy.max_skew && hello->time <= clock.now() + policy.max_skew);
  const int bits = server.client_key().bits();
  MH_FUZZ_CHECK(bits >= policy.min_rsa_bits && bits <= policy.max_rsa_bits);
  MH_FUZZ_CHECK(server.client_fingerprint() == server.client_key().fingerprint());
  MH_FUZZ_CHECK(server.client_key().verify_pss_sha512(transcript1(*hello), hello->signature));

  Uuid uuid{};
  std::copy_n(fixed_bytes(4).begin(), uuid.bytes.size(), uuid.bytes.begin());
  const ServerHandshake::Result result = server.create_reply(uuid);
  MH_FUZZ_CHECK(server.state() == ServerHandshake::State::replied);
  MH_FUZZ_CHECK(result.expires == clock.now() + policy.session_ttl);
  const std::optional<ServerReply> reply = reply_round_trip(result.reply_json);
  MH_FUZZ_CHECK(reply.has_value());
  MH_FUZZ_CHECK(reply->uuid == uuid && reply->server_key == identity().public_key());
  const Sha256Digest th2 = transcript2(transcript1(*hello), *hello, *reply);
  MH_FUZZ_CHECK(ed25519_verify(reply->server_key, th2, reply->signature));
  return true;
}

void run(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::text(data, size);
  Rng rng(data, size);

  const std::optional<ClientHello> hello = hello_round_trip(text);
  reply_round_trip(text);

  // The server's clock: near the hello's time (clamped to a sane range, as a real clock is), up
  // to 90 s off, so the +-60 s window is explored at its edges. A hello refused only for its time
  // is tried again with a clock inside the window, so every parseable hello reaches the key and
  // signature checks.
  const std::int64_t base = hello ? std::clamp<std::int64_t>(hello->time, 0, std::int64_t{1} << 40) : kNow;
  if (!consume(text, hello, base + static_cast<std::int64_t>(rng.range(0, 180)) - 90) && hello)
    consume(text, hello, base + static_cast<std::int64_t>(rng.range(0, 120)) - 60);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return mh::fuzz::guarded([&] { run(data, size); });
}
