#include "web/upload_service.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <limits>
#include <optional>
#include <utility>

#include "core/base64.hpp"
#include "core/cksum.hpp"
#include "core/stream.hpp"
#include "core/path.hpp"
#include "core/routes.hpp"
#include "io/files.hpp"
#include "io/unique_fd.hpp"
#include "web/file_service.hpp"

namespace mh::web {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kPrefix = routes::kUploads;
constexpr const char* kFilesDir = "files";
constexpr const char* kAttemptsDir = ".attempts";

// The client's area: hex of the SHA-256 in its key fingerprint ("SHA256:<b64>").
std::string area_of(const auth::ClientRecord& c) {
  const Bytes digest = base64_decode(c.fingerprint.substr(7), Alphabet::standard, Padding::optional);
  return to_hex(digest);
}

// "?commit=ID" -> "ID" for that key, else empty.
std::string query_value(std::string_view target, std::string_view key) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  const std::string_view query = target.substr(q + 1);
  if (query.substr(0, key.size()) != key || query.size() <= key.size() || query[key.size()] != '=') return {};
  return std::string(query.substr(key.size() + 1));
}

bool valid_attempt_id(std::string_view id) {
  return id.size() == 32 && id.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// The most attempts one commit joins: every one is pending until then, so max_pending bounds them
// anyway; this keeps the query short whatever the limit.
constexpr std::size_t kMaxParts = 64;

std::optional<std::uint64_t> decimal_value(std::string_view s) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || (s.size() > 1 && s[0] == '0'))
    return std::nullopt;
  return v;
}

// "?commit=ID[,ID...][&size=N&cksum=C]" (docs/PROTOCOL.md §8): the attempts to join, in order, and
// what the client says the whole file is. Anything else is 400.
CommitRequest parse_commit(std::string_view target) {
  const auto bad = [] { throw Error(Errc::bad_request, "upload: POST takes ?commit=ID[,ID...][&size=N&cksum=C]"); };
  const auto q = target.find('?');
  if (q == std::string_view::npos) bad();
  CommitRequest c;
  std::string_view query = target.substr(q + 1);
  for (bool first = true;; first = false) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos) bad();
    const std::string_view key = pair.substr(0, eq), value = pair.substr(eq + 1);
    if (key == "commit" && first) {
      for (std::string_view rest = value;;) {
        const std::string_view id = rest.substr(0, rest.find(','));
        if (!valid_attempt_id(id) || std::find(c.ids.begin(), c.ids.end(), id) != c.ids.end() ||
            c.ids.size() == kMaxParts)
          throw Error(Errc::bad_request, "upload: commit takes 1 to " + std::to_string(kMaxParts) +
                                             " distinct attempt ids (32 hex digits), separated by commas");
        c.ids.emplace_back(id);
        if (id.size() == rest.size()) break;
        rest.remove_prefix(id.size() + 1);
      }
    } else if (key == "size" && !first && !c.size) {
      c.size = decimal_value(value);
      if (!c.size) bad();
    } else if (key == "cksum" && c.size && !c.crc) {
      const auto v = decimal_value(value);
      if (!v || *v > std::numeric_limits<std::uint32_t>::max()) bad();
      c.crc = static_cast<std::uint32_t>(*v);
    } else {
      bad();
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  if (c.size.has_value() != c.crc.has_value()) bad();
  return c;
}

void fsync_dir(const fs::path& dir) {
  io::UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.get() >= 0) ::fsync(d.get());
}

[[noreturn]] void write_failed(int err) {
  if (err == ENOSPC || err == EDQUOT) throw Error(Errc::insufficient_storage, "upload: no space left on the server");
  throw Error(Errc::io, "upload: cannot store the file: " + io::errno_text(err));
}

Answer no_content() {
  Answer a;
  a.status = 204;
  return a;
}

// "chunk 3 does not verify ..." from the stream reader becomes "upload: chunk 3 does not verify ...".
[[noreturn]] void upload_refusal(const Error& e) {
  if (e.code() == Errc::integrity) throw Error(Errc::bad_request, std::string("upload: ") + e.what());
  throw;
}

