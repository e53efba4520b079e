// TLS under HTTP (docs/ARCHITECTURE.md §9, PROTOCOL.md §1.1): the real minihttpsd with
// --tls-self-signed or the operator's certificate, the real client with https:// URLs. What rides
// on TLS is the same protocol, pinned by the server's Ed25519 key; what is refused: plain HTTP on
// the TLS port (told so, in plain HTTP), TLS to a plain server (told so), a connection that is
// not TLS or stalls in the handshake (dropped, the server serves on), bad option combinations.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <ctime>
#include <regex>

#include "core/tls_certificate.hpp"
#include "io/files.hpp"
#include "io/tls_files.hpp"
#include "net/http_client.hpp"
#include "page/bundle.hpp"
#include "support/interactive_process.hpp"
#include "support/server_process.hpp"
#include "support/test_support.hpp"

namespace mh::test {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

CommandResult connect(const fs::path& home, const ServerProcess& s, const std::string& url, const std::string& name) {
  return run_client(home, {"connect", url, "--name", name, "--fingerprint", s.fingerprint(), "--rsa-bits", "2048"});
}

// minihttpsd with these arguments, expected to refuse to start.
CommandResult refused_start(const std::vector<std::string>& args) {
  TempDir dir;
  fs::create_directories(dir / "www");
  std::vector<std::string> argv{server_binary().string(), "--listen", "127.0.0.1:0",           "--root",
                                (dir / "www").string(),   "--keys",   (dir / "keys").string(), "--upload-dir",
                                (dir / "up").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, {}, 30s);
}

// A TLS handshake with the server from a client that offers at most `max_version`: "ok", or
// the reason OpenSSL gives for the failure.
std::string handshake_with(std::uint16_t port, int max_version) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_security_level(ctx, 0);  // let this client offer the old versions at all
  SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
  SSL_CTX_set_max_proto_version(ctx, max_version);
  SSL* ssl = SSL_new(ctx);
  const int fd = tcp_connect(port);
  SSL_set_fd(ssl, fd);
  ERR_clear_error();
  std::string result = "ok";
  if (SSL_connect(ssl) != 1) {
    const char* reason = ERR_reason_error_string(ERR_peek_last_error());
    result = reason ? reason : "failed";
  }
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ::close(fd);
  return result;
}

class Tls : public ::testing::Test {
 protected:
  ServerProcess server_{with_args({"--tls-self-signed", "--tls-name", "files.lan", "--request-timeout", "1"})};
  TempDir home_;
};

