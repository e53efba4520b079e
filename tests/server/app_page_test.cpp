// The browser client's files at /.app/ (web/app_page.hpp, docs/PROTOCOL.md §2.1): what is served
// is the bundle embedded at build time, byte for byte the files of app/, by a table lookup only.
#include "web/app_page.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/base64.hpp"
#include "core/hash.hpp"

namespace mh::web {
namespace {

namespace fs = std::filesystem;

std::string source_file(const std::string& rel) {
  std::ifstream f(fs::path(MH_SOURCE_DIR) / "app" / rel, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

net::Response get(const AppPage& page, std::string target, std::string method = "GET", net::Headers headers = {}) {
  net::Request req;
  req.method = std::move(method);
  req.target = std::move(target);
  req.headers = std::move(headers);
  return page.answer(req);
}

std::string header(const net::Response& r, std::string_view name) {
  return std::string(net::find_header(r.headers, name).value_or("(none)"));
}

std::string etag_of(std::string_view bytes) {
  const Sha256Digest d = sha256(as_bytes(bytes));
  return "\"" + base64_encode(ByteView(d.data(), 16), Alphabet::url, false) + "\"";
}

TEST(AppPage, TheBundleIsEveryFileOfTheAppFolder) {
  std::vector<std::string> on_disk;
  const fs::path app = fs::path(MH_SOURCE_DIR) / "app";
  for (const auto& e : fs::recursive_directory_iterator(app))
    if (e.is_regular_file()) on_disk.push_back(e.path().lexically_relative(app).string());
  std::sort(on_disk.begin(), on_disk.end());
  std::vector<std::string> bundled;
  for (const page::AppFile& f : page::files()) {
    bundled.emplace_back(f.path);
    EXPECT_EQ(f.bytes, source_file(std::string(f.path))) << f.path;
  }
  EXPECT_EQ(bundled, on_disk);
  EXPECT_TRUE(std::find(bundled.begin(), bundled.end(), "index.html") != bundled.end());
}

TEST(AppPage, IndexAndFilesAreServedWithTheirTypesValidatorsAndPolicy) {
  const AppPage page;
  const net::Response r = get(page, "/.app/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, source_file("index.html"));
  EXPECT_EQ(header(r, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(header(r, "Cache-Control"), "no-cache");
  EXPECT_EQ(header(r, "ETag"), etag_of(source_file("index.html")));
  EXPECT_EQ(header(r, "Content-Security-Policy"),
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
            "worker-src 'self'; frame-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'");
  EXPECT_EQ(header(r, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(header(r, "Referrer-Policy"), "no-referrer");
  EXPECT_EQ(header(r, "Cross-Origin-Opener-Policy"), "same-origin");
  EXPECT_EQ(header(r, "Cross-Origin-Resource-Policy"), "same-origin");
  EXPECT_EQ(header(r, "X-Frame-Options"), "DENY");
  EXPECT_EQ(header(r, "Service-Worker-Allowed"), "(none)");
  EXPECT_EQ(get(page, "/.app/index.html?x=1").body, r.body);  // the query is ignored

  const net::Response js = get(page, "/.app/lib/fernet.js");
  EXPECT_EQ(js.status, 404);  // no such file: the crypto lives in lib/crypto.js
  const net::Response crypto = get(page, "/.app/lib/crypto.js");
  EXPECT_EQ(crypto.status, 200);
  EXPECT_EQ(crypto.body, source_file("lib/crypto.js"));
  EXPECT_EQ(header(crypto, "Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(header(get(page, "/.app/style.css"), "Content-Type"), "text/css; charset=utf-8");
  EXPECT_EQ(header(get(page, "/.app/sw.js"), "Service-Worker-Allowed"), "/.app/");

  const net::Response head = get(page, "/.app/main.js", "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.head_only);
  EXPECT_EQ(head.body.size(), source_file("main.js").size());  // HEAD carries the real length
}

TEST(AppPage, IfNoneMatchAnswers304WithoutABody) {
  const AppPage page;
  const std::string etag = etag_of(source_file("main.js"));
  for (const std::string& v : {etag, std::string("*"), "\"other\", " + etag}) {
    const net::Response r = get(page, "/.app/main.js", "GET", {{"If-None-Match", v}});
    EXPECT_EQ(r.status, 304) << v;
    EXPECT_EQ(r.body, "");
    EXPECT_EQ(header(r, "ETag"), etag);
  }
  EXPECT_EQ(get(page, "/.app/main.js", "GET", {{"If-None-Match", "\"other\""}}).status, 200);
}

TEST(AppPage, TheBarePathRedirectsAndAnythingNotInTheTableIs404) {
  const AppPage page;
  const net::Response r = get(page, "/.app");
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(header(r, "Location"), "/.app/");
  EXPECT_EQ(r.body, "");
  for (const char* t :
       {"/.app/missing.js", "/.app/../keys/server_ed25519.key", "/.app/%2e%2e/README.md", "/.app//index.html",
        "/.app/lib/", "/.app/lib", "/.app/./index.html", "/.app/INDEX.HTML", "/.app/index.html/"}) {
    const net::Response n = get(page, t);
    EXPECT_EQ(n.status, 404) << t;
    EXPECT_EQ(n.body, R"({"error":"not_found","reason":"app: no such file"})") << t;
  }
}

TEST(AppPage, OnlyGetAndHeadAre405WithAllow) {
  const AppPage page;
  for (const char* m : {"POST", "PUT", "DELETE", "OPTIONS"}) {
    const net::Response r = get(page, "/.app/", m);
    EXPECT_EQ(r.status, 405) << m;
    EXPECT_EQ(header(r, "Allow"), "GET, HEAD");
    EXPECT_EQ(r.body, R"({"error":"method_not_allowed","reason":"app: use GET or HEAD"})");
  }
}

TEST(AppPage, FilesJsonListsEveryFileAndTheAppHash) {
  const AppPage page;
  const net::Response r = get(page, "/.app/files.json");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(header(r, "Content-Type"), "application/json");
  const auto j = nlohmann::json::parse(r.body);
  // The hash recomputed here from the files on disk: F(path) || F(SHA-256) in path order.
  Bytes transcript;
  const auto field = [&](ByteView b) {
    for (int s = 24; s >= 0; s -= 8) transcript.push_back(static_cast<std::uint8_t>(b.size() >> s));
    transcript.insert(transcript.end(), b.begin(), b.end());
  };
  ASSERT_EQ(j["files"].size(), page::files().size());
  for (std::size_t i = 0; i < page::files().size(); ++i) {
    const std::string path(page::files()[i].path);
    const std::string bytes = source_file(path);
    const Sha256Digest d = sha256(as_bytes(bytes));
    EXPECT_EQ(
        j["files"][i],
        (nlohmann::json{{"path", path}, {"sha256", to_hex(ByteView(d.data(), d.size()))}, {"size", bytes.size()}}));
    if (i) { EXPECT_LT(j["files"][i - 1]["path"].get<std::string>(), path); }
    field(as_bytes(path));
    field(ByteView(d.data(), d.size()));
  }
  const Sha256Digest h = sha256(transcript);
  const std::string expected = "SHA256:" + base64_encode(ByteView(h.data(), h.size()), Alphabet::standard, false);
  EXPECT_EQ(j["app_hash"], expected);
  EXPECT_EQ(page.app_hash(), expected);
  EXPECT_EQ(page::app_hash(page::files()), expected);
}

}  // namespace
}  // namespace mh::web
