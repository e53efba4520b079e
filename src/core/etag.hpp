#pragma once
// The strong validator of a served file (docs/PROTOCOL.md §7.3): it changes whenever the file
// is replaced (device, inode), resized or written (nanosecond mtime and ctime), so a download
// resumed with If-Range can never join two versions.
#include <cstdint>
#include <string>

namespace mh {

struct FileVersion {
  std::uint64_t dev = 0, inode = 0, size = 0;
  std::int64_t mtime_ns = 0, ctime_ns = 0;
  bool operator==(const FileVersion&) const = default;
};

// "\"" + b64u(first 16 bytes of SHA-256(F("minihttps/2 etag") || F(int dev) || ...)) + "\"".
std::string etag_of(const FileVersion& v);

}  // namespace mh
