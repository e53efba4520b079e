// The v2 key schedule (docs/PROTOCOL.md §4): SessionSecret::derive is plain HKDF-SHA256 over the
// spec's info fields (so a stock HKDF opens every token), the bindings are SHA-256 over the spec's
// fields, and every input of K() changes the key.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "core/hash.hpp"
#include "core/key_schedule.hpp"
#include "support/test_support.hpp"

namespace mh {
namespace {

constexpr KeyPurpose kPurposes[] = {KeyPurpose::request_head,  KeyPurpose::request_body,   KeyPurpose::response_head,
                                    KeyPurpose::response_body, KeyPurpose::chat_to_server, KeyPurpose::chat_to_client};

Binding binding(std::uint32_t seed) {
  const Bytes b = test::pattern_bytes(32, seed);
  Binding out{};
  std::copy(b.begin(), b.end(), out.begin());
  return out;
}

// The key bytes, comparable (FernetKey has no equality).
std::string key_hex(const FernetKey& k) { return to_hex(k.signing_key()) + to_hex(k.encryption_key()); }

// F(x) written out by hand, not by FieldWriter: 4-byte big-endian length, then the bytes.
std::string field_hex(ByteView b) {
  const auto n = static_cast<std::uint32_t>(b.size());
  const std::uint8_t len[4] = {static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
                               static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)};
  return to_hex(ByteView(len, 4)) + to_hex(b);
}
std::string field_hex(std::string_view s) { return field_hex(as_bytes(s)); }

TEST(KeySchedule, PurposeLabelsAreTheSpecWords) {
  EXPECT_EQ(purpose_label(KeyPurpose::request_head), "request head");
  EXPECT_EQ(purpose_label(KeyPurpose::request_body), "request body");
  EXPECT_EQ(purpose_label(KeyPurpose::response_head), "response head");
  EXPECT_EQ(purpose_label(KeyPurpose::response_body), "response body");
  EXPECT_EQ(purpose_label(KeyPurpose::chat_to_server), "chat to server");
  EXPECT_EQ(purpose_label(KeyPurpose::chat_to_client), "chat to client");
}

TEST(KeySchedule, InfoIsTheSpecFields) {
  const Binding b = binding(3);
  // F("minihttps/2 response body") || F(binding) || F(int 0x0102030405) || F(flag 1)
  const std::string want = field_hex("minihttps/2 response body") + field_hex(b) +
                           "00000008"
                           "0000000102030405"
                           "00000001"
                           "01";
  EXPECT_EQ(to_hex(key_info(KeyPurpose::response_body, b, 0x0102030405, true)), want);
  EXPECT_EQ(to_hex(key_info(KeyPurpose::chat_to_server, b, 0, false)), field_hex("minihttps/2 chat to server") +
                                                                           field_hex(b) +
                                                                           "00000008"
                                                                           "0000000000000000"
                                                                           "00000001"
                                                                           "00");
}

TEST(KeySchedule, DeriveIsHkdfWithoutSaltOverTheInfo) {
  const Bytes secret = test::pattern_bytes(32, 11);
  const SessionSecret s(secret);
  EXPECT_EQ(to_hex(s.bytes()), to_hex(secret));
  for (KeyPurpose p : kPurposes)
    for (std::uint32_t seed : {1u, 2u})
      for (std::uint64_t index : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{1} << 40})
        for (bool last : {false, true}) {
          const Bytes info = key_info(p, binding(seed), index, last);
          const SecretBytes okm = hkdf_sha256(secret, {}, info, 32);
          EXPECT_EQ(key_hex(s.derive(p, binding(seed), index, last)), to_hex(okm.view()))
              << purpose_label(p) << " index " << index << " last " << last;
        }
}

TEST(KeySchedule, EveryInputChangesTheKey) {
  const SessionSecret s(test::pattern_bytes(32, 12));
  const SessionSecret other(test::pattern_bytes(32, 13));
  std::set<std::string> keys;
  std::size_t made = 0;
  for (const SessionSecret* secret : {&s, &other})
    for (KeyPurpose p : kPurposes)
      for (std::uint32_t seed : {1u, 2u})
        for (std::uint64_t index : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{256}})
          for (bool last : {false, true}) {
            keys.insert(key_hex(secret->derive(p, binding(seed), index, last)));
            ++made;
          }
  EXPECT_EQ(keys.size(), made);
  // The secret itself is never one of the keys.
  EXPECT_EQ(keys.count(to_hex(s.bytes())), 0u);
}

TEST(KeySchedule, BindingsAreSha256OverTheSpecFields) {
  const Bytes keyid = test::pattern_bytes(16, 4);
  const std::string head = field_hex("minihttps/2 request head") + field_hex(keyid) +
                           "00000008"
                           "0000000065f0a1b2" +
                           field_hex("nonce-1");
  EXPECT_EQ(to_hex(head_binding(keyid, 0x65f0a1b2, "nonce-1")), to_hex(sha256(from_hex(head))));

  const Bytes signature = test::pattern_bytes(256, 5);
  const std::string base = "\"@method\": GET\n\"@signature-params\": (\"@method\")";
  const std::string req = field_hex("minihttps/2 request") + field_hex(base) + field_hex(signature);
  EXPECT_EQ(to_hex(request_binding(base, signature)), to_hex(sha256(from_hex(req))));
  // A different nonce or signature is a different binding, so keys never repeat across requests.
  EXPECT_NE(head_binding(keyid, 0x65f0a1b2, "nonce-2"), head_binding(keyid, 0x65f0a1b2, "nonce-1"));
  EXPECT_NE(request_binding(base, test::pattern_bytes(256, 6)), request_binding(base, signature));
}

}  // namespace
}  // namespace mh
