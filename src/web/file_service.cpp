#include "web/file_service.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "core/bytes.hpp"
#include "core/conditional.hpp"
#include "core/hash.hpp"
#include "io/beneath.hpp"
#include "io/unique_fd.hpp"
#include "web/media_types.hpp"

namespace mh::web {
namespace fs = std::filesystem;
using io::errno_text;
using io::UniqueFd;

namespace {

// Plaintext read per step: large enough that one step fills most of the server's 64 KiB write
// chunk (48 KiB -> 64 KiB of base64), small enough to stay in cache.
constexpr std::size_t kReadChunk = 48 * 1024;
// Below this much room the encoder writes into the spill buffer instead of the caller's buffer:
// tiny direct steps could produce no output at all (the cipher and base64 hold back partial blocks).
constexpr std::size_t kMinDirect = 4096;
constexpr std::size_t kSpillCapacity =
    FernetEncoder::max_update_output(kReadChunk) + FernetEncoder::max_finish_output();

// Files at least this large are announced to the kernel as read sequentially (more read-ahead).
constexpr std::uint64_t kFadviseMin = 1 << 20;

constexpr std::string_view kIndexName = "index.html";
constexpr std::string_view kListingMediaType = "application/json";

// ---- small POSIX helpers ---------------------------------------------------------------------

struct DirCloser {
  void operator()(DIR* d) const noexcept { ::closedir(d); }
};
using UniqueDir = std::unique_ptr<DIR, DirCloser>;

std::int64_t mtime_ns(const struct stat& st) noexcept {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

// ---- ETags -----------------------------------------------------------------------------------

void hash_u64(Sha256& h, std::uint64_t v) {
  std::uint8_t b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
  h.update(ByteView(b, 8));
}

// A hash rather than the raw numbers: the header travels in clear, and device and inode numbers
// are nobody's business. 64 bits are plenty to tell versions of one resource apart.
std::string format_etag(const Sha256Digest& d) { return "\"" + to_hex(ByteView(d.data(), 8)) + "\""; }

// Strong: any change of content through write(2) moves the size or the nanosecond mtime, and a
// replaced file has another inode.
std::string file_etag(const struct stat& st) {
  Sha256 h;
  h.update(as_bytes("minihttps file etag v1"));
  hash_u64(h, static_cast<std::uint64_t>(st.st_dev));
  hash_u64(h, static_cast<std::uint64_t>(st.st_ino));
  hash_u64(h, static_cast<std::uint64_t>(st.st_size));
  hash_u64(h, static_cast<std::uint64_t>(mtime_ns(st)));
  return format_etag(h.finish());
}

// The listing's bytes already reflect every entry's size and mtime; the directory's own
// metadata is added as the brief asks, so a recreated directory gets a new tag.
std::string listing_etag(const struct stat& dir, std::string_view listing) {
  Sha256 h;
  h.update(as_bytes("minihttps listing etag v1"));
  hash_u64(h, static_cast<std::uint64_t>(dir.st_dev));
  hash_u64(h, static_cast<std::uint64_t>(dir.st_ino));
  hash_u64(h, static_cast<std::uint64_t>(mtime_ns(dir)));
  h.update(as_bytes(listing));
  return format_etag(h.finish());
}

// ---- response bodies -------------------------------------------------------------------------

// Reads the file in kReadChunk steps and encrypts straight into the caller's buffer when the
// worst-case output fits; otherwise (small buffers, the final MAC) through a spill buffer.
// Memory stays constant whatever the file size. Exactly `plain_size` bytes are served: a file
// that grows is cut there, one that shrinks aborts the response (Errc::io), so the client sees a
// truncated token and refuses it.
class FernetFileSource final : public net::BodySource {
 public:
  FernetFileSource(UniqueFd fd, std::uint64_t plain_size, const FernetKey& key, std::int64_t now)
      : fd_(std::move(fd)),
        plain_size_(plain_size),
        remaining_(plain_size),
        token_size_(fernet_token_length(plain_size)),
        key_(key),
        now_(now),
        iv_(random_iv()),
        enc_(key_, now_, iv_),
        // Sized for this file (small files are the common case) and not zeroed: it is always
        // filled before use.
        plain_(std::make_unique_for_overwrite<std::uint8_t[]>(
            static_cast<std::size_t>(std::min<std::uint64_t>(kReadChunk, std::max<std::uint64_t>(plain_size, 1))))) {
    // Advisory (failure changes nothing), and a system call per request not worth it for small files.
    if (plain_size >= kFadviseMin) ::posix_fadvise(fd_.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  }

  std::uint64_t size() const override { return token_size_; }

  // The same token again (same IV and time), for a digest pass before sending. If the file
  // changed in between, the digest will not match and the client refuses the body.
  bool rewind() override {
    if (::lseek(fd_.get(), 0, SEEK_SET) != 0) return false;
    remaining_ = plain_size_;
    emitted_ = 0;
    enc_ = FernetEncoder(key_, now_, iv_);
    finished_ = false;
    spill_pos_ = spill_len_ = 0;
    return true;
  }

  std::size_t read(char* buf, std::size_t cap) override {
    if (cap == 0) throw Error(Errc::internal, "body read with no room");
    for (;;) {
      if (spill_pos_ < spill_len_) return count(drain_spill(buf, cap));
      if (finished_) {
        if (emitted_ != token_size_) throw Error(Errc::internal, "fernet stream length differs from its promise");
        return 0;
      }
      if (const std::size_t n = produce(buf, cap); n > 0) return count(n);
    }
  }

 private:
  // The most plaintext whose worst-case encoding fits in cap characters, if any:
  // the largest n with max_update_output(n) = (n + 43) / 3 * 4 + 4 <= cap.
  static std::optional<std::size_t> plaintext_fitting(std::size_t cap) noexcept {
    if (cap < 4) return std::nullopt;
    const std::size_t q = (cap - 4) / 4;
    if (3 * q < 41) return std::nullopt;
    return 3 * q - 41;
  }

  std::size_t count(std::size_t n) noexcept {
    emitted_ += n;
    return n;
  }

  // Encrypts the next step. Returns the characters written to buf; 0 when it went to the spill.
  std::size_t produce(char* buf, std::size_t cap) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kReadChunk, remaining_));
    const auto fit = plaintext_fitting(cap);
    if (fit && *fit >= std::min(want, kMinDirect)) {
      const std::size_t n = std::min(*fit, want);
      char* end = enc_.update(fill_plain(n), buf);
      if (remaining_ == 0) {
        if (static_cast<std::size_t>(buf + cap - end) >= FernetEncoder::max_finish_output()) {
          end = enc_.finish(end);
        } else {
          char* const start = reset_spill();
          spill_len_ = static_cast<std::size_t>(enc_.finish(start) - start);
        }
        finished_ = true;
      }
      return static_cast<std::size_t>(end - buf);
    }
    char* const start = reset_spill();
    char* end = enc_.update(fill_plain(want), start);
    if (remaining_ == 0) {
      end = enc_.finish(end);
      finished_ = true;
    }
    spill_len_ = static_cast<std::size_t>(end - start);
    return 0;
  }

