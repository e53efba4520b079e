// What a passive observer sees (docs/PROTOCOL.md §12): a recording proxy between the real CLI and
// the real server keeps every byte of a whole session, both ways — connect, get, ls, put, chat,
// whoami, logout — and none of the names, paths, queries, listing entries, contents, chat room
// and texts, nor the client's name, UUID or RSA public key, appears in it in any form a reader
// could pick out (raw, and for the key DER, base64 and base64url, any 32-byte window).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <regex>

#include "core/base64.hpp"
#include "support/interactive_process.hpp"
#include "support/server_process.hpp"
#include "support/signed_client.hpp"
#include "support/tamper_proxy.hpp"

namespace mh::test {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto kWait = 15s;
const std::string kName = "quietperson-2981";
const std::string kDir = "hidden-dir-0815";
const std::string kFile = "secret-plans-4711.txt";
const std::string kFileText = "RENDEZVOUS-AT-NOON-6502\n";
const std::string kSecondEntry = "second-entry-9031.md";
const std::string kUpload = "dossier-upload-5150.txt";
const std::string kUploadText = "UPLOADED-CONTENT-7734: the dossier\n";
const std::string kRoom = "room-omega-9977";
const std::string kSaid = "meet me by the fountain 3366";
const std::string kReply = "the fountain is watched 8128";

// The payloads of the WebSocket frames in `bytes` (a client's frames are masked: unmasked here,
// so that a text sent in clear would be found).
std::string frame_payloads(std::string_view bytes) {
  std::string out;
  while (bytes.size() >= 2) {
    const auto b1 = static_cast<unsigned char>(bytes[1]);
    std::size_t at = 2;
    std::uint64_t n = b1 & 0x7f;
    const std::size_t extra = n == 126 ? 2 : n == 127 ? 8 : 0;
    if (bytes.size() < at + extra) break;
    if (extra) {
      n = 0;
      for (std::size_t i = 0; i < extra; ++i) n = n << 8 | static_cast<unsigned char>(bytes[at + i]);
      at += extra;
    }
    const bool masked = (b1 & 0x80) != 0;
    const std::string_view mask = masked ? bytes.substr(at, 4) : std::string_view();
    at += masked ? 4 : 0;
    if (bytes.size() < at + n) break;
    for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<char>(bytes[at + i] ^ (masked ? mask[i % 4] : 0)));
    bytes.remove_prefix(at + n);
  }
  return out;
}

// The offsets in `needle` of its windows of `window` bytes that occur in `haystack`.
std::vector<std::size_t> windows_found(const std::string& haystack, const std::string& needle, std::size_t window) {
  std::vector<std::size_t> found;
  for (std::size_t i = 0; i + window <= needle.size(); ++i)
    if (haystack.find(needle.substr(i, window)) != std::string::npos) found.push_back(i);
  return found;
}

std::unique_ptr<InteractiveProcess> chat(const fs::path& home) {
  return std::make_unique<InteractiveProcess>(
      std::vector<std::string>{client_binary().string(), "--home", home.string(), "chat", "--room", kRoom});
}

