// Interop against the running server with an independent RFC 9421 implementation: npm
// http-message-signatures signs ordinary, unsealed GETs (docs/PROTOCOL.md §5.4) with the client's
// RSA key and the session's keyid — a custom signer with salt 64, and the library's default
// signer. The server answers with the real status and the body stream, which the test opens as a
// client must, under the binding of the library's own signature base and signature (§4). Another
// key under the same keyid is refused.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base64.hpp"
#include "core/stream.hpp"
#include "support/server_process.hpp"
#include "support/signed_client.hpp"

namespace mh::test {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

fs::path node_dir() { return MH_INTEROP_NODE_DIR; }

class ServerInterop : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess();
    big_ = new Bytes(pattern_bytes((5u << 20) + 3, 5));
    write_file(server_->root() / "big.bin", as_chars(*big_));
    home_ = new TempDir();
    const auto r =
        run_client(home_->path(), {"connect", "--server", server_->url(), "--name", "interop", "--rsa-bits", "2048"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    delete home_;
    delete big_;
    delete server_;
  }

  // The keyid as `minihttps connect` saved it: the session's random id, not the UUID.
  static std::string session_keyid() {
    for (const auto& e : fs::directory_iterator(home_->path() / "sessions"))
      return json::parse(read_file(e.path()))["keyid"].get<std::string>();
    throw std::runtime_error("no session in " + home_->path().string());
  }

  // The library's signed GET of `target`, and its answer opened under the library's binding.
  struct NodeGet {
    json out;     // what sign_get.mjs printed
    Reply reply;  // the answer opened as a client must
  };
  static NodeGet node_get(const std::string& target, const std::string& mode,
                          const fs::path& key = home_->path() / "identity.pem") {
    const auto r = run_process(
        {"node", (node_dir() / "sign_get.mjs").string(), server_->url(), target, key.string(), session_keyid(), mode});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    NodeGet g{json::parse(r.out), {}};
    net::ClientResponse response;
    response.status = g.out["status"];
    for (const auto& [name, value] : g.out["headers"].items())
      for (const auto& v : value.is_array() ? value : json::array({value}))
        response.headers.push_back({name, v.get<std::string>()});
    response.body = g.out["body"];
    const Binding b = request_binding(g.out["signature_base"].get<std::string>(),
                                      base64_decode(g.out["signature"].get<std::string>()));
    g.reply = SignedClient(home_->path(), server_->url()).open(response, b);
    return g;
  }

  static ServerProcess* server_;
  static TempDir* home_;
  static Bytes* big_;
};
ServerProcess* ServerInterop::server_ = nullptr;
TempDir* ServerInterop::home_ = nullptr;
Bytes* ServerInterop::big_ = nullptr;

TEST_F(ServerInterop, NpmSignerWithSalt64IsAccepted) {
  const std::string keyid = session_keyid();
  ASSERT_EQ(keyid.size(), 22u);
  const auto g = node_get("/hello.txt", "salt64");
  EXPECT_NE(g.out["signature_input"].get<std::string>().find("keyid=\"" + keyid + "\""), std::string::npos);
  EXPECT_EQ(g.reply.outer_status, 200);  // the real status, in clear
  ASSERT_TRUE(g.reply.error.empty()) << g.reply.error;
  EXPECT_EQ(g.reply.status, 200);
  EXPECT_EQ(g.reply.header("Content-Type").value_or(""), "application/minihttps-stream");
  EXPECT_EQ(g.reply.header("MiniHTTPS-Content-Type").value_or(""), "text/plain; charset=utf-8");
  EXPECT_EQ(g.reply.body, "hello, world\n");
}

TEST_F(ServerInterop, NpmDefaultSignerIsAccepted) {
  const auto g = node_get("/docs/a.txt", "default");
  ASSERT_TRUE(g.reply.error.empty()) << g.reply.error;
  EXPECT_EQ(g.reply.status, 200);
  EXPECT_EQ(g.reply.body, "document a\n");
}

TEST_F(ServerInterop, NpmSignedQueryIsAccepted) {
  const auto g = node_get("/docs/?list", "salt64");
  EXPECT_NE(g.out["signature_input"].get<std::string>().find("\"@query\""), std::string::npos);
  ASSERT_TRUE(g.reply.error.empty()) << g.reply.error;
  EXPECT_EQ(g.reply.status, 200);
  EXPECT_NE(g.reply.body.find("\"a.txt\""), std::string::npos) << g.reply.body;
}

TEST_F(ServerInterop, NpmSignedGetOfAMultiChunkFileOpensExactly) {
  const auto g = node_get("/big.bin", "salt64");
  ASSERT_TRUE(g.reply.error.empty()) << g.reply.error;
  EXPECT_EQ(g.reply.status, 200);
  ASSERT_TRUE(g.reply.head && g.reply.head->chunks);
  EXPECT_EQ(g.reply.head->chunks->last, big_->size() / stream::kDefaultChunkSize);  // 21 chunks
  EXPECT_TRUE(g.reply.body == as_chars(*big_));
}

TEST_F(ServerInterop, NpmSignatureWithWrongKeyIsRefused) {
  // The session's keyid, another RSA key: the library's signature must not be accepted.
  TempDir other;
  const auto gen = run_process({"openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
                                (other / "k.pem").string()});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  const auto g = node_get("/hello.txt", "salt64", other / "k.pem");
  EXPECT_EQ(g.reply.status, 403);
  EXPECT_FALSE(g.reply.sealed);  // refused before it verified: plain JSON
  EXPECT_EQ(g.reply.reason(), "signature: does not verify");
  EXPECT_EQ(g.reply.body.find("hello"), std::string::npos);
}

}  // namespace
}  // namespace mh::test
