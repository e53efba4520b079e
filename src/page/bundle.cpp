#include "page/bundle.hpp"

#include "core/base64.hpp"
#include "core/fields.hpp"
#include "core/hash.hpp"

namespace mh::page {

std::string app_hash(std::span<const AppFile> files) {
  FieldWriter transcript;
  for (const AppFile& f : files) {
    const Sha256Digest digest = sha256(as_bytes(f.bytes));
    transcript.field(f.path).field(ByteView(digest.data(), digest.size()));
  }
  const Sha256Digest h = sha256(transcript.bytes());
  return "SHA256:" + base64_encode(ByteView(h.data(), h.size()), Alphabet::standard, false);
}

}  // namespace mh::page