TEST(Capture, AWholeSessionShowsNoNameContentOrIdentity) {
  ServerProcess server(with_args({"--chunk-size", "4096"}));
  fs::create_directories(server.root() / kDir);
  write_file(server.root() / kDir / kFile, kFileText);
  write_file(server.root() / kDir / kSecondEntry, "another entry\n");
  TamperProxy proxy(server.port());
  proxy.record_all();
  TempDir home, listener_home, work;
  const auto client = [&](const std::vector<std::string>& args) {
    const auto r = run_client(home.path(), args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r;
  };

  // The session, every step through the proxy.
  client({"connect", "--server", proxy.url(), "--name", kName, "--rsa-bits", "2048", "--fingerprint",
          server.fingerprint()});
  const SignedClient identity(home.path(), proxy.url());  // the session file, read before logout
  client({"get", kDir + "/" + kFile, "-o", (work / "got.txt").string()});
  EXPECT_EQ(read_file(work / "got.txt"), kFileText);
  auto r = client({"ls", kDir});
  EXPECT_NE(r.out.find(kFile), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(kSecondEntry), std::string::npos) << r.out;
  write_file(work / kUpload, kUploadText);
  r = client({"put", (work / kUpload).string()});
  EXPECT_EQ(r.out.rfind("uploaded " + kUpload + " (", 0), 0u) << r.out;
  {
    // A listener connected straight to the server hears what is said through the proxy, and
    // answers: the chat carried both texts, each way through the proxy once.
    ASSERT_EQ(run_client(listener_home.path(),
                         {"connect", "--server", server.url(), "--name", "listener-77", "--rsa-bits", "2048"})
                  .exit_code,
              0);
    auto listener = chat(listener_home.path());
    ASSERT_TRUE(listener->wait_line(std::regex("\\* you joined " + kRoom), kWait)) << listener->err();
    auto speaker = chat(home.path());
    ASSERT_TRUE(speaker->wait_line(std::regex("\\* you joined " + kRoom), kWait)) << speaker->err();
    speaker->write_line(kSaid);
    EXPECT_TRUE(listener->wait_line(std::regex(kName + ": " + kSaid + "$"), kWait)) << listener->out();
    listener->write_line(kReply);
    EXPECT_TRUE(speaker->wait_line(std::regex("listener-77: " + kReply + "$"), kWait)) << speaker->out();
    speaker->close_stdin();
    EXPECT_EQ(speaker->wait_exit(kWait), 0) << speaker->err();
    listener->close_stdin();
    EXPECT_EQ(listener->wait_exit(kWait), 0) << listener->err();
  }
  r = client({"whoami"});
  EXPECT_NE(r.out.find(identity.uuid().to_string()), std::string::npos) << r.out;
  r = client({"logout"});
  EXPECT_EQ(r.out.rfind("logged out of ", 0), 0u) << r.out;

  // All of it, both ways; WebSocket payloads unmasked beside the raw bytes.
  std::string seen;
  std::string frames;
  bool saw_sealed = false;
  for (const auto& c : proxy.captured()) {
    seen += c.from_client + c.from_server;
    if (const auto up = c.from_client.find("Upgrade: websocket"); up != std::string::npos) {
      frames += frame_payloads(std::string_view(c.from_client).substr(c.from_client.find("\r\n\r\n", up) + 4));
      frames += frame_payloads(std::string_view(c.from_server).substr(c.from_server.find("\r\n\r\n") + 4));
    }
    saw_sealed = saw_sealed || c.from_client.find("POST /.well-known/minihttps/sealed HTTP/1.1") != std::string::npos;
  }
  // The capture is real: the session's sealed requests, its keyid and the chat's frames (Fernet
  // tokens once unmasked) are in it.
  EXPECT_TRUE(saw_sealed);
  EXPECT_NE(seen.find("keyid=\"" + identity.keyid_text() + "\""), std::string::npos);
  ASSERT_NE(frames.find("gAAAAA"), std::string::npos);
  seen += frames;

  for (const std::string& secret :
       {kName, kDir, kFile, "/" + kDir + "/?list", std::string("?list"), kFileText, kSecondEntry, kUpload, kUploadText,
        std::string("/.uploads/"), std::string("?commit="), kRoom, kSaid, kReply, std::string("listener-77")})
    EXPECT_EQ(seen.find(secret), std::string::npos) << "the observer sees \"" << secret << "\"";
  const Uuid uuid = identity.uuid();
  std::string hex = uuid.to_string();
  hex.erase(std::remove(hex.begin(), hex.end(), '-'), hex.end());
  for (const std::string& form : {uuid.to_string(), hex, std::string(uuid.bytes.begin(), uuid.bytes.end())})
    EXPECT_EQ(seen.find(form), std::string::npos) << "the observer sees the UUID";
  // The RSA key: its DER, and its base64 and base64url text at each of the three alignments a
  // larger encoded message could give it.
  const std::string der(as_chars(identity.rsa().public_key().spki_der()));
  EXPECT_EQ(windows_found(seen, der, 32), std::vector<std::size_t>{}) << "SPKI DER";
  for (std::size_t shift = 0; shift < 3; ++shift)
    for (const Alphabet a : {Alphabet::standard, Alphabet::url}) {
      const std::string text = base64_encode(as_bytes(std::string_view(der).substr(shift)), a, false);
      EXPECT_EQ(windows_found(seen, text.substr(0, text.size() - 4), 32), std::vector<std::size_t>{})
          << "SPKI base64, shift " << shift;
    }
}

}  // namespace
}  // namespace mh::test
