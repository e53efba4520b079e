// Writes the seed corpora under fuzz/corpus/<target>/ from tests/vectors and a few hand-made
// inputs. Run it again when the formats change (see fuzz/README.md):
//   cmake --build --preset fuzz --target seed_corpus && build/fuzz/bin/seed_corpus
// Output is deterministic except the handshake seeds (RSA-PSS signatures are randomized).
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "core/base64.hpp"
#include "core/bhttp.hpp"
#include "core/clock.hpp"
#include "core/ed25519.hpp"
#include "core/fernet.hpp"
#include "core/handshake.hpp"
#include "core/key_schedule.hpp"
#include "core/pem.hpp"
#include "core/rsa.hpp"
#include "core/stream.hpp"

namespace fs = std::filesystem;
using namespace mh;

namespace {

fs::path g_source = MH_SOURCE_DIR;

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

nlohmann::json vector_json(const std::string& rel) {
  return nlohmann::json::parse(slurp(g_source / "tests/vectors" / rel));
}

void put(const std::string& target, const std::string& name, std::string_view data) {
  const fs::path dir = g_source / "fuzz/corpus" / target;
  fs::create_directories(dir);
  std::ofstream f(dir / name, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!f) throw std::runtime_error("cannot write " + (dir / name).string());
}

// A string literal with its embedded NULs.
template <std::size_t N>
std::string_view lit(const char (&s)[N]) {
  return {s, N - 1};
}

// fuzz_handshake_hello: first byte 0 envelope, 1 hello identity, 2 reply identity, 3 a whole
// hello for the server, 4 a hello identity the target seals itself (see the target).
void handshake_seeds() {
  const std::string t = "fuzz_handshake_hello";
  const auto key = RsaPrivateKey::from_pem(slurp(g_source / "tests/vectors/rfc9421/test-key-rsa-pss.priv.pem"));
  const FixedClock clock(1700000000);
  std::array<std::uint8_t, 32> secret{};
  for (std::size_t i = 0; i < secret.size(); ++i) secret[i] = static_cast<std::uint8_t>(0x40 + i);
  handshake::Nonce nonce{};
  for (std::size_t i = 0; i < nonce.size(); ++i) nonce[i] = static_cast<std::uint8_t>(i);
  // The target's fixed server keys.
  const auto identity = Ed25519KeyPair::from_seed(Bytes(32, 0x11));
  const auto static_key = X25519KeyPair::from_secret(Bytes(32, 0x22));
  const handshake::ServerKeys server{identity.public_key(), static_key.public_key};

  auto client = handshake::ClientHandshake::create(
      key, "alice", std::nullopt, server, clock,
      handshake::ClientRandom{.ephemeral = X25519KeyPair::from_secret(secret), .nonce = nonce, .iv = FernetIv{}});
  put(t, "envelope_hello", "\x00" + client.hello_json());
  put(t, "hello_valid", "\x03" + client.hello_json());
  const std::string identity_json = handshake::to_json(client.identity());
  put(t, "identity_valid", "\x01" + identity_json);
  put(t, "identity_sealed_by_target", "\x04" + identity_json);
  const Uuid uuid = *Uuid::parse("0b5bd2a4-4f5e-4a4e-9c1e-1f0e2d3c4b5a");
  auto again = handshake::ClientHandshake::create(
      key, "bob.b_2-x", uuid, server, clock,
      handshake::ClientRandom{.ephemeral = X25519KeyPair::from_secret(secret), .nonce = nonce, .iv = FernetIv{}});
  put(t, "identity_reconnect", "\x04" + handshake::to_json(again.identity()));
  handshake::ReplyIdentity r;
  r.uuid = uuid;
  r.expires = 1700003600;
  r.chunk_size = 262144;
  put(t, "reply_identity", "\x02" + handshake::to_json(r));
  put(t, "hello_version_1", std::string("\x03") + R"({"version":1,"name":"alice"})");
  put(t, "not_an_object", "\x01[1, \"version\", {\"a\": 1.5e300}, null, true, \"\\u00e9\\ud83d\\ude00\"]");
}

void sfv_and_signature_fields() {
  // fuzz_sfv: first byte '0' = List, '1' = Dictionary, '2' = Item.
  const std::string s = "fuzz_sfv", h = "fuzz_signature_fields";
  const nlohmann::json ex = vector_json("rfc9421/examples.json");
  for (const char* id : {"sig-b22", "sig-b25", "sig-b26"}) {
    const auto& e = ex.at(id);
    std::string name = std::string("dict_") + id + "_input";
    std::replace(name.begin(), name.end(), '-', '_');
    put(s, name, "1" + e.at("signature_input").get<std::string>());
  }
  put(s, "dict_sig_b21_signature", "1" + ex.at("sig-b21").at("signature").get<std::string>());
  put(s, "dict_example", "1 a=1, b=2;x=1;y=2, c=(a   b    c), d, e=?0;f, g=:AQID:, h=\"q\\\"s\\\\\", i=-12.5");
  put(s, "list_mixed", "0sugar, tea;q=0.5, (\"a\" 1 -2.125 ?1 :YWJj: *tok/x:y);lvl=5, rum");
  put(s, "list_cache_status", "0ExampleCache; hit, Other; fwd=uri-miss; collapsed");
  put(s, "item_decimal_params", "2-999999999999.999;a;b=?0;c=\"\";d=tok;e=::;f=999999999999999");

  for (const auto& [id, e] : ex.items()) {
    std::string name = id.substr(0, id.find(' '));
    std::replace(name.begin(), name.end(), '-', '_');
    put(h, name + "_input", e.at("signature_input").get<std::string>());
    put(h, name + "_signature", e.at("signature").get<std::string>());
  }
  put(h, "input_two_labels_req",
      "sig1=(\"@status\" \"content-digest\";req \"@authority\";req \"@query-param\";name=\"a\";req);created=1;"
      "keyid=\"k\", sig2=(\"example-dict\";key=\"a\" \"example-dict\";sf \"x-obs\";bs \"cache-status\";sf "
      "\"@target-uri\" \"@request-target\" \"@scheme\" \"@method\" \"@path\" \"@query\" \"x-empty-header\")"
      ";expires=9;nonce=\"n\";alg=\"rsa-pss-sha512\";tag=\"t\";unknown=?0");
  // RFC 9530 sample values, as the Content-Digest field would carry them.
  const std::string samples = slurp(g_source / "tests/vectors/rfc9421/content-digest-samples.txt");
  std::istringstream lines(samples);
  std::string line, all;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string alg, value;
    words >> alg >> value;
    if (!all.empty()) all += ", ";
    all += alg + "=" + value;
  }
  put(h, "content_digest_samples", all);
  put(s, "dict_content_digest_samples", "1" + all);
}