  // Reads exactly n bytes of the file (n <= kReadChunk).
  ByteView fill_plain(std::size_t n) {
    std::size_t got = 0;
    while (got < n) {
      const ssize_t r = ::read(fd_.get(), plain_.get() + got, n - got);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw Error(Errc::io, "file: read failed: " + errno_text(errno));
      if (r == 0) throw Error(Errc::io, "file: shrank while being served");
      got += static_cast<std::size_t>(r);
    }
    remaining_ -= n;
    return ByteView(plain_.get(), n);
  }

  // The empty spill buffer, to be filled. Allocated on first use: with the server's 64 KiB
  // buffer only the final MAC may ever need it.
  char* reset_spill() {
    if (!spill_) spill_ = std::make_unique_for_overwrite<char[]>(kSpillCapacity);
    spill_pos_ = 0;
    return spill_.get();
  }

  std::size_t drain_spill(char* buf, std::size_t cap) noexcept {
    const std::size_t n = std::min(cap, spill_len_ - spill_pos_);
    std::memcpy(buf, spill_.get() + spill_pos_, n);
    spill_pos_ += n;
    return n;
  }

  static FernetIv random_iv() {
    FernetIv iv{};
    random_fill(iv);
    return iv;
  }

  UniqueFd fd_;
  std::uint64_t plain_size_;
  std::uint64_t remaining_;  // plaintext bytes still to read
  std::uint64_t token_size_;
  std::uint64_t emitted_ = 0;
  FernetKey key_;
  std::int64_t now_;
  FernetIv iv_;
  FernetEncoder enc_;
  bool finished_ = false;
  std::unique_ptr<std::uint8_t[]> plain_;
  std::unique_ptr<char[]> spill_;
  std::size_t spill_pos_ = 0;
  std::size_t spill_len_ = 0;
};

// A small body already encrypted (directory listings, bounded by max_listing_entries).
class TokenSource final : public net::BodySource {
 public:
  explicit TokenSource(std::string token) : token_(std::move(token)) {}
  std::uint64_t size() const override { return token_.size(); }
  std::size_t read(char* buf, std::size_t cap) override {
    const std::size_t n = std::min(cap, token_.size() - pos_);
    std::memcpy(buf, token_.data() + pos_, n);
    pos_ += n;
    return n;
  }
  bool rewind() override {
    pos_ = 0;
    return true;
  }

