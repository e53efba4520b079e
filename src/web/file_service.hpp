#pragma once
// Serves www/ (docs/PROTOCOL.md §7, docs/ARCHITECTURE.md §3): GET and HEAD of files and
// directories, with Range, If-Range and If-None-Match, as Answers whose bodies the responder
// streams chunk by chunk (web/answer.hpp). Listings are in web/listing.hpp, the file's chunks in
// web/file_chunks.hpp, ETags in core/etag.hpp.
//
// Two walls keep every byte outside the root unreachable: parse_request_path refuses traversal
// and hidden names in the request, then io::Beneath opens the name relative to a descriptor of the
// root so that no interleaving of renames can lead outside it (io/beneath.hpp). What is served,
// listed or indexed is always what was opened, never a name looked up again. Error reasons never
// contain filesystem paths: they reach the client.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>

#include "core/path.hpp"
#include "io/beneath.hpp"
#include "net/http_types.hpp"
#include "web/answer.hpp"

namespace mh::web {

// Never serve a single object larger than this (a sanity bound, far above any real www/ file).
inline constexpr std::uint64_t kMaxServedFileBytes = std::uint64_t{1} << 42;  // 4 TiB

struct FileServiceOptions {
  std::filesystem::path root;
  std::size_t max_listing_entries = 10000;
};

// What the file service needs of a request: the one the client meant (the inner one when sealed).
struct FileRequest {
  std::string_view method;
  std::string_view target;  // "/docs/a.txt", "/docs/?list"
  const net::Headers& fields;
  std::uint32_t chunk_size;  // of the session
};

class FileService {
 public:
  // Opens root once; Errc::io if it does not exist or is not a directory. `how` is for tests
  // that must exercise the component walk where the kernel's openat2 would answer.
  explicit FileService(FileServiceOptions o, io::Resolution how = io::Resolution::fast_path_first);

  // 200 with the file or listing, 206 with the chunks covering a Range, 304, 416, or HEAD's head.
  // Throws mh::Error: not_found, forbidden (traversal, hidden names, escapes, special files),
  // bad_request (malformed path), method_not_allowed (anything but GET/HEAD), io.
  Answer serve(const FileRequest& r) const;

  // The canonical path of the file or directory `p` names, inside the root. Re-checks every
  // segment (a RequestPath may be built by hand). Throws Errc::not_found when it does not exist
  // (or a regular file is named with a trailing slash), Errc::forbidden when it escapes the root
  // through a symlink, is a symlink loop, or is neither a regular file nor a directory
  // (io/beneath.hpp has every reason).
  std::filesystem::path resolve(const RequestPath& p) const;

  const std::filesystem::path& root() const noexcept { return opts_.root; }

 private:
  FileServiceOptions opts_;
  io::Beneath beneath_;
};

}  // namespace mh::web
