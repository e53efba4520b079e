// Regression tests for problems the fuzz targets of the web layer found (fuzz_upload_request,
// fuzz_chat_frame; fuzz/README.md). Like tests/unit/fuzz_regressions_test.cpp for the core: each
// test reproduces one finding through the public API, states the input, and names the target and
// the invariant it broke. A test here that fails means the finding is not fixed yet.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "auth/registry.hpp"
#include "core/fernet.hpp"
#include "core/hash.hpp"
#include "core/rsa.hpp"
#include "support/test_support.hpp"
#include "web/chat_hub.hpp"
#include "web/upload_service.hpp"

namespace mh::web {
namespace {

using nlohmann::json;
constexpr std::int64_t kNow = 1'700'000'000;

RsaPublicKey test_key() {
  return RsaPublicKey::from_pem(test::read_file(test::vectors_dir() / "rfc9421/test-key-rsa.pub.pem"));
}

// ---- fuzz_upload_request ---------------------------------------------------------------------------

std::shared_ptr<const auth::ClientRecord> upload_client(const FernetKey& session) {
  const RsaPublicKey key = test_key();
  auto c = std::make_shared<auth::ClientRecord>(key);
  c->name = "alice";
  c->fingerprint = key.fingerprint();
  c->session_key = session;
  c->session_expires = kNow + 3600;
  return c;
}

// PUT /uploads/NAME with `token` as the body, Content-Length and digest as the verifier leaves them.
net::Dispatch put(UploadService& svc, const std::shared_ptr<const auth::ClientRecord>& client, const std::string& name,
                  std::size_t token_length, const std::string& token) {
  net::Request req;
  req.method = "PUT";
  req.target = "/uploads/" + name;
  req.headers = {{"Content-Length", std::to_string(token_length)}};
  req.has_body = true;
  VerifiedRequest v;
  v.client = client;
  const Sha512Digest d = sha512(as_bytes(token));
  v.content_digest = Bytes(d.begin(), d.end());
  return svc.handle(req, v);
}

// fuzz_upload_request: "a PUT within the size limit and the quota is taken" (PROTOCOL.md §10: the
// server refuses at once a token that *could carry* more than --max-upload-size bytes). The bound
// the service derived from Content-Length counted the token's base64 padding characters and its
// mandatory last padding byte as plaintext, up to 3 bytes more than a token of that length can
// carry; across a 16-byte block boundary that refused files just under the limit. With the limit
// at 256 bytes, a 240-byte file (a 420-character token, which can carry at most 255 bytes) was
// refused with 413 "larger than the server's limit of 256 bytes"; with the default 1 GiB, every
// file of 2^30 - 16 to 2^30 - 1 bytes was. The quota reservation overcounted the same way.
// (fuzz/regressions/fuzz_upload_request/put_240_bytes_limit_256)
TEST(FuzzRegressionsWeb, UploadJustUnderTheSizeLimitIsTaken) {
  test::TempDir dir;
  const FixedClock clock(kNow);
  const FernetKey session = FernetKey::generate();
  const auto client = upload_client(session);
  UploadOptions o;
  o.dir = dir / "uploads";
  o.max_upload_size = 256;
  UploadService svc(o, clock);

  const std::string plain(240, 'x');
  const std::string token = fernet_encrypt(session, as_bytes(plain), kNow);
  ASSERT_EQ(token.size(), 420u);
  net::Dispatch d;
  ASSERT_NO_THROW(d = put(svc, client, "f", token.size(), token));
  auto* stream = std::get_if<net::StreamBody>(&d);
  ASSERT_NE(stream, nullptr);
  EXPECT_EQ(stream->max_bytes, 420u);
  stream->sink->write(token);
  const net::Response r = stream->sink->finish();
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = json::parse(r.body);
  EXPECT_EQ(j["size"], 240);
  EXPECT_EQ(j["name"], "f");

  // Since issue 12 the limit is exact (PROTOCOL.md §10): a token longer than the token of a file of
  // exactly the limit is refused at once; one of that length (it could carry 271 bytes) is taken,
  // and its plaintext is held to 256 bytes as it is decrypted (UploadSizeLimit.* in
  // upload_service_test.cpp). 272 bytes need a longer token.
  try {
    put(svc, client, "g", fernet_token_length(272), "");
    ADD_FAILURE() << "a token of 18 blocks was taken with a limit of 256";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::payload_too_large) << e.what();
    EXPECT_STREQ(e.what(), "upload: larger than the server's limit of 256 bytes");
  }
  EXPECT_TRUE(std::holds_alternative<net::StreamBody>(put(svc, client, "g", fernet_token_length(256), "")));

