#pragma once
// What is on the server, as the commands that take paths need it: a directory's listing
// (docs/PROTOCOL.md §7, `?list`), one entry (a file is found in its parent's listing), and a whole
// tree for `get -r`. Paths are the user's, relative to the served folder or to the upload area;
// errors name them, never the request target behind them.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "client/connection.hpp"

namespace mh::client {

// "/docs//a/" -> "docs/a"; "/" and "" -> "" (the top).
std::string normalize_remote(std::string_view path);
// The last segment of a normalized path ("" for the top).
std::string remote_basename(const std::string& rel);
// The percent-encoded request target of a normalized path, in the served folder or the upload
// area; `dir` adds the trailing '/'.
std::string remote_target(const std::string& rel, bool uploads, bool dir = false);

struct RemoteEntry {
  std::string name;  // as the server sent it: escape before printing
  bool dir = false;
  std::uint64_t size = 0;  // files only
  std::int64_t mtime = 0;  // files only
};

struct RemoteListing {
  std::vector<RemoteEntry> entries;
  bool truncated = false;  // the server listed only the first of them
};

// The listing of directory `rel`, or nullopt when there is none (404: missing, or a file). Other
// refusals are raised as "WHAT: reason" (what: "ls docs/x", as the user wrote it).
std::optional<RemoteListing> list_remote(Connection& conn, const std::string& rel, bool uploads,
                                         const std::string& what);

// `rel` itself: a directory (its listing in *listing), or a file found in its parent's listing;
// nullopt when neither.
std::optional<RemoteEntry> stat_remote(Connection& conn, const std::string& rel, bool uploads, const std::string& what,
                                       std::optional<RemoteListing>* listing = nullptr);

// Every file and directory below `rel` (a directory), as paths relative to it ("a/b.txt"),
// directories before what they hold. A name that could not be a path segment (a hostile server's
// "..", "x/y") or a truncated listing is a problem, not a path: nothing is made of it.
struct RemoteTree {
  std::vector<std::string> dirs;
  std::vector<std::pair<std::string, std::uint64_t>> files;  // path, size
  std::vector<std::string> problems;
};
RemoteTree walk_remote(Connection& conn, const std::string& rel, bool uploads, const std::string& what,
                       RemoteListing top);

}  // namespace mh::client
