// Interop: Python's cryptography.fernet decrypts tokens made by the core (one-shot and streamed,
// binary content), and the core decrypts tokens made by Python; and Python, with nothing but a
// stock HKDF and Fernet (docs/PROTOCOL.md §4), opens every chunk of a body the real server sent,
// and no chunk under another index, request, last flag or purpose.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <ctime>

#include "core/fernet.hpp"
#include "core/stream.hpp"
#include "support/server_process.hpp"
#include "support/signed_client.hpp"
#include "support/test_support.hpp"

namespace mh {
namespace {

std::string tool() { return (test::source_dir() / "tests/interop/fernet_tool.py").string(); }

class FernetPython : public ::testing::Test {
 protected:
  std::string py = test::python_with_cryptography();
  test::TempDir dir;
  FernetKey key = FernetKey::generate();
  std::int64_t now = std::time(nullptr);

  Bytes python_decrypt(const std::string& token) {
    test::write_file(dir / "token", token);
    const auto r =
        test::run_command({py, tool(), "decrypt", key.format(), (dir / "token").string(), (dir / "plain").string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return to_bytes(test::read_file(dir / "plain"));
  }
};

TEST_F(FernetPython, PythonDecryptsOneShotTokens) {
  for (std::size_t n : {0u, 1u, 16u, 1000u, 65537u}) {
    const Bytes plain = test::pattern_bytes(n, static_cast<std::uint32_t>(n));
    EXPECT_EQ(python_decrypt(fernet_encrypt(key, plain, now)), plain) << n;
  }
}

TEST_F(FernetPython, PythonDecryptsStreamedTokens) {
  const Bytes plain = test::pattern_bytes((3u << 20) + 5, 42);  // binary, several MiB
  FernetEncoder enc(key, now);
  std::string token;
  for (std::size_t off = 0; off < plain.size(); off += 100000)
    enc.update(ByteView(plain).subspan(off, std::min<std::size_t>(100000, plain.size() - off)), token);
  enc.finish(token);
  EXPECT_EQ(python_decrypt(token), plain);
}

TEST_F(FernetPython, CoreDecryptsPythonTokens) {
  const Bytes plain = test::pattern_bytes(200001, 7);
  test::write_file(dir / "in", as_chars(plain));
  const auto r =
      test::run_command({py, tool(), "encrypt", key.format(), (dir / "in").string(), (dir / "tok").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string token = test::read_file(dir / "tok");
  EXPECT_EQ(fernet_decrypt(key, token, now, 60), plain);
  struct Sink : FernetSink {
    Bytes got;
    void write(ByteView p) override { got.insert(got.end(), p.begin(), p.end()); }
  } sink;
  FernetDecoder dec(key, now, 60, sink);
  for (std::size_t off = 0; off < token.size(); off += 4099) dec.update(std::string_view(token).substr(off, 4099));
  dec.finish();
  EXPECT_EQ(sink.got, plain);
}

TEST_F(FernetPython, PythonRefusesTamperedCoreToken) {
  std::string token = fernet_encrypt(key, as_bytes("hello"), now);
  token[30] = token[30] == 'A' ? 'B' : 'A';
  test::write_file(dir / "token", token);
  const auto r =
      test::run_command({py, tool(), "decrypt", key.format(), (dir / "token").string(), (dir / "plain").string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("InvalidToken"), std::string::npos) << r.err;
}

// ---- the v2 stream of a served body ---------------------------------------------------------

constexpr std::uint32_t kChunk = 4096;

class StreamPython : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new test::ServerProcess(test::with_args({"--chunk-size", std::to_string(kChunk)}));
    file_ = new std::string(as_chars(test::pattern_bytes(5 * kChunk + 1000, 12)));  // 6 chunks
    test::write_file(server_->root() / "multi.bin", *file_);
    home_ = new test::TempDir();
    const auto r = test::run_client(
        home_->path(), {"connect", "--server", server_->url(), "--name", "pystream", "--rsa-bits", "2048"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    delete home_;
    delete file_;
    delete server_;
  }

  // Each trial {purpose, binding, index, last, token} opened by Python: its plaintext, or nullopt
  // where the token did not open.
  static std::vector<std::optional<std::string>> python_open(const test::SignedClient& c,
                                                             const nlohmann::json& trials) {
    test::TempDir dir;
    test::write_file(dir / "trials.json",
                     nlohmann::json{{"secret", to_hex(c.secret().bytes())}, {"trials", trials}}.dump());
    const auto r = test::run_process({test::python_with_cryptography(), tool(), "open", (dir / "trials.json").string(),
                                      (dir / "out.json").string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::optional<std::string>> out;
    for (const auto& v : nlohmann::json::parse(test::read_file(dir / "out.json")))
      out.push_back(v.is_null() ? std::nullopt : std::optional(std::string(as_chars(from_hex(v.get<std::string>())))));
    return out;
  }

  static test::ServerProcess* server_;
  static std::string* file_;
  static test::TempDir* home_;
};
test::ServerProcess* StreamPython::server_ = nullptr;
std::string* StreamPython::file_ = nullptr;
test::TempDir* StreamPython::home_ = nullptr;

TEST_F(StreamPython, PythonOpensEveryChunkOfAServedBodyAndNoChunkElsewhere) {
  test::SignedClient c(home_->path(), server_->url());
  const test::Built request = c.build("GET", "/multi.bin");
  const net::ClientResponse raw = c.send_raw(request.request);
  const test::Reply reply = c.open(raw, request.binding);
  ASSERT_TRUE(reply.error.empty()) << reply.error;
  ASSERT_EQ(reply.status, 200);
  ASSERT_EQ(reply.body, *file_);
  // The body's tokens, cut by the lengths the layout gives.
  const auto layout = stream::Layout::whole(file_->size(), kChunk);
  const std::uint64_t m = layout.chunk_count();
  ASSERT_EQ(m, 6u);
  std::vector<std::string> tokens;
  for (std::uint64_t i = 0, at = 0; i < m; at += layout.token_length(i), ++i)
    tokens.push_back(raw.body.substr(at, layout.token_length(i)));
  ASSERT_EQ(raw.body.size(), layout.stream_length());
  const std::string head_token(raw.header("MiniHTTPS-Sealed").value_or(""));

  const Binding& b = request.binding;
  const Binding other = c.build("GET", "/multi.bin").binding;  // another request for the same file
  nlohmann::json trials = nlohmann::json::array();
  const auto trial = [&](const char* purpose, const Binding& binding, std::uint64_t index, bool last,
                         const std::string& token) {
    trials.push_back(
        {{"purpose", purpose}, {"binding", to_hex(binding)}, {"index", index}, {"last", last}, {"token", token}});
  };
  for (std::uint64_t i = 0; i < m; ++i) trial("response body", b, i, i + 1 == m, tokens[i]);
  trial("response head", b, 0, true, head_token);
  trial("response body", b, 3, false, tokens[2]);          // another index
  trial("response body", other, 2, false, tokens[2]);      // another request
  trial("response body", b, m - 1, false, tokens[m - 1]);  // the last chunk without its flag
  trial("response body", b, 0, true, tokens[0]);           // a chunk flagged last that is not
  trial("request body", b, 2, false, tokens[2]);           // another purpose

  const auto opened = python_open(c, trials);
  ASSERT_EQ(opened.size(), m + 6);
  for (std::uint64_t i = 0; i < m; ++i)
    EXPECT_EQ(opened[i], file_->substr(i * kChunk, layout.plaintext_size(i))) << "chunk " << i;
  // The head opens to the same Binary HTTP response the core reads: known-length, status 200.
  const Bytes head =
      fernet_decrypt(c.secret().derive(KeyPurpose::response_head, b, 0, true), head_token, 0, std::nullopt);
  EXPECT_EQ(opened[m], std::string(as_chars(head)));
  EXPECT_EQ(to_hex(head).substr(0, 6), "0140c8");
  for (std::uint64_t i = m + 1; i < opened.size(); ++i) EXPECT_EQ(opened[i], std::nullopt) << "trial " << i;
}

}  // namespace
}  // namespace mh