  // The default limit, 1 GiB: the last block below it is taken (refused before the fix), and so
  // is a file of exactly 1 GiB (refused before issue 12).
  UploadOptions big;
  big.dir = dir / "uploads-big";
  UploadService svc_big(big, clock);
  for (const std::uint64_t n : {(1ull << 30) - 16, (1ull << 30) - 1, 1ull << 30}) {
    net::Dispatch at_once;
    ASSERT_NO_THROW(at_once = put(svc_big, client, "big", fernet_token_length(n), "")) << n << " bytes";
    EXPECT_TRUE(std::holds_alternative<net::StreamBody>(at_once)) << n << " bytes";
  }
  EXPECT_THROW(put(svc_big, client, "big", fernet_token_length((1ull << 30) + 16), ""), Error);
}

// ---- fuzz_chat_frame -------------------------------------------------------------------------------

class RecordingPeer final : public net::WebSocketPeer {
 public:
  void send(std::string text) override { frames.push_back(std::move(text)); }
  void close(int c, std::string r) override {
    closed = true;
    code = c;
    reason = std::move(r);
  }
  std::vector<std::string> frames;
  bool closed = false;
  int code = 0;
  std::string reason;
};

// fuzz_chat_frame: "nothing escapes on_message" and "anything else gets exactly one error and the
// connection stays open" (PROTOCOL.md §9.2, step 6). The hub quotes the "to" of a msg to nobody
// (cut to 64 bytes) and an unknown "type" (cut to 32 bytes) in its error reason, cutting by bytes:
// when the cut fell inside a UTF-8 character, the reason was invalid UTF-8 and nlohmann::json's
// dump() threw type_error 316 out of ChatHub::on_message. The WebSocket session then closed the
// sender with 1011 "internal error" instead of answering {"type":"error"}: any client could make
// the server fail on its own connection with one frame.
// (fuzz/regressions/fuzz_chat_frame/msg_to_cut_inside_utf8, unknown_type_cut_inside_utf8)
TEST(FuzzRegressionsWeb, ChatErrorQuotingANameCutsItAtACharacter) {
  auto registry = auth::make_in_memory_registry(4);
  const FixedClock clock(kNow);
  const FernetKey session = FernetKey::generate();
  const RsaPublicKey key = test_key();
  const auto alice = registry->register_session(
      auth::Registration{"alice", key, key.fingerprint(), std::nullopt, "127.0.0.1", kNow},
      [&](const Uuid&) { return auth::SessionGrant{session, kNow + 3600}; });
  ChatHub hub(*registry, clock);
  auto peer = std::make_shared<RecordingPeer>();
  auto handler = hub.connect(alice, "lobby");
  handler->on_open(peer);
  peer->frames.clear();

  const std::string e_acute = "\xc3\xa9";  // U+00E9, two bytes
  const std::string to = std::string(63, 'n') + e_acute;          // byte 64 is the middle of the é
  const std::string type = std::string(31, 't') + e_acute + "x";  // byte 32 likewise
  for (const json& frame : {json{{"type", "msg"}, {"to", to}, {"text", "hi"}}, json{{"type", type}}}) {
    const std::string token = fernet_encrypt(session, as_bytes(frame.dump()), kNow);
    ASSERT_NO_THROW(handler->on_message(token)) << frame.dump();
  }
  EXPECT_FALSE(peer->closed) << peer->code << " " << peer->reason;
  ASSERT_EQ(peer->frames.size(), 2u);
  std::vector<std::string> reasons;
  for (const auto& f : peer->frames) {
    const json j = json::parse(as_chars(fernet_decrypt(session, f, kNow, 60)));
    EXPECT_EQ(j["type"], "error");
    reasons.push_back(j["reason"].get<std::string>());
  }
  EXPECT_EQ(reasons[0], "msg: " + std::string(63, 'n') + " is not in the chat");
  EXPECT_EQ(reasons[1], "unknown message type \"" + std::string(31, 't') + "\"");
  handler->on_close();
}

}  // namespace
}  // namespace mh::web
