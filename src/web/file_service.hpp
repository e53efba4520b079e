#pragma once
// Serves www/ (docs/PROTOCOL.md §5.1 and §6, docs/ARCHITECTURE.md §3): every 200 body is one Fernet token
// under the requesting client's session key, produced streaming with constant memory.
//
// Two walls keep every byte outside the root unreachable: parse_request_path refuses traversal
// and hidden names in the request, then io::Beneath opens the name relative to a descriptor of the
// root so that no interleaving of renames can lead outside it (io/beneath.hpp). What is served,
// listed or indexed is always what was opened, never a name looked up again. Error reasons never
// contain filesystem paths: they reach the client.
//
// 200 responses carry
//   Content-Type: application/fernet            the body is a Fernet token (base64url text)
//   MiniHTTPS-Content-Type: <media type>        of the plaintext (media_types.hpp)
//   ETag: "<16 hex>"                            strong, of the plaintext (see file_service.cpp)
//   Cache-Control: private, no-store            the body is per-session ciphertext
// and a stream whose size() is exactly fernet_token_length(plaintext size) (the Content-Length).
#include <cstddef>
#include <cstdint>
#include <filesystem>

#include "core/fernet.hpp"
#include "io/beneath.hpp"
#include "core/path.hpp"
#include "net/http_types.hpp"

namespace mh::web {

// Never serve a single object larger than this (a sanity bound, far above any real www/ file).
inline constexpr std::uint64_t kMaxServedFileBytes = std::uint64_t{1} << 40;  // 1 TiB

struct FileServiceOptions {
  std::filesystem::path root;
  std::size_t max_listing_entries = 10000;
};

class FileService {
 public:
  // Opens root once; Errc::io if it does not exist or is not a directory. `how` is for tests
  // that must exercise the component walk where the kernel's openat2 would answer.
  explicit FileService(FileServiceOptions o, io::Resolution how = io::Resolution::fast_path_first);

  // GET or HEAD of req.target (path part; the query is ignored), honouring If-None-Match.
  // `key` is the client's session key, `now` the unix time stamped into the token.
  // Returns 200 with a streaming Fernet body (HEAD: head_only, stream set but never read) or 304.
  // Throws mh::Error: not_found, forbidden (traversal, hidden names, escapes, special files),
  // bad_request (malformed path), method_not_allowed (anything but GET/HEAD), io.
  net::Response serve(const net::Request& req, const FernetKey& key, std::int64_t now) const;

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
