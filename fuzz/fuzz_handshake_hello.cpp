// Handshake messages of minihttps/2 (core/handshake.hpp), the input as JSON, the first byte
// choosing the parser:
//  * 0 parse_envelope, 1 parse_hello_identity, 2 parse_reply_identity: a refusal is
//    Errc::bad_request; an accepted message re-serializes with to_json and reparses to an equal
//    message (field by field), and to_json is a fixed point. Integers are the JSON numbers of the
//    text (none outside int64 is accepted as a wrapped-around value).
//  * otherwise ServerHandshake::consume_hello of the text with a fixed identity and static key and
//    a FixedClock: only success, Errc::bad_request or Errc::forbidden. A hello whose identity the
//    input spells out (mode 4) is sealed properly to the static key first, so the checks after the
//    opening (JSON of the identity, time window, RSA key, signature) are reached too.
#include <climits>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/handshake.hpp"
#include "fuzz_common.hpp"

namespace {

using namespace mh;
using namespace mh::handshake;

constexpr std::int64_t kNow = 1700000000;

const Ed25519KeyPair& identity() {
  static const Ed25519KeyPair k = Ed25519KeyPair::from_seed(Bytes(32, 0x11));
  return k;
}
const X25519KeyPair& static_key() {
  static const X25519KeyPair k = X25519KeyPair::from_secret(Bytes(32, 0x22));
  return k;
}

void check_int_field(std::string_view text, const char* name, std::int64_t parsed) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  MH_FUZZ_CHECK(!j.is_discarded() && j.is_object() && j.contains(name) && j[name].is_number_integer());
  const nlohmann::json& v = j[name];
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    MH_FUZZ_CHECK(u <= static_cast<std::uint64_t>(INT64_MAX) && static_cast<std::int64_t>(u) == parsed);
  } else {
    MH_FUZZ_CHECK(v.get<std::int64_t>() == parsed);
  }
}

template <class Parse, class ToJson, class Same>
void round_trip(std::string_view text, Parse parse, ToJson to_json_fn, Same same) {
  std::optional<decltype(parse(text))> m;
  if (!fuzz::accepts([&] { m = parse(text); }, {Errc::bad_request})) return;
  const std::string again = to_json_fn(*m);
  const auto back = parse(again);
  MH_FUZZ_CHECK(same(*m, back));
  MH_FUZZ_CHECK(to_json_fn(back) == again);
}

void run(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  const std::uint8_t mode = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (mode % 5) {
    case 0:
      round_trip(
          text, parse_envelope, [](const Envelope& e) { return to_json(e); },
          [](const Envelope& a, const Envelope& b) { return a.x25519 == b.x25519 && a.sealed == b.sealed; });
      return;
    case 1:
      round_trip(
          text, parse_hello_identity, [](const HelloIdentity& h) { return to_json(h); },
          [&](const HelloIdentity& a, const HelloIdentity& b) {
            check_int_field(text, "time", a.time);
            return a.name == b.name && a.nonce == b.nonce && a.rsa_spki == b.rsa_spki && a.uuid == b.uuid &&
                   a.time == b.time && a.signature == b.signature;
          });
      return;
    case 2:
      round_trip(
          text, parse_reply_identity, [](const ReplyIdentity& r) { return to_json(r); },
          [&](const ReplyIdentity& a, const ReplyIdentity& b) {
            check_int_field(text, "expires", a.expires);
            return a.uuid == b.uuid && a.keyid == b.keyid && a.expires == b.expires && a.nonce == b.nonce &&
                   a.chunk_size == b.chunk_size && a.signature == b.signature;
          });
      return;
    default: break;
  }
  std::string hello(text);
  if (mode % 5 == 4) {
    // The text is a hello identity: seal it to the static key under a fixed ephemeral key.
    const auto eph = X25519KeyPair::from_secret(Bytes(32, 0x33));
    const ServerKeys server{identity().public_key(), static_key().public_key};
    const Secret<32> es = x25519_shared(eph.secret, server.static_key);
    FernetIv iv{};
    hello = to_json(Envelope{eph.public_key, fernet_encrypt(hello_key(es, hello_key_salt(server, eph.public_key)),
                                                            as_bytes(text), kNow, iv)});
  }
  FixedClock clock(kNow);
  ServerHandshake server(identity(), static_key(), ServerPolicy{}, clock);
  bool ok = false;
  if (!fuzz::accepts(
          [&] {
            server.consume_hello(hello);
            ok = true;
          },
          {Errc::bad_request, Errc::forbidden}))
    return;
  MH_FUZZ_CHECK(ok);
  MH_FUZZ_CHECK(server.identity().time >= kNow - 60 && server.identity().time <= kNow + 60);
  const auto result = server.create_reply(Uuid::random_v4());
  MH_FUZZ_CHECK(parse_envelope(result.reply_json).x25519 != X25519Public{});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return mh::fuzz::guarded([&] { run(data, size); });
}
