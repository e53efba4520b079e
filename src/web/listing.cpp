#include "web/listing.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <queue>
#include <vector>

#include "core/error.hpp"
#include "core/fields.hpp"
#include "core/hash.hpp"
#include "core/base64.hpp"
#include "io/files.hpp"
#include "io/unique_fd.hpp"

namespace mh::web {
namespace {

using io::errno_text;

struct DirCloser {
  void operator()(DIR* d) const noexcept { ::closedir(d); }
};
using UniqueDir = std::unique_ptr<DIR, DirCloser>;

struct Entry {
  std::string name;
  bool directory = false;
  std::uint64_t size = 0;
  std::int64_t mtime = 0;
};

std::vector<std::string> child(std::vector<std::string> segments, std::string name) {
  segments.push_back(std::move(name));
  return segments;
}

// An entry is listed only if a request for it would be served: a servable name, a regular file
// or directory, and (for a symlink) a target that opens beneath the root.
std::optional<Entry> classify(const io::Beneath& beneath, int dir_fd, const std::vector<std::string>& dir,
                              std::string name) {
  if (!is_servable_name(name)) return std::nullopt;
  struct stat st {};
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return std::nullopt;  // gone
  if (S_ISLNK(st.st_mode)) {
    try {
      st = beneath.open(child(dir, name)).st;
    } catch (const Error&) {
      return std::nullopt;  // outside, hidden, dangling, a loop: a request would be refused too
    }
  }
  if (S_ISDIR(st.st_mode)) return Entry{std::move(name), true, 0, 0};
  if (S_ISREG(st.st_mode))
    return Entry{std::move(name), false, static_cast<std::uint64_t>(st.st_size),
                 static_cast<std::int64_t>(st.st_mtim.tv_sec)};
  return std::nullopt;
}

struct Selection {
  std::vector<Entry> entries;  // sorted by name (bytewise)
  bool truncated = false;
};

// The first `limit` entries by name, in O(limit) memory however large the directory is.
Selection select_entries(const io::Beneath& beneath, DIR* d, const std::vector<std::string>& dir, std::size_t limit) {
  const auto by_name = [](const Entry& a, const Entry& b) { return a.name < b.name; };
  std::priority_queue<Entry, std::vector<Entry>, decltype(by_name)> heap(by_name);  // largest on top
  Selection out;
  for (;;) {
    errno = 0;
    const dirent* de = ::readdir(d);
    if (de == nullptr) {
      if (errno != 0) throw Error(Errc::io, "file: cannot read directory: " + errno_text(errno));
      break;
    }
    auto e = classify(beneath, ::dirfd(d), dir, de->d_name);
    if (!e) continue;
    heap.push(std::move(*e));
    if (heap.size() > limit) {
      heap.pop();
      out.truncated = true;
    }
  }
  out.entries.reserve(heap.size());
  for (; !heap.empty(); heap.pop()) out.entries.push_back(heap.top());
  std::reverse(out.entries.begin(), out.entries.end());
  return out;
}

std::string listing_json(const std::string& request_path, const Selection& s) {
  nlohmann::ordered_json entries = nlohmann::ordered_json::array();
  for (const auto& e : s.entries) {
    nlohmann::ordered_json j;
    j["name"] = e.name;
    j["type"] = e.directory ? "dir" : "file";
    if (!e.directory) {
      j["size"] = e.size;
      j["mtime"] = e.mtime;
    }
    entries.push_back(std::move(j));
  }
  nlohmann::ordered_json doc;
  doc["path"] = request_path;
  doc["entries"] = std::move(entries);
  if (s.truncated) doc["truncated"] = true;
  return doc.dump();  // names passed is_servable_name, so they are valid UTF-8
}

// The listing's bytes already reflect every entry's size and mtime; the directory's identity and
// mtime are added so that a recreated directory gets a new tag.
std::string listing_etag(const struct stat& dir, std::string_view listing) {
  FieldWriter w("minihttps/2 listing etag");
  w.integer(static_cast<std::int64_t>(dir.st_dev)).integer(static_cast<std::int64_t>(dir.st_ino));
  w.integer(static_cast<std::int64_t>(dir.st_mtim.tv_sec) * 1'000'000'000 + dir.st_mtim.tv_nsec).field(listing);
  const Sha256Digest d = sha256(w.bytes());
  return "\"" + base64_encode(ByteView(d.data(), 16), Alphabet::url, false) + "\"";
}

}  // namespace

Listing list_directory(const io::Beneath& beneath, io::Opened dir, const RequestPath& p, std::size_t limit) {
  UniqueDir d(::fdopendir(dir.fd.get()));
  if (!d) io::throw_file_error(errno);
  dir.fd.release();  // the DIR owns it now
  Listing out;
  out.json = listing_json(join_request_path(p.segments, true), select_entries(beneath, d.get(), dir.segments, limit));
  out.etag = listing_etag(dir.st, out.json);
  return out;
}

}  // namespace mh::web
