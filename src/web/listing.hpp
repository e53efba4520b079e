#pragma once
// Directory listings (docs/PROTOCOL.md §7): the JSON of a directory that was opened beneath
// the root, with only the entries a request could be served, and its ETag.
#include <cstddef>
#include <string>

#include "core/path.hpp"
#include "io/beneath.hpp"

namespace mh::web {

struct Listing {
  std::string json;  // {"path":..., "entries":[...], "truncated": true?}
  std::string etag;  // of the listing's bytes and the directory's own identity and mtime
};

// Lists `dir` (consumed: its descriptor is read to the end), at most `limit` entries by name.
// An entry is listed only if a request for it would be served: a servable name, a regular file
// or directory, and (for a symlink) a target that opens beneath the root.
Listing list_directory(const io::Beneath& beneath, io::Opened dir, const RequestPath& p, std::size_t limit);

}  // namespace mh::web
