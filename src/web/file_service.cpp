#include "web/file_service.hpp"

#include <sys/stat.h>

#include <optional>
#include <string>
#include <vector>

#include "core/conditional.hpp"
#include "core/error.hpp"
#include "web/file_chunks.hpp"
#include "web/listing.hpp"
#include "web/media_types.hpp"

namespace mh::web {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kIndexName = "index.html";
constexpr std::string_view kListingMediaType = "application/json";

Answer not_modified(std::string etag) {
  Answer a;
  a.status = 304;
  a.etag = std::move(etag);
  return a;
}

std::optional<std::string_view> field(const FileRequest& r, std::string_view name) {
  return net::find_header(r.fields, name);
}

// The file that was opened: conditions first, then Range (GET only; If-Range may void it).
Answer serve_file(io::UniqueFd fd, const struct stat& st, std::string_view media_type, const FileRequest& r) {
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size > kMaxServedFileBytes) throw Error(Errc::forbidden, "file: too large to serve");
  std::string etag = etag_of(version_of(st));
  if (const auto inm = field(r, "if-none-match"); inm && if_none_match_hits(*inm, etag)) return not_modified(etag);
  Answer a;
  a.content_type = std::string(media_type);
  a.etag = etag;
  a.size = size;
  if (r.method == "HEAD") return a;
  std::optional<std::string_view> range = field(r, "range");
  if (const auto if_range = field(r, "if-range"); range && if_range && !if_range_matches(*if_range, etag))
    range.reset();
  const RangeDecision d = decide_range(range, size);
  switch (d.kind) {
    case RangeDecision::Kind::whole: a.layout = stream::Layout::whole(size, r.chunk_size); break;
    case RangeDecision::Kind::partial:
      a.status = 206;
      a.layout = stream::Layout::covering(size, r.chunk_size, d.first, d.last);
      break;
    case RangeDecision::Kind::unsatisfiable:
      a.status = 416;
      a.content_range = "bytes */" + std::to_string(size);
      a.size = 0;
      return a;
  }
  a.source = std::make_unique<FileChunks>(std::move(fd), st);
  return a;
}

Answer serve_listing(const io::Beneath& beneath, io::Opened dir, const RequestPath& p, std::size_t limit,
                     const FileRequest& r) {
  Listing l = list_directory(beneath, std::move(dir), p, limit);
  if (const auto inm = field(r, "if-none-match"); inm && if_none_match_hits(*inm, l.etag)) return not_modified(l.etag);
  Answer a = body_answer(200, std::string(kListingMediaType), std::move(l.json), r.chunk_size);
  a.etag = std::move(l.etag);
  if (r.method == "HEAD") {
    a.layout.reset();
    a.body.clear();
  }
  return a;
}

// The directory's index.html when it opens as a regular file; a missing, hidden-away or escaping
// one just means "list the directory".
std::optional<io::Opened> find_index(const io::Beneath& beneath, const io::Opened& dir) {
  try {
    std::vector<std::string> segments = dir.segments;
    segments.emplace_back(kIndexName);
    io::Opened index = beneath.open(segments);
    if (!index.directory()) return index;
  } catch (const Error& e) {
    if (e.code() != Errc::not_found && e.code() != Errc::forbidden) throw;
  }
  return std::nullopt;
}

}  // namespace

FileService::FileService(FileServiceOptions o, io::Resolution how) : opts_(std::move(o)), beneath_(opts_.root, how) {
  opts_.root = beneath_.root();
}

fs::path FileService::resolve(const RequestPath& p) const {
  const io::Opened o = beneath_.open(p.segments);
  if (!o.directory() && p.trailing_slash) throw Error(Errc::not_found, "file: not found");
  fs::path out = beneath_.root();
  for (const auto& seg : o.segments) out /= seg;
  return out;
}

Answer FileService::serve(const FileRequest& r) const {
  if (r.method != "GET" && r.method != "HEAD") throw Error(Errc::method_not_allowed, "file service: use GET or HEAD");
  const RequestPath p = parse_request_path(target_path(r.target));
  // "?list" asks a directory for its listing even when it has an index.html.
  const auto q = r.target.find('?');
  const bool listing_asked = q != std::string_view::npos && r.target.substr(q + 1) == "list";
  io::Opened found = beneath_.open(p.segments);
  if (!found.directory()) {
    if (p.trailing_slash) throw Error(Errc::not_found, "file: not found");  // "a.txt/" names a directory
    // The media type follows the name the client asked for (a symlink's target may be named otherwise).
    return serve_file(std::move(found.fd), found.st, media_type_for(p.segments.back()), r);
  }
  if (!listing_asked)
    if (auto index = find_index(beneath_, found))
      return serve_file(std::move(index->fd), index->st, media_type_for(kIndexName), r);
  return serve_listing(beneath_, std::move(found), p, opts_.max_listing_entries, r);
}

}  // namespace mh::web
