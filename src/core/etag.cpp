#include "core/etag.hpp"

#include "core/base64.hpp"
#include "core/fields.hpp"
#include "core/hash.hpp"

namespace mh {

std::string etag_of(const FileVersion& v) {
  FieldWriter w("minihttps/2 etag");
  w.integer(static_cast<std::int64_t>(v.dev)).integer(static_cast<std::int64_t>(v.inode));
  w.integer(static_cast<std::int64_t>(v.size)).integer(v.mtime_ns).integer(v.ctime_ns);
  const Sha256Digest d = sha256(w.bytes());
  return "\"" + base64_encode(ByteView(d.data(), 16), Alphabet::url, false) + "\"";
}

}  // namespace mh
