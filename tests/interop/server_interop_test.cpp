// Interop against the running server, with independent implementations:
//  - npm http-message-signatures signs GETs with the client's key and UUID (a custom signer
//    with salt 64, and the library's default signer) and the server answers 200;
//  - Python's cryptography.fernet decrypts the raw response bodies with the session key and
//    gets the exact bytes of the files, a multi-MiB binary file included.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/server_process.hpp"
#include "support/signed_client.hpp"

namespace mh::test {
namespace {
namespace fs = std::filesystem;

fs::path node_dir() { return MH_INTEROP_NODE_DIR; }

class ServerInterop : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess();
    big_ = new Bytes(pattern_bytes((5u << 20) + 3, 5));
    write_file(server_->root() / "big.bin", as_chars(*big_));
    home_ = new TempDir();
    const auto r = run_client(home_->path(), {"connect", "--server", server_->url(), "--name", "interop", "--rsa-bits", "2048"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    delete home_;
    delete big_;
    delete server_;
  }

  // Python decrypts a token with the session key; returns the plaintext.
  static std::string python_decrypt(const std::string& token, const FernetKey& key) {
    TempDir dir;
    write_file(dir / "token", token);
    const auto r = run_process({python_with_cryptography(), (source_dir() / "tests/interop/fernet_tool.py").string(),
                                "decrypt", key.format(), (dir / "token").string(), (dir / "plain").string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return read_file(dir / "plain");
  }

  static nlohmann::json node_get(const std::string& target, const std::string& mode) {
    const Uuid uuid = SignedClient(home_->path(), server_->url()).uuid();
    const auto r = run_process({"node", (node_dir() / "sign_get.mjs").string(), server_->url(), target,
                                (home_->path() / "identity.pem").string(), uuid.to_string(), mode});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }

  static ServerProcess* server_;
  static TempDir* home_;
  static Bytes* big_;
};
ServerProcess* ServerInterop::server_ = nullptr;
TempDir* ServerInterop::home_ = nullptr;
Bytes* ServerInterop::big_ = nullptr;

TEST_F(ServerInterop, NpmSignerWithSalt64IsAccepted) {
  const auto j = node_get("/hello.txt", "salt64");
  ASSERT_EQ(j["status"], 200) << j.dump();
  EXPECT_NE(j["signature_input"].get<std::string>().find("keyid="), std::string::npos);
  const FernetKey key = SignedClient(home_->path(), server_->url()).session_key();
  EXPECT_EQ(python_decrypt(j["body"], key), "hello, world\n");
}

TEST_F(ServerInterop, NpmDefaultSignerIsAccepted) {
  const auto j = node_get("/docs/a.txt", "default");
  ASSERT_EQ(j["status"], 200) << j.dump();
  const FernetKey key = SignedClient(home_->path(), server_->url()).session_key();
  EXPECT_EQ(python_decrypt(j["body"], key), "document a\n");
}

TEST_F(ServerInterop, NpmSignedQueryIsAccepted) {
  const auto j = node_get("/docs/?list", "salt64");
  ASSERT_EQ(j["status"], 200) << j.dump();
  const FernetKey key = SignedClient(home_->path(), server_->url()).session_key();
  EXPECT_NE(python_decrypt(j["body"], key).find("\"a.txt\""), std::string::npos);
}

TEST_F(ServerInterop, PythonDecryptsARawMultiMegabyteBody) {
  SignedClient c(home_->path(), server_->url());
  const auto r = c.send("GET", "/big.bin");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(python_decrypt(r.body, c.session_key()), as_chars(*big_));
}

TEST_F(ServerInterop, NpmSignatureWithWrongKeyIsRefused) {
  // Same UUID, another RSA key: the library's signature must not be accepted.
  TempDir other;
  const auto gen = run_process({"openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                                "-out", (other / "k.pem").string()});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  const Uuid uuid = SignedClient(home_->path(), server_->url()).uuid();
  const auto r = run_process({"node", (node_dir() / "sign_get.mjs").string(), server_->url(), "/hello.txt",
                              (other / "k.pem").string(), uuid.to_string(), "salt64"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["status"], 403);
  EXPECT_EQ(j["body"].get<std::string>().find("hello"), std::string::npos);
}

}  // namespace
}  // namespace mh::test