 private:
  std::string token_;
  std::size_t pos_ = 0;
};

// HEAD: the length is promised, the body is never produced (the server sends headers only).
class LengthOnlySource final : public net::BodySource {
 public:
  explicit LengthOnlySource(std::uint64_t n) : n_(n) {}
  std::uint64_t size() const override { return n_; }
  std::size_t read(char*, std::size_t) override { throw Error(Errc::internal, "HEAD body must not be read"); }

 private:
  std::uint64_t n_;
};

// ---- responses -------------------------------------------------------------------------------

void set_cache_headers(net::Response& r, const std::string& etag) {
  r.set("ETag", etag);
  // The body is ciphertext under one session's key: useless to anyone else and after the session
  // ends, so no cache should keep it. Clients revalidate their own plaintext copy with the ETag.
  r.set("Cache-Control", "private, no-store");
}

net::Response not_modified(const std::string& etag) {
  net::Response r;
  r.status = 304;
  set_cache_headers(r, etag);
  return r;
}

net::Response fernet_response(std::unique_ptr<net::BodySource> body, std::string_view media_type,
                              const std::string& etag, bool head) {
  net::Response r;
  r.status = 200;
  r.set("Content-Type", "application/fernet");
  r.set("MiniHTTPS-Content-Type", std::string(media_type));
  set_cache_headers(r, etag);
  r.stream = std::move(body);
  r.head_only = head;
  return r;
}

// What one serve() call needs besides the target.
struct Call {
  const FernetKey& key;
  std::int64_t now;
  bool head;
  std::optional<std::string_view> if_none_match;
};

net::Response serve_opened(UniqueFd fd, const struct stat& st, std::string_view media_type, const Call& c) {
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size > kMaxServedFileBytes) throw Error(Errc::forbidden, "file: too large to serve");
  std::string etag = file_etag(st);
  if (c.if_none_match && if_none_match_hits(*c.if_none_match, etag)) return not_modified(etag);
  std::unique_ptr<net::BodySource> body;
  if (c.head) {
    body = std::make_unique<LengthOnlySource>(fernet_token_length(size));
  } else {
    body = std::make_unique<FernetFileSource>(std::move(fd), size, c.key, c.now);
  }
  return fernet_response(std::move(body), media_type, etag, c.head);
}

// ---- listings --------------------------------------------------------------------------------

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

// Lists the directory that was opened (not a name looked up again).
net::Response serve_listing(const io::Beneath& beneath, io::Opened dir, const RequestPath& p, std::size_t limit,
                            const Call& c) {
  UniqueDir d(::fdopendir(dir.fd.get()));
  if (!d) io::throw_file_error(errno);
  dir.fd.release();  // the DIR owns it now
  const std::string json =
      listing_json(join_request_path(p.segments, true), select_entries(beneath, d.get(), dir.segments, limit));
  std::string etag = listing_etag(dir.st, json);
  if (c.if_none_match && if_none_match_hits(*c.if_none_match, etag)) return not_modified(etag);
  std::unique_ptr<net::BodySource> body;
  if (c.head)
    body = std::make_unique<LengthOnlySource>(fernet_token_length(json.size()));
  else
    body = std::make_unique<TokenSource>(fernet_encrypt(c.key, as_bytes(json), c.now));
  return fernet_response(std::move(body), kListingMediaType, etag, c.head);
}

// The directory's index.html when it opens as a regular file; a missing, hidden-away or escaping
// one just means "list the directory".
std::optional<io::Opened> find_index(const io::Beneath& beneath, const io::Opened& dir) {
  try {
    io::Opened index = beneath.open(child(dir.segments, std::string(kIndexName)));
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

net::Response FileService::serve(const net::Request& req, const FernetKey& key, std::int64_t now) const {
  if (req.method != "GET" && req.method != "HEAD")
    throw Error(Errc::method_not_allowed, "file service: use GET or HEAD");
  const RequestPath p = parse_request_path(target_path(req.target));
  const Call call{key, now, req.method == "HEAD", req.header("If-None-Match")};
  // "?list" asks a directory for its listing even when it has an index.html.
  const std::string_view target = req.target;
  const bool listing_asked = target.find('?') != std::string_view::npos && target.substr(target.find('?') + 1) == "list";
  io::Opened found = beneath_.open(p.segments);
  if (!found.directory()) {
    if (p.trailing_slash) throw Error(Errc::not_found, "file: not found");  // "a.txt/" names a directory
    // The media type follows the name the client asked for (a symlink's target may be named otherwise).
    return serve_opened(std::move(found.fd), found.st, media_type_for(p.segments.back()), call);
  }
  if (!listing_asked)
    if (auto index = find_index(beneath_, found)) return serve_opened(std::move(index->fd), index->st, media_type_for(kIndexName), call);
  return serve_listing(beneath_, std::move(found), p, opts_.max_listing_entries, call);
}

}  // namespace mh::web