void fernet() {
  const std::string t = "fuzz_fernet";
  int n = 0;
  for (const char* file : {"fernet/generate.json", "fernet/verify.json", "fernet/invalid.json"}) {
    for (const auto& v : vector_json(file)) {
      std::string name = std::string(file).substr(7, std::string(file).find('.') - 7) + "_" + std::to_string(n++);
      if (v.contains("desc")) {
        name += "_" + v.at("desc").get<std::string>();
        for (char& c : name)
          if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      put(t, name, v.at("token").get<std::string>());
    }
  }
  put(t, "key_text", "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=");
  put(t, "plaintext_binary", lit("\x00\x01\x02\xff hello\n"));
}

void base64() {
  const std::string t = "fuzz_base64";
  put(t, "rfc4648_foobar", "Zm9vYmFy");
  put(t, "padded_two", "Zm8=");
  put(t, "padded_one_url", "-_-_Zg==");
  put(t, "unpadded_url", "3q2-7w");
  put(t, "standard_symbols", "+/+/AAEC");
  put(t, "noncanonical_bits", "Zh==");
  put(t, "pad_in_middle", "Zg==Zm8=");
  put(t, "binary_bytes", lit("\x00\xff\x80=\n"));
}

void path() {
  // Traversal attempts from tests/unit/path_test.cpp, and valid forms.
  const std::string t = "fuzz_path";
  put(t, "valid_nested", "/docs/a%20b.txt");
  put(t, "valid_utf8", "/caf%C3%A9/\xe6\x97\xa5\xe6\x9c\xac.txt/%F0%9F%98%80/");
  put(t, "valid_slashes", "//a///b//~user/+x=y&z/a..b/c.d.");
  put(t, "dotdot_encoded", "/a/%2e%2E/.%2e/../etc/passwd");
  put(t, "encoded_separators", "/..%2f/%5c..%5C/a\\b");
  put(t, "double_encoding", "/%252e%252e/etc/100%25");
  put(t, "nul_and_controls", lit("/a%00.txt/a\0b/%0D%0AX: y/%7f"));
  put(t, "overlong_utf8", "/%c0%ae%c0%ae/%e0%80%ae/%f0%80%80%ae/%ed%a0%80/%f4%90%80%80");
  put(t, "hidden", "/.git/config/%2Eenv/.%2e./a/.b");
  put(t, "bad_percent", "/%zz/%2g/a%2/%");
  std::string many;
  for (int i = 0; i < 33; ++i) many += "/s";
  put(t, "many_segments", many);
}

// Bytes first, first + 1, ... (the fuzz targets' fixed secrets and bindings).
template <std::size_t N>
std::array<std::uint8_t, N> bytes_from(std::uint8_t first) {
  std::array<std::uint8_t, N> b{};
  for (std::size_t i = 0; i < N; ++i) b[i] = static_cast<std::uint8_t>(first + i);
  return b;
}

void uploads() {
  // fuzz_upload_request: requests separated by "\n##\n"; see the target for the pseudo-headers.
  // The session's chunk size is 4096, the limit 9000 bytes, the quota 20000.
  const std::string t = "fuzz_upload_request";
  put(t, "put_commit_get",
      "PUT /.uploads/notes.txt\nX-Fuzz-Stream\n\nhello, world\n"
      "##\nPOST /.uploads/notes.txt?commit={id}\n##\nGET /.uploads/notes.txt\n##\nGET /.uploads/\n"
      "##\nDELETE /.uploads/notes.txt\n##\nHEAD /.uploads\n");
  put(t, "put_discard_retry",
      std::string(lit("PUT /.uploads/caf%C3%A9.bin\r\nX-Fuzz-Stream\r\n\r\n\x01\x02\x03\x00\xff")) +
          "\n##\nDELETE /.uploads/caf%C3%A9.bin?attempt={id}\n##\nPOST /.uploads/caf%C3%A9.bin?commit={id}\n"
          "##\nPUT /.uploads/caf%C3%A9.bin\nX-Fuzz-Stream: 5000\n\nsecond try \n##\nPOST /.uploads/other?commit={id}\n"
          "##\nPOST /.uploads/caf%C3%A9.bin?commit={id}\n##\nGET /.uploads/caf%C3%A9.bin\nIf-None-Match: *\n");
  // A raw stream of two chunks (4096 + 20 bytes) under the target's session secret (bytes
  // 0xa0..0xbf) and the binding of request 0 (bytes 0x60..0x7f, the last one 0), fixed IVs; and
  // the same chunks in the wrong order.
  const SessionSecret secret(bytes_from<32>(0xa0));
  auto binding = bytes_from<32>(0x60);
  binding[31] = 0;
  std::string plain;
  for (int i = 0; i < 4096 + 20; ++i) plain += static_cast<char>('a' + i % 26);
  std::string chunks[2];
  for (std::uint64_t i = 0; i < 2; ++i) {
    FernetIv iv{};
    iv.fill(static_cast<std::uint8_t>(0x21 + i));
    chunks[i] = fernet_encrypt(secret.derive(KeyPurpose::request_body, binding, i, i == 1),
                               as_bytes(std::string_view(plain).substr(i * 4096, i == 0 ? 4096 : 20)), 1700000000, iv);
  }
  const std::string raw = chunks[0] + chunks[1];
  put(t, "put_raw_stream",
      "PUT /.uploads/raw.txt\nContent-Length: " + std::to_string(raw.size()) + "\n\n" + raw +
          "\n##\nPOST /.uploads/raw.txt?commit={id}\n##\nGET /.uploads/raw.txt\nRange: bytes=4096-\n");
  put(t, "put_raw_reordered", "PUT /.uploads/raw.txt\n\n" + chunks[1] + chunks[0]);
  put(t, "put_raw_cut", "PUT /.uploads/raw.txt\nContent-Length: " + std::to_string(raw.size()) + "\n\n" + chunks[0]);
  put(t, "put_at_size_limit",
      "PUT /.uploads/big\nX-Fuzz-Stream: 9000\n\nx\n##\nPUT /.uploads/over\nX-Fuzz-Stream: 9001\n\ny\n##\nGET "
      "/.uploads/\n");
  put(t, "put_chunks_ranges",
      "PUT /.uploads/r\nX-Fuzz-Stream: 8193\n\n0123456789abcdef\n##\nPOST /.uploads/r?commit={id}\n"
      "##\nGET /.uploads/r\nRange: bytes=4095-4096\n##\nGET /.uploads/r\nRange: bytes=-1\nIf-Range: *\n"
      "##\nGET /.uploads/r\nRange: bytes=9000-\n##\nHEAD /.uploads/r\nRange: bytes=0-0\n"
      "##\nGET /.uploads/r\nIf-None-Match: *\nRange: bytes=0-0\n##\nGET /.uploads/r\n");
  std::string quota;
  for (int i = 0; i < 3; ++i)
    quota += "PUT /.uploads/q" + std::to_string(i) + "\nX-Fuzz-Stream: 6000\n\nq\n##\nPOST /.uploads/q" +
             std::to_string(i) + "?commit={id}\n##\n";
  put(t, "quota", quota + "PUT /.uploads/q3\nX-Fuzz-Stream: 3000\n\nq\n##\nDELETE /.uploads/q0\n");
  put(t, "put_refusals",
      "PUT /.uploads/a\nX-Fuzz-No-Length\n\nx\n##\nPUT /.uploads/a\nTransfer-Encoding: chunked\n\nx\n"
      "##\nPUT /.uploads/a\nContent-Length: 99999999999999999999999\n\nx\n##\nPUT /.uploads/a\nContent-Length: "
      "1x\n\nx\n"
      "##\nPUT /.uploads/a\nContent-Length: 101\n\nx\n##\nPUT /.uploads/a\nContent-Length: 0\n\n"
      "##\nPUT /.uploads/a\nContent-Length: 200\n\ngAAAAABl\n");
  put(t, "put_sealed_otherwise",
      "PUT /.uploads/a\nX-Fuzz-Stream\nX-Fuzz-Seal: binding\n\nx\n##\nPUT /.uploads/a\nX-Fuzz-Stream: "
      "5000\nX-Fuzz-Seal: purpose\n\nx\n"
      "##\nPUT /.uploads/a\nX-Fuzz-Stream\nX-Fuzz-Seal: session\n\nx\n##\nPUT /.uploads/a\nX-Fuzz-Stream\n\nright\n");
  put(t, "nested_names",
      "PUT /.uploads/d/e/f.txt\nX-Fuzz-Stream\n\nnested\n##\nPOST /.uploads/d/e/f.txt?commit={id}\n##\nGET /.uploads/\n"
      "##\nGET /.uploads/d/?list\n##\nPUT /.uploads/d\nX-Fuzz-Stream\n\nx\n##\nPUT "
      "/.uploads/d/e/f.txt/g\nX-Fuzz-Stream\n\nx\n"
      "##\nPUT /.uploads/d/index.html\nX-Fuzz-Stream\n\n<p>\n##\nPOST /.uploads/d/index.html?commit={id}\n##\nGET "
      "/.uploads/d\n"
      "##\nDELETE /.uploads/d/e\n##\nDELETE /.uploads/d/e/f.txt\n##\nGET /.uploads/d/\n##\nDELETE "
      "/.uploads/d/index.html\n"
      "##\nGET /.uploads/\n");
  put(t, "paths_and_methods",
      "GET /.uploads/a/b\n##\nPUT /.uploads/%2e%2e\n##\nPUT /.uploads/\n##\nPATCH /.uploads/x\n##\nPOST /.uploads/x\n"
      "##\nPOST /.uploads/x?commit=\n##\nDELETE /.uploads/x?attempt=0123456789abcdef0123456789abcdef\n"
      "##\nPOST /.uploads/x?commit=abc\n\na body\n");
}

void chat_frames() {
  // fuzz_chat_frame: first byte '0' = raw frames, '1' = messages the target numbers ("seq") and
  // seals as alice's next frame, '2' = plaintexts it seals as they are; one a line.
  const std::string t = "fuzz_chat_frame";
  put(t, "say_hello", "1{\"type\":\"say\",\"text\":\"hello\"}");
  put(t, "session",
      "1{\"type\":\"who\"}\n{\"type\":\"rooms\"}\n{\"type\":\"join\",\"room\":\"den\"}\n"
      "{\"type\":\"say\",\"text\":\"h\xc3\xa9llo "
      "\xf0\x9f\x98\x80\"}\n{\"type\":\"msg\",\"to\":\"bob\",\"text\":\"psst\"}\n"
      "{\"type\":\"join\",\"room\":\"new-room_1\"}\n{\"type\":\"rooms\"}\n{\"type\":\"join\",\"room\":\"lobby\"}\n"
      "{\"type\":\"quit\"}\n{\"type\":\"say\",\"text\":\"after quit\"}");
  put(t, "refusals",
      "1{\"type\":\"say\",\"text\":\"\"}\n{\"type\":\"say\",\"text\":\"a\\u0007b\"}\n{\"type\":\"say\",\"text\":\"x\","
      "\"to\":1}\n"
      "{\"type\":\"msg\",\"to\":\"nobody\",\"text\":\"x\"}\n{\"type\":\"msg\",\"to\":[\"bob\"],\"text\":\"x\"}\n"
      "{\"type\":\"join\",\"room\":\".hidden\"}\n{\"type\":\"join\",\"room\":\"lobby\"}\n{\"type\":\"who\",\"room\":"
      "\"x\"}\n"
      "{\"type\":\"ping\"}\n{\"type\":7}\n{\"text\":\"no type\"}\n{}\n[1,2]\nnot json");
  put(t, "msg_long_name",
      "1{\"type\":\"msg\",\"to\":\"" + std::string(70, 'n') + "\",\"text\":\"a name longer than any name\"}");
  put(t, "msg_utf8_name", "1{\"type\":\"msg\",\"to\":\"zo\xc3\xab\",\"text\":\"hi\"}\n{\"type\":\"z\xc3\xabug\"}");
  std::string long_utf8;
  for (int i = 0; i < 40; ++i) long_utf8 += "\xc3\xbc";
  put(t, "msg_long_utf8_name",
      "1{\"type\":\"msg\",\"to\":\"" + long_utf8 + "\",\"text\":\"hi\"}\n{\"type\":\"" + long_utf8 + "\"}");
  put(t, "text_at_limit", "1{\"type\":\"say\",\"text\":\"" + std::string(4096, 't') + "\"}");
  // Keys out of sequence, in mode 1: a frame under the key of frame 1 first; a replayed key.
  put(t, "key_ahead", "1@1 {\"type\":\"who\"}");
  put(t, "key_replayed", "1{\"type\":\"who\"}\n@0 {\"type\":\"who\"}");
  // Mode 2: the input's own "seq".
  put(t, "seq_explicit",
      "2{\"seq\":0,\"type\":\"who\"}\n{\"type\":\"rooms\",\"seq\":1}\n{\"seq\":2,\"seq\":2,\"type\":\"who\"}\n"
      "{\"seq\":2,\"type\":\"who\"}");
  put(t, "seq_not_an_integer", "2{\"seq\":0.0,\"type\":\"who\"}");
  put(t, "seq_string", "2{\"seq\":\"0\",\"type\":\"who\"}");
  put(t, "seq_negative_zero", "2{\"seq\":-0,\"type\":\"who\"}");
  put(t, "seq_missing", "2{\"type\":\"who\"}");

  // Raw frames under the target's keys for alice (secret bytes 0x30..0x4f, binding 0x90..0xaf):
  // frame n is K("chat to server", B, n, 0), fixed IVs, the target's time unless said otherwise.
  const SessionSecret alice(bytes_from<32>(0x30));
  const Binding alice_binding = bytes_from<32>(0x90), bob_binding = bytes_from<32>(0xb0);
  std::uint8_t iv_byte = 0;
  const auto frame = [&](std::uint64_t n, std::string_view json, std::int64_t at = 1700000000,
                         KeyPurpose purpose = KeyPurpose::chat_to_server, const Binding* b = nullptr) {
    FernetIv iv{};
    iv.fill(++iv_byte);
    return fernet_encrypt(alice.derive(purpose, b ? *b : alice_binding, n, false), as_bytes(json), at, iv);
  };
  const std::string say = frame(0, "{\"seq\":0,\"type\":\"say\",\"text\":\"hello\"}");
  put(t, "token_say", "0" + say);
  put(t, "token_replayed", "0" + say + "\n" + say);
  put(t, "token_sequence",
      "0" + frame(0, "{\"seq\":0,\"type\":\"who\"}") + "\n" +
          frame(1, "{\"seq\":1,\"type\":\"join\",\"room\":\"den\"}") + "\n" +
          frame(2, "{\"seq\":2,\"type\":\"msg\",\"to\":\"bob\",\"text\":\"x\"}") + "\n" +
          frame(3, "{\"seq\":3,\"type\":\"quit\"}") + "\n" + frame(4, "{\"seq\":4,\"type\":\"who\"}"));
  put(t, "token_dropped", "0" + say + "\n" + frame(2, "{\"seq\":2,\"type\":\"who\"}"));
  put(t, "token_reordered",
      "0" + frame(1, "{\"seq\":1,\"type\":\"who\"}") + "\n" + frame(0, "{\"seq\":0,\"type\":\"who\"}"));
  put(t, "token_other_binding",
      "0" + frame(0, "{\"seq\":0,\"type\":\"who\"}", 1700000000, KeyPurpose::chat_to_server, &bob_binding));
  put(t, "token_to_client", "0" + frame(0, "{\"seq\":0,\"type\":\"who\"}", 1700000000, KeyPurpose::chat_to_client));
  put(t, "token_seq_mismatch", "0" + frame(0, "{\"seq\":1,\"type\":\"who\"}"));
  put(t, "token_old", "0" + frame(0, "{\"seq\":0,\"type\":\"who\"}", 1700000000 - 86400));  // no age check
  put(t, "token_future", "0" + frame(0, "{\"seq\":0,\"type\":\"who\"}", 1700000000 + 86400));
  put(t, "token_not_json", "0" + frame(0, "\xff not json"));
  put(t, "not_tokens", "0not a token\ngAAAAA\n\n" + say.substr(0, say.size() - 4));
}

void streams() {
  // fuzz_stream: request body streams (chunk size 4096) under the target's session secret (bytes
  // 0xc0..0xdf) and binding (bytes 0x60..0x7f), one token a chunk with a fixed IV so the output is
  // the same every time; and a plaintext that is no stream (the target writes it as one).
  const std::string t = "fuzz_stream";
  Bytes secret(32);
  for (std::size_t i = 0; i < secret.size(); ++i) secret[i] = static_cast<std::uint8_t>(0xc0 + i);
  Binding binding{};
  for (std::size_t i = 0; i < binding.size(); ++i) binding[i] = static_cast<std::uint8_t>(0x60 + i);
  const auto stream_of = [&](std::uint64_t size) {
    const stream::Layout layout = stream::Layout::whole(size, stream::kMinChunkSize);
    const stream::ChunkKeys keys(SessionSecret(secret), KeyPurpose::request_body, binding, layout.last_chunk());
    std::string out;
    for (std::uint64_t i = 0; i <= layout.last_chunk(); ++i) {
      std::string chunk;
      for (std::uint64_t k = 0; k < layout.plaintext_size(i); ++k) chunk += static_cast<char>('a' + (i * 7 + k) % 26);
      FernetIv iv{};
      iv.fill(static_cast<std::uint8_t>(0x10 + i));
      out += fernet_encrypt(keys.key(i), as_bytes(chunk), 1700000000, iv);
    }
    return out;
  };
  put(t, "two_chunks", stream_of(stream::kMinChunkSize + 50));
  put(t, "empty", stream_of(0));
  put(t, "small", stream_of(13));
  put(t, "one_full_chunk", stream_of(stream::kMinChunkSize));
  put(t, "three_chunks_final_byte", stream_of(2 * stream::kMinChunkSize + 1));
  put(t, "plaintext", "hello, stream");
}

void keys_ids() {
  // fuzz_keys_ids: first byte '0' = SPKI DER, '1' = PEM text, '2' = UUID / hex text.
  const std::string t = "fuzz_keys_ids";
  const fs::path v = g_source / "tests/vectors/rfc9421";
  const std::string rsa_pem = slurp(v / "test-key-rsa.pub.pem");  // PKCS#1 "RSA PUBLIC KEY"
  put(t, "spki_rsa", "0" + std::string(as_chars(RsaPublicKey::from_pem(rsa_pem).spki_der())));
  // The RFC's RSA-PSS private key gives an id-RSASSA-PSS public key without parameters.
  const auto pss = RsaPrivateKey::from_pem(slurp(v / "test-key-rsa-pss.priv.pem"));
  put(t, "spki_rsa_pss_oid", "0" + std::string(as_chars(pss.public_key().spki_der())));
  put(t, "spki_ed25519", "0" + std::string(as_chars(pem_decode(slurp(v / "test-key-ed25519.pub.pem"), "PUBLIC KEY"))));
  put(t, "pem_rsa_pkcs1", "1" + rsa_pem);
  put(t, "pem_rsa_spki", "1" + slurp(v / "test-key-rsa-pss.pub.pem"));
  put(t, "pem_ed25519", "1" + slurp(v / "test-key-ed25519.pub.pem"));
  put(t, "pem_ecc_p256", "1" + slurp(v / "test-key-ecc-p256.pub.pem"));
  put(t, "uuid_upper", "20B5BD2A4-4F5E-4A4E-9C1E-1F0E2D3C4B5A");
  put(t, "hex", "2deadBEEF0123456789");
  // corpus/fuzz_keys_ids/spki_rsa2048_openssl ("0" + `openssl genpkey -algorithm RSA -pkeyopt
  // rsa_keygen_bits:2048 | openssl pkey -pubout -outform DER`) was added by hand and is kept.
}

void bhttp_heads() {
  // fuzz_bhttp: first byte '0' = request head, '1' = response head; the rest is the head itself.
  const std::string t = "fuzz_bhttp";
  const auto req = [](const bhttp::Request& r, std::size_t pad = 0) {
    return "0" + std::string(as_chars(bhttp::encode(r, pad)));
  };
  const auto resp = [](const bhttp::Response& r, std::size_t pad = 0) {
    return "1" + std::string(as_chars(bhttp::encode(r, pad)));
  };
  // RFC 9292 §5.1: its example request, whose known-length encoding this is (tests/unit/bhttp_test.cpp).
  put(t, "req_rfc9292_example",
      req({"GET",
           "https",
           "",
           "/hello.txt",
           {{"user-agent", "curl/7.16.3 libcurl/7.16.3 OpenSSL/0.9.7l zlib/1.2.3"},
            {"host", "www.example.com"},
            {"accept-language", "en, mi"}}}));
  put(t, "req_range_padded",
      req({"GET", "https", "127.0.0.1:8443", "/docs/a.txt", {{"range", "bytes=0-99,-5"}, {"if-range", "\"e\""}}}, 128));
  put(t, "req_put_upload", req({"PUT", "http", "", "/uploads/notes.txt", {}}));
  put(t, "req_list_query", req({"GET", "https", "h", "/docs/?list", {{"if-none-match", "*"}, {"x_y.z-0", ""}}}));
  put(t, "resp_206",
      resp({206,
            {{"content-type", "text/plain"},
             {"content-length", "262144"},
             {"content-range", "bytes 0-262143/1000000"},
             {"etag", "\"q1Qh3hQ5m9S0Vx2tZk8y4w\""},
             {"minihttps-chunk-size", "262144"},
             {"minihttps-first-chunk", "0"},
             {"minihttps-last-chunk", "0"}}}));
  put(t, "resp_404_padded", resp({404, {{"content-type", "application/json"}, {"content-length", "42"}}}, 256));
  put(t, "resp_304", resp({304, {{"content-length", "0"}, {"etag", "\"e\""}}}));
  // Refused ones, each one step from valid: an informational status, the indeterminate-length
  // framing, a trailer, non-zero padding; and one in non-shortest varints (accepted).
  put(t, "resp_informational_103", lit("1\x01\x40\x67\x00\x00\x00"));
  put(t, "req_indeterminate", lit("0\x02\x03GET\x05https\x00\x01/\x00\x00\x00"));
  put(t, "req_trailer", lit("0\x00\x03GET\x05https\x00\x01/\x00\x00\x04\x01t\x01v"));
  put(t, "req_padding_not_zero", lit("0\x00\x03GET\x05https\x00\x01/\x00\x00\x00\x00\x00\x01"));
  put(t, "req_nonshortest",
      lit("0\x40\x00\x80\x00\x00\x03GET\x40\x04http\x00\x01/\x40\x04\x01"
          "a\x01"
          "b\x00\x00"));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) g_source = argv[1];
  try {
    handshake_seeds();
    sfv_and_signature_fields();
    fernet();
    base64();
    path();
    keys_ids();
    uploads();
    chat_frames();
    bhttp_heads();
    streams();
  } catch (const std::exception& e) {
    std::cerr << "seed_corpus: " << e.what() << "\n";
    return 1;
  }
  std::cout << "seed_corpus: wrote " << (g_source / "fuzz/corpus").string() << "\n";
  return 0;
}