[[noreturn]] void too_large(std::uint64_t max) {
  throw Error(Errc::payload_too_large, "upload: larger than the server's limit of " + std::to_string(max) + " bytes");
}

[[noreturn]] void over_quota(std::uint64_t quota) {
  throw Error(Errc::insufficient_storage,
              "upload: your quota of " + std::to_string(quota) + " bytes would be exceeded");
}

[[noreturn]] void no_such_attempt() {
  throw Error(Errc::not_found, "upload: no such attempt (expired, discarded or never made)");
}

// Copies the attempts' files into `out` in order; returns the cksum of the whole.
std::uint32_t join_parts(const fs::path& attempts, const std::vector<std::string>& ids, const fs::path& out) {
  io::UniqueFd to(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (to.get() < 0) write_failed(errno);
  Cksum crc;
  std::vector<std::uint8_t> buf(1 << 20);
  try {
    for (const std::string& id : ids) {
      io::UniqueFd from(::open((attempts / (id + ".ready")).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
      if (from.get() < 0) no_such_attempt();  // discarded meanwhile
      for (;;) {
        const ssize_t n = ::read(from.get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw Error(Errc::io, "upload: cannot read an attempt: " + io::errno_text(errno));
        if (n == 0) break;
        crc.update(ByteView(buf.data(), static_cast<std::size_t>(n)));
        for (ssize_t done = 0; done < n;) {
          const ssize_t w = ::write(to.get(), buf.data() + done, static_cast<std::size_t>(n - done));
          if (w < 0 && errno == EINTR) continue;
          if (w < 0) write_failed(errno);
          done += w;
        }
      }
    }
    if (::fsync(to.get()) != 0) write_failed(errno);
  } catch (...) {
    std::error_code ec;
    fs::remove(out, ec);
    throw;
  }
  return crc.value();
}

// The ledger's refusal of a new hold or attempt, as the client reads it (all 507).
void refuse(auth::LedgerResult r, const UploadOptions& o) {
  switch (r) {
    case auth::LedgerResult::ok: return;
    case auth::LedgerResult::over_pending:
      throw Error(Errc::insufficient_storage,
                  "upload: your limit of " + std::to_string(o.max_pending) + " pending attempts would be exceeded");
    case auth::LedgerResult::over_files:
      throw Error(Errc::insufficient_storage,
                  "upload: your limit of " + std::to_string(o.max_files) + " files would be exceeded");
    case auth::LedgerResult::over_quota: over_quota(o.quota);
    default: throw Error(Errc::unavailable, "upload: the books of this upload area were lost; try again");
  }
}

// A name may hold '/' (docs/PROTOCOL.md §8: "a/b/c.txt" is c.txt in the directories a and a/b).
// Only the server writes below the upload directory (refuse_unless_private), so lstat by name
// tells the truth: NAME can be committed unless one of its directories is a file or NAME itself
// is a directory (409 either way, before a byte of the body is read and again at commit).
void check_placeable(const fs::path& files, const std::string& name) {
  struct stat st {};
  for (std::size_t slash = name.find('/'); slash != std::string::npos; slash = name.find('/', slash + 1)) {
    const std::string dir = name.substr(0, slash);
    if (::lstat((files / dir).c_str(), &st) != 0) return;  // missing: commit creates it (and all below)
    if (!S_ISDIR(st.st_mode)) throw Error(Errc::conflict, "upload: " + dir + " is a file, not a directory");
  }
  if (::lstat((files / name).c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    throw Error(Errc::conflict, "upload: " + name + " is a directory");
}

// The directories of NAME below files/, created as needed (0700).
void make_parents(const fs::path& files, const std::string& name) {
  for (std::size_t slash = name.find('/'); slash != std::string::npos; slash = name.find('/', slash + 1)) {
    const fs::path dir = files / name.substr(0, slash);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) write_failed(errno);
  }
}

// After a removal (or a commit that failed): the directories of NAME that are now empty go, from
// the deepest up, so a listing never shows a directory that holds nothing.
void prune_empty_parents(const fs::path& files, const std::string& name) {
  for (std::size_t slash = name.rfind('/'); slash != std::string::npos && slash > 0; slash = name.rfind('/', slash - 1))
    if (::rmdir((files / name.substr(0, slash)).c_str()) != 0) return;  // not empty (or gone): stop
}

}  // namespace

// The space (and the place among the pending attempts) an upload in progress holds. It gives
// them back when it dies, on every path: a refused or broken-off body, a part file that cannot
// be opened (ENOSPC, EMFILE), an exception anywhere; attempt_ready() turns it into the attempt's
// exact charge instead.
class UploadService::Reservation {
 public:
  Reservation(UploadService& svc, std::string area, std::string id, std::uint64_t bytes)
      : svc_(&svc), area_(std::move(area)), id_(std::move(id)), bytes_(bytes) {}
  Reservation(Reservation&& o) noexcept
      : svc_(std::exchange(o.svc_, nullptr)), area_(std::move(o.area_)), id_(std::move(o.id_)), bytes_(o.bytes_) {}
  Reservation& operator=(Reservation&&) = delete;
  ~Reservation() { release(); }

  std::uint64_t bytes() const noexcept { return bytes_; }
  const std::string& area() const noexcept { return area_; }
  const std::string& id() const noexcept { return id_; }  // the hold's, and then the attempt's
  void disarm() noexcept { svc_ = nullptr; }              // the ledger has made it the attempt

 private:
  void release() noexcept {
    if (svc_ == nullptr) return;
    try {
      std::lock_guard lock(svc_->mutex_);
      svc_->ledger_.release(area_, id_);
    } catch (...) {
      // The store is unreachable: a shared ledger's hold expires by itself after attempt_timeout.
    }
    svc_ = nullptr;
  }

  UploadService* svc_;
  std::string area_;
  std::string id_;
  std::uint64_t bytes_;
};

// Receives the body stream of one attempt (docs/PROTOCOL.md §8): each chunk is opened as soon as
// its token is complete, and only its verified plaintext is counted, checksummed and written, to a
// private temporary file; finish() checks that the chunk marked last arrived before the attempt
// counts.
class UploadService::Sink final : public AnswerSink {
 public:
  Sink(UploadService& svc, const VerifiedRequest& v, const stream::UnknownSizeSplit& split, Reservation reservation,
       std::string name, fs::path part, bool corrupt)
      : svc_(svc),
        reservation_(std::move(reservation)),
        name_(std::move(name)),
        part_(std::move(part)),
        corrupt_(corrupt),
        chunk_size_(v.client->chunk_size),
        reader_(v.client->session_secret, KeyPurpose::request_body, v.binding, split,
                [this](std::uint64_t, ByteView plain) { store(plain); }) {
    // If this fails the constructor throws, and reservation_ (a member) gives the space back.
    fd_ = io::UniqueFd(::open(part_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd_.get() < 0) {
      part_.clear();  // not ours: nothing to unlink
      write_failed(errno);
    }
  }
  ~Sink() override { cleanup(); }

  void write(std::string_view bytes) override {
    try {
      reader_.update(bytes);
    } catch (const Error& e) { upload_refusal(e); }
  }

  Answer finish() override {
    try {
      reader_.finish();  // the chunk marked last: nothing of a cut stream is ever committed
    } catch (const Error& e) { upload_refusal(e); }
    if (::fsync(fd_.get()) != 0) write_failed(errno);
    fd_.reset();
    const std::string& id = reservation_.id();
    const fs::path ready = part_.parent_path() / (id + ".ready");
    if (::rename(part_.c_str(), ready.c_str()) != 0) write_failed(errno);
    part_ = ready;  // until the ledger has it, a failure removes it
    const auth::UploadAttempt a{name_, crc_.size(), crc_.value(), svc_.clock_.now(), svc_.charge(crc_.size())};
    svc_.attempt_ready(id, a, reservation_);
    part_.clear();
    const nlohmann::json j = {{"attempt", id},
                              {"name", name_},
                              {"size", a.size},
                              {"cksum", a.crc},
                              {"expires", a.created + svc_.opts_.attempt_timeout}};
    return body_answer(200, "application/json", j.dump(), chunk_size_);
  }

  void abort() noexcept override { cleanup(); }

 private:
  // A verified chunk: provisional until finish(); it only ever lands in the private part file.
  void store(ByteView plain) {
    Bytes corrupted;
    if (corrupt_ && !plain.empty()) {
      // Test builds only: damage what is stored, so the CRC the client gets cannot match.
      corrupted.assign(plain.begin(), plain.end());
      corrupted[0] ^= 0x01;
      plain = corrupted;
      corrupt_ = false;
    }
    crc_.update(plain);
    // The exact limits, on the plaintext itself: the token's length only bounds it to a block.
    if (crc_.size() > svc_.opts_.max_upload_size) too_large(svc_.opts_.max_upload_size);
    if (svc_.charge(crc_.size()) > reservation_.bytes()) over_quota(svc_.opts_.quota);
    for (std::size_t off = 0; off < plain.size();) {
      const ssize_t n = ::write(fd_.get(), plain.data() + off, plain.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) write_failed(errno);
      off += static_cast<std::size_t>(n);
    }
  }

  // The part file goes before the reservation does (the member's destructor, or attempt_ready),
  // so the space is never free while the bytes are still on disk.
  void cleanup() noexcept {
    fd_.reset();
    if (!part_.empty()) ::unlink(part_.c_str());
    part_.clear();
  }

  UploadService& svc_;
  Reservation reservation_;
  std::string name_;
  fs::path part_;
  bool corrupt_;
  std::uint32_t chunk_size_;
  io::UniqueFd fd_;
  Cksum crc_;
  stream::StreamReader reader_;
};

namespace {

// Every write below the upload directory goes by name (part files, renames, removals, and the
// start-up clean-up of each area's attempts). That is safe only while nobody but the server can
// put a symlink there, so a directory other users can write to is refused at start.
void refuse_unless_private(const fs::path& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0)
    throw Error(Errc::io, "upload directory " + dir.string() + ": " + io::errno_text(errno));
  if (st.st_uid != ::geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    throw Error(Errc::io, "upload directory " + dir.string() +
                              " is writable by other users or owned by another; run: chown $(id -u) " + dir.string() +
                              " && chmod 700 " + dir.string());
}

}  // namespace

auth::UploadLimits UploadService::limits_of(const UploadOptions& o) noexcept {
  return auth::UploadLimits{o.quota, o.max_files, o.max_pending, o.attempt_timeout};
}

UploadService::UploadService(UploadOptions o, const Clock& clock, auth::UploadLedger* shared)
    : opts_(std::move(o)),
      clock_(clock),
      own_ledger_(shared ? nullptr : auth::make_memory_upload_ledger(limits_of(opts_))),
      ledger_(shared ? *shared : *own_ledger_) {
  io::ensure_directory(opts_.dir, 0700);
  refuse_unless_private(opts_.dir);
  // Start-up recovery: attempts of an earlier run (killed mid-upload or never committed) go, but
  // not those a shared ledger still holds: other instances on this directory are using them.
  // ID.part (in progress) and ID.ready (awaiting commit) carry the ledger's id.
  const std::int64_t now = clock_.now();
  std::error_code ec;
  try {
    for (const auto& area : fs::directory_iterator(opts_.dir, ec)) {
      if (!area.is_directory()) continue;
      const std::string name = area.path().filename().string();
      for (const auto& f : fs::directory_iterator(area.path() / kAttemptsDir, ec)) {
        const std::string id = f.path().stem().string();
        if (!valid_attempt_id(id) || !ledger_.live(name, id, now)) fs::remove_all(f.path(), ec);
      }
    }
  } catch (const Error&) {
    // The store is unreachable: keep everything (the sweep removes what expires once it is back).
  }
}

bool UploadService::owns(std::string_view path) noexcept { return routes::route_of(path) == routes::Route::uploads; }

UploadService::Result UploadService::handle(const net::Request& req, const VerifiedRequest& v) {
  const std::string area = area_of(*v.client);
  // What follows the prefix ("" or "/a/b/c.txt"; owns() saw to that), however many segments the
  // prefix has. Every segment passes §7.4, so NAME holds no empty, dot or hidden part.
  const std::string_view rest = target_path(v.target).substr(kPrefix.size());
  const RequestPath p = parse_request_path(rest.empty() ? "/" : rest);
  std::string name;
  for (const auto& segment : p.segments) name += (name.empty() ? "" : "/") + segment;

  if (v.method == "GET" || v.method == "HEAD") {
    const fs::path files = area_dir(area) / kFilesDir;
    io::ensure_directory(files, 0700);
    // The same request, query and all (?list of a directory with an index.html), aimed at the
    // client's own area; the area's top always answers its listing.
    const std::string target = name.empty() ? "/?list" : "/" + v.target.substr(kPrefix.size() + 1);
    return FileService(FileServiceOptions{files}).serve(FileRequest{v.method, target, v.fields, v.client->chunk_size});
  }
  if (req.has_body && v.method != "PUT") throw Error(Errc::bad_request, "upload: only PUT takes a body");
  if (name.empty()) throw Error(Errc::method_not_allowed, "upload: use PUT " + std::string(kPrefix) + "/NAME");
  if (v.method == "PUT") return begin_upload(req, v, area, name);
  if (v.method == "POST") { return commit(area, name, parse_commit(v.target), v.client->chunk_size); }
  if (v.method == "DELETE") {
    // Without a query it removes the committed file; any query must name an attempt, so a
    // malformed discard can never delete the committed file by accident.
    if (v.target.find('?') == std::string::npos) return remove(area, name);
    const std::string id = query_value(v.target, "attempt");
    if (id.empty()) throw Error(Errc::bad_request, "upload: DELETE takes ?attempt=ID or no query");
    return discard(area, name, id);
  }
  throw Error(Errc::method_not_allowed, "upload: use GET, HEAD, PUT, POST or DELETE");
}

auth::AreaFiles UploadService::scan(const std::string& area) const {
  auth::AreaFiles found;
  std::error_code ec;
  const fs::path files = area_dir(area) / kFilesDir;
  for (const auto& f : fs::recursive_directory_iterator(files, ec)) {
    if (!f.is_regular_file(ec)) continue;
    const std::uintmax_t size = f.file_size(ec);
    if (ec) continue;  // gone meanwhile (file_size would be -1)
    found[f.path().lexically_relative(files).string()] = charge(size);
  }
  return found;
}

template <class F>
auth::LedgerResult UploadService::with_books(const std::string& area, F f) {
  const auth::LedgerResult r = f();
  if (r != auth::LedgerResult::unloaded) return r;
  // Once per area (and store): the files committed before, by an earlier run or another instance.
  ledger_.load(area, scan(area));
  return f();
}

UploadService::Result UploadService::begin_upload(const net::Request& req, const VerifiedRequest& v,
                                                  const std::string& area, const std::string& name) {
  const auto length_field = req.header("Content-Length");
  if (!length_field || req.header("Transfer-Encoding"))
    throw Error(Errc::bad_request, "upload: the body needs a Content-Length (no chunked encoding)");
  std::uint64_t length = 0;
  try {
    length = std::stoull(std::string(*length_field));
  } catch (const std::exception&) { throw Error(Errc::bad_request, "upload: bad Content-Length"); }
  // A stream longer than that of a file of exactly the limit carries more than the limit; one
  // that is not longer may still, by up to 15 bytes, which the sink refuses as it decrypts.
  const std::uint32_t c = v.client->chunk_size;
  if (opts_.max_upload_size < stream::kMaxSize &&
      length > stream::Layout::whole(opts_.max_upload_size, c).stream_length())
    too_large(opts_.max_upload_size);
  const stream::UnknownSizeSplit split = stream::split_stream_length(length, c);
  check_placeable(area_dir(area) / kFilesDir, name);
  bool corrupt = false;
  Reservation r = reserve(area, split, corrupt);
  // From here on `r` (then the sink that owns it) gives the space back on every failure.
  const fs::path attempts = area_dir(area) / kAttemptsDir;
  io::ensure_directory(attempts, 0700);
  const fs::path part = attempts / (r.id() + ".part");
  return BodyIntake{std::make_unique<Sink>(*this, v, split, std::move(r), name, part, corrupt), length};
}

// Under the lock, so concurrent uploads cannot overrun the limits together: the client's pending
// attempts, its files + pending attempts, and the quota. A stream of this length carries between
// `least` and `capacity` bytes: it is refused at once if even the least it can carry does not fit,
// and otherwise holds what it can carry, up to what is left (the sink refuses more).
UploadService::Reservation UploadService::reserve(const std::string& area, const stream::UnknownSizeSplit& split,
                                                  bool& corrupt) {
  const std::uint64_t capacity = std::min(split.max_plaintext, opts_.max_upload_size);
  const std::uint64_t least = std::min(split.max_plaintext - split.final_max_size + split.final_min_size, capacity);
  const std::string id = to_hex(random_bytes(16));
  std::uint64_t held = 0;
  std::lock_guard lock(mutex_);
  refuse(
      with_books(area, [&] { return ledger_.reserve(area, id, charge(least), charge(capacity), clock_.now(), held); }),
      opts_);
  if (corrupted_ < opts_.corrupt_first_attempts) {
    ++corrupted_;
    corrupt = true;
  }
  return Reservation(*this, area, id, held);
}

void UploadService::attempt_ready(const std::string& id, const auth::UploadAttempt& a, Reservation& r) {
  std::lock_guard lock(mutex_);
  refuse(with_books(r.area(), [&] { return ledger_.attempt_ready(r.area(), id, a, clock_.now()); }), opts_);
  r.disarm();
}

void UploadService::record_commit(const Unrecorded& c) {
  // Unloaded (the store lost them): the books, learnt now from disk, count the file already.
  if (ledger_.committed(c.area, c.id, c.name, c.charge, clock_.now()) == auth::LedgerResult::unloaded)
    ledger_.load(c.area, scan(c.area));
}

void UploadService::remove_attempt_file(const std::string& area, const std::string& id) {
  std::error_code ec;
  fs::remove(area_dir(area) / kAttemptsDir / (id + ".ready"), ec);
}

// Several parts are joined into ID.join beside the attempts, outside the lock (the .ready files no
// longer change; a discard meanwhile makes the copy fail as "no such attempt"), then checked and
// renamed under it exactly as one attempt is.
Answer UploadService::commit(const std::string& area, const std::string& name, const CommitRequest& c,
                             std::uint32_t chunk_size) {
  const fs::path files = area_dir(area) / kFilesDir;
  const fs::path attempts = area_dir(area) / kAttemptsDir;
  std::vector<auth::UploadAttempt> parts(c.ids.size());
  const auto find_all = [&] {
    for (std::size_t i = 0; i < c.ids.size(); ++i) {
      const auth::LedgerResult found = ledger_.find(area, c.ids[i], name, clock_.now(), parts[i]);
      if (found == auth::LedgerResult::expired) remove_attempt_file(area, c.ids[i]);
      if (found != auth::LedgerResult::ok) no_such_attempt();
    }
  };
  {
    std::lock_guard lock(mutex_);
    find_all();
  }
  std::uint64_t size = 0;
  for (const auto& p : parts) size += p.size;
  if (size > opts_.max_upload_size) too_large(opts_.max_upload_size);
  fs::path source = attempts / (c.ids[0] + ".ready");
  std::uint32_t crc = parts[0].crc;
  if (parts.size() > 1) {
    source = attempts / (c.ids[0] + ".join");
    crc = join_parts(attempts, c.ids, source);
  }
  const auto drop_join = [&] {
    std::error_code ec;
    if (parts.size() > 1) fs::remove(source, ec);
  };
  if (c.size && (*c.size != size || *c.crc != crc)) {
    drop_join();
    throw Error(Errc::conflict, "upload: the attempts hold " + std::to_string(size) + " bytes with cksum " +
                                    std::to_string(crc) + ", not " + std::to_string(*c.size) + " bytes with cksum " +
                                    std::to_string(*c.crc) + "; nothing was committed");
  }
  {
    // The rename happens under the lock, between finding the attempts and counting the file: until
    // the file is in place the attempts stay in the books, and the moment it is, the file is.
    std::lock_guard lock(mutex_);
    try {
      find_all();
      io::ensure_directory(files, 0700);
      check_placeable(files, name);
    } catch (...) {
      drop_join();
      throw;
    }
    make_parents(files, name);
    // rename(2) is atomic: readers see the old file or the new one, never a partial one. Of two
    // instances committing one attempt, one moves the file; the other finds it gone.
    if (::rename(source.c_str(), (files / name).c_str()) != 0) {
      const int err = errno;
      prune_empty_parents(files, name);
      drop_join();
      if (err == ENOENT) no_such_attempt();
      write_failed(err);  // it stays pending
    }
    // The file is committed under the first attempt's id; the others are spent. If the store
    // cannot be told now, the next sweep tells it.
    const Unrecorded done{area, c.ids[0], name, charge(size)};
    try {
      record_commit(done);
    } catch (const Error& e) {
      if (e.code() != Errc::unavailable) throw;
      unrecorded_.push_back(done);
    }
    for (std::size_t i = 1; i < c.ids.size(); ++i) {
      try {
        ledger_.discard(area, c.ids[i], name, clock_.now());
      } catch (const Error&) {
        // unreachable store: the attempt expires there by itself
      }
      remove_attempt_file(area, c.ids[i]);
    }
    if (parts.size() > 1) remove_attempt_file(area, c.ids[0]);
  }
  fsync_dir(files);
  return body_answer(201, "application/json", nlohmann::json{{"name", name}, {"size", size}, {"cksum", crc}}.dump(),
                     chunk_size);
}

Answer UploadService::discard(const std::string& area, const std::string& name, const std::string& id) {
  std::lock_guard lock(mutex_);
  if (!valid_attempt_id(id)) no_such_attempt();
  const auth::LedgerResult r = ledger_.discard(area, id, name, clock_.now());
  if (r == auth::LedgerResult::ok || r == auth::LedgerResult::expired) remove_attempt_file(area, id);
  if (r != auth::LedgerResult::ok) no_such_attempt();
  return no_content();
}

Answer UploadService::remove(const std::string& area, const std::string& name) {
  std::lock_guard lock(mutex_);
  const fs::path files = area_dir(area) / kFilesDir;
  const bool removed = ::unlink((files / name).c_str()) == 0;
  if (!removed && errno == EISDIR) throw Error(Errc::conflict, "upload: " + name + " is a directory");
  if (!removed && errno != ENOENT && errno != ENOTDIR)
    throw Error(Errc::io, "upload: cannot remove the file: " + io::errno_text(errno));
  if (removed) prune_empty_parents(files, name);
  // Gone either way: by this request, or (ENOENT) by someone else, which the books follow.
  with_books(area, [&] { return ledger_.removed(area, name, clock_.now()); });
  if (!removed) throw Error(Errc::not_found, "upload: no such upload");
  return no_content();
}

UploadUsage UploadService::usage(const auth::ClientRecord& client) {
  const std::string area = area_of(client);
  std::lock_guard lock(mutex_);
  auth::UploadBooks b;
  with_books(area, [&] { return ledger_.books(area, clock_.now(), b); });
  return UploadUsage{b.committed, b.pending, b.files, b.attempts};
}

std::size_t UploadService::sweep() {
  std::lock_guard lock(mutex_);
  while (!unrecorded_.empty()) {
    record_commit(unrecorded_.back());
    unrecorded_.pop_back();
  }
  const auto gone = ledger_.sweep(clock_.now());
  for (const auto& [area, id] : gone) remove_attempt_file(area, id);
  return gone.size();
}

}  // namespace mh::web
