// The small decoders around the handshake and the request verifier: public keys (SPKI DER and
// PEM), PEM armour, UUIDs (the RFC 9421 keyid) and hex. The first input byte picks the decoder
// (byte % 3; the seeds use '0', '1', '2'), the rest is its input.
//  0  RsaPublicKey::from_spki_der (what a client hello's rsa_spki becomes; canonical rsaEncryption
//     DER takes the strict reader of core/rsa_spki.cpp, anything else OpenSSL's decoder): refusals
//     are Errc::bad_request; it accepts only what OpenSSL's decoder accepts (an input it keeps as
//     given, as the strict reader does, also passes from_pem of the same bytes in PEM armour, to
//     the same key); the DER it keeps (and hashes as the fingerprint) is the canonical encoding,
//     what OpenSSL's encoder writes for the key; an
//     accepted key re-encodes to DER that parses to the same DER and fingerprint; when its size is
//     one the server accepts (2048..4096 bits), verifying a signature returns false and never throws.
//  1  PEM text: pem_decode, RsaPublicKey::from_pem, ed25519_public_from_pem refuse only with
//     Errc::bad_request; what they accept re-encodes and decodes to the same key; pem_encode of
//     the input bytes decodes back to them.
//  2  Uuid::parse against a reference (36 characters, dashes at 8/13/18/23, hex elsewhere) and
//     to_string() = the lower-cased input; from_hex against a reference and to_hex round trip.
#include <cctype>
#include <optional>

#include "core/ed25519.hpp"
#include "core/pem.hpp"
#include "core/rsa.hpp"
#include "core/uuid.hpp"
#include "fuzz_common.hpp"

namespace {

using namespace mh;

bool is_hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void check_rsa_key(const RsaPublicKey& key, ByteView data) {
  const int bits = key.bits();
  MH_FUZZ_CHECK(bits > 0);
  const Bytes der = key.spki_der();
  // Canonical: one key, one DER, one fingerprint (a second encoding would be a second identity).
  MH_FUZZ_CHECK(der == pem_decode(key.pem(), "PUBLIC KEY"));
  const RsaPublicKey again = RsaPublicKey::from_spki_der(der);
  MH_FUZZ_CHECK(again.spki_der() == der);
  MH_FUZZ_CHECK(again.fingerprint() == key.fingerprint());
  MH_FUZZ_CHECK(RsaPublicKey::from_pem(key.pem()).spki_der() == der);
  if (bits >= kRsaMinBits && bits <= kRsaMaxBits) {
    // An attacker's key and an attacker's signature: a bool, whatever they are.
    Bytes sig(static_cast<std::size_t>((bits + 7) / 8), 0x5a);
    for (std::size_t i = 0; i < sig.size() && i < data.size(); ++i) sig[i] = data[data.size() - 1 - i];
    MH_FUZZ_CHECK(!key.verify_pss_sha512(as_bytes("minihttps fuzz"), sig));
  }
}

void spki(ByteView der) {
  std::optional<RsaPublicKey> key;
  // A refusal is always OpenSSL's decoder's (the strict reader falls back to it).
  if (!fuzz::accepts([&] { key = RsaPublicKey::from_spki_der(der); }, {Errc::bad_request})) return;
  if (key->spki_der() == Bytes(der.begin(), der.end())) {
    // Kept as given, so possibly by the strict reader: OpenSSL's decoder alone (from_pem of the
    // same bytes) must take them to the same key. The reader is a shortcut, not a second opinion.
    std::optional<RsaPublicKey> generic;
    MH_FUZZ_CHECK(
        fuzz::accepts([&] { generic = RsaPublicKey::from_pem(pem_encode("PUBLIC KEY", der)); }, {Errc::bad_request}));
    MH_FUZZ_CHECK(generic->spki_der() == key->spki_der());
  }
  check_rsa_key(*key, der);
}

void pem(std::string_view text) {
  Bytes der;
  if (fuzz::accepts([&] { der = pem_decode(text, "PUBLIC KEY"); }, {Errc::bad_request}))
    MH_FUZZ_CHECK(pem_decode(pem_encode("PUBLIC KEY", der), "PUBLIC KEY") == der);
  std::optional<RsaPublicKey> key;
  if (fuzz::accepts([&] { key = RsaPublicKey::from_pem(text); }, {Errc::bad_request}))
    check_rsa_key(*key, as_bytes(text));
  Ed25519Public pub{};
  if (fuzz::accepts([&] { pub = ed25519_public_from_pem(text); }, {Errc::bad_request}))
    MH_FUZZ_CHECK(ed25519_public_from_pem(ed25519_public_pem(pub)) == pub);
  MH_FUZZ_CHECK(pem_decode(pem_encode("X", as_bytes(text)), "X") == Bytes(text.begin(), text.end()));
}

void ids(std::string_view text) {
  bool want = text.size() == 36;
  for (std::size_t i = 0; want && i < text.size(); ++i)
    want = (i == 8 || i == 13 || i == 18 || i == 23) ? text[i] == '-' : is_hex(text[i]);
  const std::optional<Uuid> u = Uuid::parse(text);
  MH_FUZZ_CHECK(u.has_value() == want);
  if (u) MH_FUZZ_CHECK(u->to_string() == lower(text) && Uuid::parse(u->to_string()) == u);

  bool hex_ok = text.size() % 2 == 0;
  for (char c : text) hex_ok = hex_ok && is_hex(c);
  Bytes b;
  const bool decoded = fuzz::accepts([&] { b = from_hex(text); }, {Errc::bad_request});
  MH_FUZZ_CHECK(decoded == hex_ok);
  if (decoded) MH_FUZZ_CHECK(b.size() * 2 == text.size() && to_hex(b) == lower(text));
}

void run(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  const ByteView rest(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: spki(rest); break;
    case 1: pem(as_chars(rest)); break;
    default: ids(as_chars(rest)); break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return mh::fuzz::guarded([&] { run(data, size); });
}
