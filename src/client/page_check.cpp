#include "client/page_check.hpp"

#include <cstdio>

#include "client/exit_codes.hpp"
#include "client/home.hpp"
#include "core/error.hpp"
#include "core/routes.hpp"
#include "net/http_client.hpp"

namespace mh::client {

namespace {

constexpr std::size_t kMaxPageFileBytes = 16 << 20;  // far above any file of the page

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

PageComparison compare_page(std::span<const page::AppFile> ours,
                            const std::function<std::optional<std::string>(std::string_view path)>& fetch) {
  PageComparison c;
  for (const page::AppFile& f : ours) {
    const std::optional<std::string> served = fetch(f.path);
    if (!served)
      c.missing.emplace_back(f.path);
    else if (*served != f.bytes)
      c.changed.emplace_back(f.path);
  }
  return c;
}

int run_page(const GlobalOptions& g, bool check) {
  const std::span<const page::AppFile> ours = page::files();
  const std::string hash = page::app_hash(ours);
  if (!check) {
    std::printf("%s\n", hash.c_str());
    return kOk;
  }
  const Home home = Home::locate(g.home);
  const net::ServerUrl url = server_url(g, home);
  net::HttpClient http(url, std::chrono::seconds(g.timeout_seconds));
  const std::string where = url.str() + std::string(routes::kApp) + "/";
  const auto get = [&](std::string_view path) {
    net::Request req;
    req.method = "GET";
    req.target = std::string(routes::kApp) + "/" + std::string(path);
    return http.send(req, kMaxPageFileBytes);
  };
  // The manifest is public exactly when the page is served; its contents are not needed.
  if (get("files.json").status != 200)
    throw Error(Errc::not_found, "the server at " + url.str() + " serves no page (started with --no-web-app?)");
  const PageComparison c = compare_page(ours, [&](std::string_view path) -> std::optional<std::string> {
    const net::ClientResponse r = get(path);
    if (r.status == 200) return r.body;
    if (r.status != 404)
      throw Error(Errc::not_found,
                  where + std::string(path) + ": the server answered HTTP " + std::to_string(r.status));
    return std::nullopt;
  });
  if (!c.same()) {
    std::string what;
    if (!c.changed.empty()) what += "; changed: " + joined(c.changed);
    if (!c.missing.empty()) what += "; missing: " + joined(c.missing);
    throw Error(Errc::integrity, "the page at " + where + " is not this client's page " + hash + what);
  }
  std::printf("%s\nthe page at %s is exactly this client's page (%zu files)\n", hash.c_str(), where.c_str(),
              ours.size());
  return kOk;
}

}  // namespace mh::client
