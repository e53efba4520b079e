#include "client/remote_tree.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "client/download.hpp"
#include "core/routes.hpp"
#include "core/path.hpp"
#include "core/terminal_text.hpp"

namespace mh::client {

std::string normalize_remote(std::string_view path) {
  std::string out;
  for (std::size_t pos = 0; pos < path.size();) {
    const std::size_t end = std::min(path.find('/', pos), path.size());
    if (end > pos) out += (out.empty() ? "" : "/") + std::string(path.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

std::string remote_basename(const std::string& rel) { return rel.substr(rel.rfind('/') + 1); }

std::string remote_target(const std::string& rel, bool uploads, bool dir) {
  const std::string path = (uploads ? std::string(routes::kUploads) + "/" : std::string("/")) + rel;
  return encode_path(dir && !rel.empty() ? path + "/" : path);
}

namespace {

RemoteListing parse_listing(const std::string& body, const std::string& what) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("entries") || !j["entries"].is_array())
    throw Error(Errc::integrity, what + ": the server's listing is not valid JSON");
  RemoteListing out;
  for (const auto& e : j["entries"]) {
    if (!e.is_object()) throw Error(Errc::integrity, what + ": the server's listing is not valid JSON");
    RemoteEntry r;
    const auto name = e.find("name"), size = e.find("size"), mtime = e.find("mtime");
    r.name = name != e.end() && name->is_string() ? name->get<std::string>() : "?";
    r.dir = e.value("type", "") == "dir";
    if (size != e.end() && size->is_number_unsigned()) r.size = size->get<std::uint64_t>();
    if (mtime != e.end() && mtime->is_number_integer()) r.mtime = mtime->get<std::int64_t>();
    out.entries.push_back(std::move(r));
  }
  out.truncated = j.value("truncated", false);
  return out;
}

}  // namespace

std::optional<RemoteListing> list_remote(Connection& conn, const std::string& rel, bool uploads,
                                         const std::string& what) {
  const Answer a = conn.send(Exchange{.method = "GET", .target = remote_target(rel, uploads, true) + "?list"});
  if (a.status == 404) return std::nullopt;
  if (a.status != 200) Connection::raise(a, what);
  return parse_listing(a.body, what);
}

std::optional<RemoteEntry> stat_remote(Connection& conn, const std::string& rel, bool uploads, const std::string& what,
                                       std::optional<RemoteListing>* listing) {
  std::optional<RemoteListing> own = list_remote(conn, rel, uploads, what);
  if (own) {
    if (listing) *listing = std::move(own);
    return RemoteEntry{remote_basename(rel), true, 0, 0};
  }
  if (rel.empty()) return std::nullopt;
  const std::size_t slash = rel.rfind('/');
  const auto parent = list_remote(conn, slash == std::string::npos ? "" : rel.substr(0, slash), uploads, what);
  if (!parent) return std::nullopt;
  const std::string name = remote_basename(rel);
  for (const auto& e : parent->entries)
    if (e.name == name && !e.dir) return e;
  return std::nullopt;
}

RemoteTree walk_remote(Connection& conn, const std::string& rel, bool uploads, const std::string& what,
                       RemoteListing top) {
  RemoteTree out;
  // Depth first, with an explicit stack: (path below `rel`, its listing).
  std::vector<std::pair<std::string, RemoteListing>> stack;
  stack.emplace_back("", std::move(top));
  while (!stack.empty()) {
    auto [below, listing] = std::move(stack.back());
    stack.pop_back();
    const std::string shown = rel.empty() ? "/" + below : rel + (below.empty() ? "" : "/" + below);
    if (listing.truncated)
      out.problems.push_back(what + ": the server listed only part of " + terminal_safe(shown, 300) +
                             " (truncated); the rest of it is not fetched");
    for (auto it = listing.entries.begin(); it != listing.entries.end(); ++it) {
      const std::string path = below.empty() ? it->name : below + "/" + it->name;
      // Every part of a path that becomes a local file is a name a request could use: no "..",
      // no '/', no hidden names, whatever a server lists.
      if (!is_servable_name(it->name)) {
        out.problems.push_back(what + ": the server listed an impossible name in " + terminal_safe(shown, 300) + ": " +
                               terminal_safe(it->name, 300) + "; not fetched");
        continue;
      }
      if (!it->dir) {
        out.files.emplace_back(path, it->size);
        continue;
      }
      const std::string full = rel.empty() ? path : rel + "/" + path;
      if (std::count(full.begin(), full.end(), '/') + 2 > static_cast<std::ptrdiff_t>(kMaxSegments)) {
        out.problems.push_back(what + ": " + terminal_safe(full, 300) + " is nested too deeply; not fetched");
        continue;
      }
      auto sub = list_remote(conn, full, uploads, what);
      if (!sub) {
        out.problems.push_back(what + ": " + terminal_safe(full, 300) + " went away while it was listed");
        continue;
      }
      out.dirs.push_back(path);
      stack.emplace_back(path, std::move(*sub));
    }
  }
  // By path: a directory before what it holds, and the same order on every run.
  std::sort(out.dirs.begin(), out.dirs.end());
  std::sort(out.files.begin(), out.files.end());
  return out;
}

}  // namespace mh::client