TEST_F(Tls, TheServerSaysItsCertificateAndTheCliGetsPutsAndListsThroughIt) {
  const std::string https = "https://" + server_.authority();
  EXPECT_EQ(server_.url(), https);
  const std::string cert = io::read_file(server_.keys() / io::kSelfSignedCertFile);
  const CertificateFacts facts = describe_certificate(cert);
  EXPECT_EQ(facts.names[0], "localhost");
  EXPECT_NE(std::find(facts.names.begin(), facts.names.end(), "files.lan"), facts.names.end());
  const std::string out = server_.stdout_text();
  EXPECT_NE(out.find("listening on " + https + "\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\ntls certificate SHA-256 " + facts.sha256 + "\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\nweb page " + https + "/.app/ (page "), std::string::npos) << out;
  EXPECT_TRUE(
      server_.wait_for_stderr("tls: certificate SHA-256 " + facts.sha256 + " for localhost, 127.0.0.1, ::1, ", 5s))
      << server_.stderr_text();
  EXPECT_NE(server_.stderr_text().find("(made now, self-signed, kept in " +
                                       (server_.keys() / io::kSelfSignedCertFile).string() + ")"),
            std::string::npos);

  const CommandResult c = connect(home_.path(), server_, https, "alice");
  ASSERT_EQ(c.exit_code, 0) << describe(c);
  EXPECT_EQ(c.out.rfind("connected to " + https + " as alice (", 0), 0u) << c.out;
  CommandResult r = run_client(home_.path(), {"get", "hello.txt"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "hello, world\n");
  TempDir work;
  write_file(work / "note.txt", "sent over TLS\n");
  r = run_client(home_.path(), {"put", (work / "note.txt").string()});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  r = run_client(home_.path(), {"get", "/.uploads/note.txt", "-o", (work / "back.txt").string()});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(read_file(work / "back.txt"), "sent over TLS\n");
  r = run_client(home_.path(), {"ls", "docs"});
  EXPECT_EQ(r.out, "a.txt\n") << describe(r);
}

// Answers larger than one TLS record (16 KiB), whole: a streamed download of many chunks, an
// upload, and a file of the page sent as one buffer after its head.
TEST_F(Tls, AnswersLargerThanARecordArriveWhole) {
  const Bytes big = pattern_bytes((3 << 20) + 12345);
  write_file(server_.root() / "big.bin", as_chars(big));
  ASSERT_EQ(connect(home_.path(), server_, server_.url(), "alice").exit_code, 0);
  TempDir work;
  CommandResult r = run_client(home_.path(), {"get", "big.bin", "-o", (work / "big.bin").string()});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(read_file(work / "big.bin"), as_chars(big));
  write_file(work / "up.bin", as_chars(pattern_bytes(5 << 20, 7)));
  r = run_client(home_.path(), {"put", (work / "up.bin").string()});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  r = run_client(home_.path(), {"get", "/.uploads/up.bin", "-o", (work / "back.bin").string()});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(read_file(work / "back.bin"), as_chars(pattern_bytes(5 << 20, 7)));

  net::HttpClient http(net::ServerUrl::parse(server_.url()), 10s);
  for (const auto& f : page::files()) {
    net::Request req;
    req.method = "GET";
    req.target = "/.app/" + std::string(f.path);
    const net::ClientResponse got = http.send(req);
    EXPECT_EQ(got.status, 200) << f.path;
    EXPECT_EQ(got.body, f.bytes) << f.path;
  }
}

TEST_F(Tls, ChatRunsOverTlsBothWays) {
  TempDir bob;
  ASSERT_EQ(connect(home_.path(), server_, server_.url(), "alice").exit_code, 0);
  ASSERT_EQ(connect(bob.path(), server_, server_.url(), "bob").exit_code, 0);
  const auto chat = [](const fs::path& home) {
    return std::make_unique<InteractiveProcess>(
        std::vector<std::string>{client_binary().string(), "--home", home.string(), "chat", "--room", "lobby"});
  };
  auto a = chat(home_.path());
  ASSERT_TRUE(a->wait_line(std::regex(R"(\* you joined lobby$)"), 15s)) << a->err();
  auto b = chat(bob.path());
  ASSERT_TRUE(b->wait_line(std::regex(R"(\* you joined lobby$)"), 15s)) << b->err();
  b->write_line("sealed, then wrapped in TLS");
  EXPECT_TRUE(a->wait_line(std::regex(R"(^\[\d\d:\d\d:\d\d\] bob: sealed, then wrapped in TLS$)"), 15s)) << a->out();
  a->write_line("and back");
  EXPECT_TRUE(b->wait_line(std::regex(R"(^\[\d\d:\d\d:\d\d\] alice: and back$)"), 15s)) << b->out();
}

TEST_F(Tls, PlainHttpOnTheTlsPortIsAnsweredInPlainHttpSayingSo) {
  net::HttpClient http(net::ServerUrl::parse("http://" + server_.authority()), 10s);
  net::Request req;
  req.method = "GET";
  req.target = "/.well-known/minihttps";
  const net::ClientResponse r = http.send(req);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(nlohmann::json::parse(r.body)["reason"], "this server speaks TLS: use an https:// URL");
  EXPECT_EQ(r.header("Connection").value_or(""), "close");

  const CommandResult c = connect(home_.path(), server_, "http://" + server_.authority(), "alice");
  EXPECT_EQ(c.exit_code, 1) << describe(c);
  EXPECT_EQ(c.err.substr(c.err.find("minihttps: ")), "minihttps: the server at " + server_.authority() +
                                                         " does not offer minihttps/2: this server speaks TLS: use "
                                                         "an https:// URL\n");
}

TEST(TlsRefusals, TlsToAServerWithoutItIsTold) {
  ServerProcess plain;
  TempDir home;
  const CommandResult c = connect(home.path(), plain, "https://" + plain.authority(), "alice");
  EXPECT_EQ(c.exit_code, 3) << describe(c);
  EXPECT_EQ(c.err.substr(c.err.find("minihttps: ")), "minihttps: TLS handshake with " + plain.authority() +
                                                         " failed: wrong version number (the server does not speak "
                                                         "TLS: use http://" +
                                                         plain.authority() + ")\n");
}

TEST_F(Tls, ANonTlsOrStalledHandshakeIsDroppedAndTheServerServesOn) {
  // A handshake record of garbage: refused by OpenSSL, the connection closed.
  int fd = tcp_connect(server_.port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, std::string("\x16\x03\x01\x00\x05hello", 10)));
  Received got = read_until_closed(fd, 5s);
  EXPECT_TRUE(got.eof);
  ::close(fd);
  EXPECT_TRUE(server_.wait_for_stderr("tls: handshake with 127.0.0.1 failed: ", 5s)) << server_.stderr_text();
  // One that sends nothing: closed after the request timeout (1 s here).
  fd = tcp_connect(server_.port());
  ASSERT_GE(fd, 0);
  got = read_until_closed(fd, 10s);
  EXPECT_TRUE(got.eof);
  EXPECT_EQ(got.data, "");
  ::close(fd);
  ASSERT_EQ(connect(home_.path(), server_, server_.url(), "alice").exit_code, 0);
  EXPECT_EQ(run_client(home_.path(), {"get", "hello.txt"}).out, "hello, world\n");
}

