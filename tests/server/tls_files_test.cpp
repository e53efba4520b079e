// The certificate minihttpsd keeps for --tls-self-signed, and the operator's own files
// (io/tls_files): made once, kept while it covers the names and has time left, secrets 0600.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>

#include "core/error.hpp"
#include "io/files.hpp"
#include "io/tls_files.hpp"
#include "support/test_support.hpp"

namespace mh::test {
namespace {
namespace fs = std::filesystem;

constexpr std::int64_t kNow = 1796000000;
const std::vector<std::string> kNames{"localhost", "127.0.0.1"};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) { return e.what(); }
  return "no error";
}

TEST(TlsFiles, TheSelfSignedCertificateIsMadeOnceThenKept) {
  TempDir dir;
  const fs::path keys = dir.path() / "keys";
  const io::SelfSigned first = io::load_or_create_self_signed(keys, kNames, kNow);
  EXPECT_TRUE(first.created);
  EXPECT_EQ(io::file_mode(keys / io::kSelfSignedKeyFile), 0600u);
  EXPECT_EQ(io::file_mode(keys / io::kSelfSignedCertFile), 0644u);
  EXPECT_EQ(io::read_file(keys / io::kSelfSignedCertFile), first.files.certificate_pem);
  EXPECT_EQ(describe_certificate(first.files.certificate_pem).names, kNames);

  // Restarted a day later, or for fewer names: the same certificate, so a browser's exception holds.
  const io::SelfSigned again = io::load_or_create_self_signed(keys, kNames, kNow + 86400);
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.files.certificate_pem, first.files.certificate_pem);
  EXPECT_EQ(again.files.private_key_pem, first.files.private_key_pem);
  EXPECT_FALSE(io::load_or_create_self_signed(keys, {"localhost"}, kNow).created);
}

TEST(TlsFiles, ANewNameOrTheLastMonthMakesANewOne) {
  TempDir dir;
  const fs::path keys = dir.path() / "keys";
  const std::string first = io::load_or_create_self_signed(keys, kNames, kNow).files.certificate_pem;
  const io::SelfSigned wider = io::load_or_create_self_signed(keys, {"localhost", "127.0.0.1", "nas.lan"}, kNow);
  EXPECT_TRUE(wider.created);
  EXPECT_NE(wider.files.certificate_pem, first);
  EXPECT_EQ(describe_certificate(wider.files.certificate_pem).names,
            (std::vector<std::string>{"localhost", "127.0.0.1", "nas.lan"}));
  // 30 days before it expires it is replaced; a day more and it is kept.
  const std::int64_t expires = describe_certificate(wider.files.certificate_pem).not_after;
  EXPECT_FALSE(io::load_or_create_self_signed(keys, kNames, expires - io::kSelfSignedRenewBefore - 1).created);
  EXPECT_TRUE(io::load_or_create_self_signed(keys, kNames, expires - io::kSelfSignedRenewBefore).created);
}

TEST(TlsFiles, AnUnreadableKeptCertificateIsReplacedAReadableKeyRefused) {
  TempDir dir;
  const fs::path keys = dir.path() / "keys";
  io::load_or_create_self_signed(keys, kNames, kNow);
  io::write_file_atomic(keys / io::kSelfSignedCertFile, "not a certificate\n", 0644);
  EXPECT_TRUE(io::load_or_create_self_signed(keys, kNames, kNow).created);
  ::chmod((keys / io::kSelfSignedKeyFile).c_str(), 0640);
  const std::string key = (keys / io::kSelfSignedKeyFile).string();
  EXPECT_EQ(error_of([&] { io::load_or_create_self_signed(keys, kNames, kNow); }),
            key + " is readable by others; run: chmod 600 " + key);
}

TEST(TlsFiles, TheOperatorsFilesAreReadAndCheckedByName) {
  TempDir dir;
  const TlsCertificate made = make_self_signed_certificate({"files.example"}, kNow, 90);
  const fs::path cert = dir.path() / "cert.pem", key = dir.path() / "key.pem";
  io::write_file_atomic(cert, made.certificate_pem, 0644);
  io::write_file_atomic(key, made.private_key_pem, 0600);
  const TlsCertificate loaded = io::load_tls_files(cert, key);
  EXPECT_EQ(loaded.certificate_pem, made.certificate_pem);
  EXPECT_EQ(loaded.private_key_pem, made.private_key_pem);

  EXPECT_EQ(error_of([&] { io::load_tls_files(dir.path() / "none.pem", key); }),
            "tls: " + (dir.path() / "none.pem").string() + " does not exist");
  EXPECT_EQ(error_of([&] { io::load_tls_files(cert, dir.path() / "none.key"); }),
            "tls: " + (dir.path() / "none.key").string() + " does not exist");
  EXPECT_EQ(error_of([&] { io::load_tls_files(key, key); }), key.string() + ": tls: no PEM certificate found");
  ::chmod(key.c_str(), 0644);
  EXPECT_EQ(error_of([&] { io::load_tls_files(cert, key); }),
            key.string() + " is readable by others; run: chmod 600 " + key.string());
}

}  // namespace
}  // namespace mh::test
