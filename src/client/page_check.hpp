#pragma once
// `minihttps page`: the hash of the browser client built into this binary, and whether a server
// serves exactly that page (docs/PROTOCOL.md §2.1, docs/SECURITY.md). The check fetches every file
// of this client's page from the server's /.app/ and compares bytes; it never trusts the server's
// files.json. It proves what the server sent to this request, not what it sends to a browser.
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "client/commands.hpp"
#include "page/bundle.hpp"

namespace mh::client {

struct PageComparison {
  std::vector<std::string> changed;  // served, with other bytes
  std::vector<std::string> missing;  // not served (404)
  bool same() const noexcept { return changed.empty() && missing.empty(); }
};

// Compares each file of `ours` with what `fetch(path)` returns (nullopt: not served). Pure.
PageComparison compare_page(std::span<const page::AppFile> ours,
                            const std::function<std::optional<std::string>(std::string_view path)>& fetch);

// Prints the app hash; with `check`, also fetches the page from the server (--server or the one
// remembered) and exits 0 when it is exactly this page, 5 when not, 1 when the server serves none.
int run_page(const GlobalOptions& g, bool check);

}  // namespace mh::client