TEST_F(Tls, OnlyTls12And13AreSpoken) {
  EXPECT_EQ(handshake_with(server_.port(), TLS1_3_VERSION), "ok");
  EXPECT_EQ(handshake_with(server_.port(), TLS1_2_VERSION), "ok");
  EXPECT_EQ(handshake_with(server_.port(), TLS1_1_VERSION), "tlsv1 alert protocol version");
  EXPECT_EQ(handshake_with(server_.port(), TLS1_VERSION), "tlsv1 alert protocol version");
}

TEST_F(Tls, ARestartKeepsTheSameCertificate) {
  const std::string first = describe_certificate(io::read_file(server_.keys() / io::kSelfSignedCertFile)).sha256;
  server_.restart();
  EXPECT_TRUE(server_.wait_for_stderr("tls: certificate SHA-256 " + first, 5s)) << server_.stderr_text();
  EXPECT_NE(server_.stderr_text().find("(self-signed, kept in "), std::string::npos);
  EXPECT_EQ(describe_certificate(io::read_file(server_.keys() / io::kSelfSignedCertFile)).sha256, first);
}

TEST(TlsOperatorFiles, TheOperatorsCertificateIsServedAndAWrongKeyRefused) {
  TempDir dir;
  const TlsCertificate made = make_self_signed_certificate({"localhost", "127.0.0.1"}, std::time(nullptr), 30);
  const TlsCertificate other = make_self_signed_certificate({"localhost"}, std::time(nullptr), 30);
  io::write_file_atomic(dir / "cert.pem", made.certificate_pem, 0644);
  io::write_file_atomic(dir / "key.pem", made.private_key_pem, 0600);
  io::write_file_atomic(dir / "other.key", other.private_key_pem, 0600);
  {
    ServerProcess s(with_args({"--tls-cert", (dir / "cert.pem").string(), "--tls-key", (dir / "key.pem").string()}));
    EXPECT_EQ(s.url(), "https://" + s.authority());
    EXPECT_NE(s.stdout_text().find("tls certificate SHA-256 " + describe_certificate(made.certificate_pem).sha256),
              std::string::npos);
    TempDir home;
    ASSERT_EQ(connect(home.path(), s, s.url(), "alice").exit_code, 0);
    EXPECT_EQ(run_client(home.path(), {"get", "docs/a.txt"}).out, "document a\n");
  }
  CommandResult r =
      refused_start({"--tls-cert", (dir / "cert.pem").string(), "--tls-key", (dir / "other.key").string()});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_NE(r.err.find("error tls: the private key is not the certificate's\n"), std::string::npos) << r.err;
  r = refused_start({"--tls-cert", (dir / "key.pem").string(), "--tls-key", (dir / "key.pem").string()});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_NE(r.err.find("error " + (dir / "key.pem").string() + ": tls: no PEM certificate found\n"), std::string::npos)
      << r.err;
}

TEST(TlsOptions, CombinationsThatCannotServeAreUsageErrors) {
  const auto refused = [](std::vector<std::string> args, const std::string& says) {
    const CommandResult r = refused_start(args);
    EXPECT_EQ(r.exit_code, 2) << describe(r);
    EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
  };
  refused({"--tls-cert", "c.pem"}, "--tls-cert requires --tls-key");
  refused({"--tls-key", "k.pem"}, "--tls-key requires --tls-cert");
  refused({"--tls-self-signed", "--tls-cert", "c.pem", "--tls-key", "k.pem"}, "--tls-cert excludes --tls-self-signed");
  refused({"--tls-name", "files.lan"}, "--tls-name requires --tls-self-signed");
  refused({"--tls-self-signed", "--tls-name", "bad name"}, "'bad name' is neither a host name nor an IP address");
}

}  // namespace
}  // namespace mh::test
