// Interop: Python's cryptography.fernet decrypts tokens made by the core (one-shot and streamed,
// binary content), and the core decrypts tokens made by Python.
#include <gtest/gtest.h>

#include <ctime>

#include "core/fernet.hpp"
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
    const auto r = test::run_command({py, tool(), "decrypt", key.format(), (dir / "token").string(), (dir / "plain").string()});
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
  const auto r = test::run_command({py, tool(), "encrypt", key.format(), (dir / "in").string(), (dir / "tok").string()});
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
  const auto r = test::run_command({py, tool(), "decrypt", key.format(), (dir / "token").string(), (dir / "plain").string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("InvalidToken"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace mh
