// `minihttps page` (docs/PROTOCOL.md §2.1, docs/SECURITY.md): the hash of the page built into the
// client is the one the server announces, and --check fetches every file of the page from the
// real server and compares bytes, so one changed byte on the way (the tamper proxy) is exit 5.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "net/http_client.hpp"
#include "page/bundle.hpp"
#include "support/server_process.hpp"
#include "support/tamper_proxy.hpp"
#include "support/test_support.hpp"

namespace mh::test {
namespace {

TEST(PageCheck, TheClientsHashIsTheOneTheServerAnnouncesAndServes) {
  ServerProcess server;
  TempDir home;
  const CommandResult printed = run_client(home.path(), {"page"});
  ASSERT_EQ(printed.exit_code, 0) << describe(printed);
  const std::string hash = page::app_hash(page::files());
  EXPECT_EQ(printed.out, hash + "\n");
  EXPECT_NE(server.stdout_text().find("(page " + hash + ")"), std::string::npos) << server.stdout_text();
  net::HttpClient http(net::ServerUrl::parse(server.url()), std::chrono::seconds(10));
  net::Request req;
  req.method = "GET";
  req.target = "/.app/files.json";
  EXPECT_EQ(nlohmann::json::parse(http.send(req).body)["app_hash"], hash);

  const CommandResult checked = run_client(home.path(), {"--server", server.url(), "page", "--check"});
  ASSERT_EQ(checked.exit_code, 0) << describe(checked);
  EXPECT_EQ(checked.out, hash + "\nthe page at " + server.url() + "/.app/ is exactly this client's page (" +
                             std::to_string(page::files().size()) + " files)\n");
}

TEST(PageCheck, OneByteChangedOnTheWayIsExit5NamingTheFile) {
  ServerProcess server;
  TamperProxy proxy(server.port());
  proxy.set_mode(TamperProxy::Mode::flip_body_bit, "GET /.app/main.js ");
  TempDir home;
  const CommandResult r = run_client(home.path(), {"--server", proxy.url(), "page", "--check"});
  EXPECT_EQ(r.exit_code, 5) << describe(r);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "minihttps: the page at " + proxy.url() + "/.app/ is not this client's page " +
                       page::app_hash(page::files()) + "; changed: main.js\n");
  EXPECT_EQ(proxy.tampered(), 1);
}

TEST(PageCheck, AServerWithoutThePageSaysSo) {
  ServerProcess server(with_args({"--no-web-app"}));
  TempDir home;
  const CommandResult r = run_client(home.path(), {"--server", server.url(), "page", "--check"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(r.err, "minihttps: the server at " + server.url() + " serves no page (started with --no-web-app?)\n");
  const CommandResult nowhere = run_client(home.path(), {"page", "--check"});
  EXPECT_EQ(nowhere.exit_code, 2) << describe(nowhere);
  EXPECT_EQ(nowhere.err, "minihttps: no server yet: run `minihttps connect HOST:PORT`\n");
}

}  // namespace
}  // namespace mh::test
