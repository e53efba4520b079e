#include "web/upload_service.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/base64.hpp"
#include "core/cksum.hpp"
#include "core/fernet.hpp"
#include "core/hash.hpp"
#include "core/path.hpp"
#include "io/files.hpp"
#include "io/unique_fd.hpp"
#include "web/file_service.hpp"

namespace mh::web {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kPrefix = "/uploads";
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

void fsync_dir(const fs::path& dir) {
  io::UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.get() >= 0) ::fsync(d.get());
}

[[noreturn]] void write_failed(int err) {
  if (err == ENOSPC || err == EDQUOT) throw Error(Errc::insufficient_storage, "upload: no space left on the server");
  throw Error(Errc::io, "upload: cannot store the file: " + io::errno_text(err));
}

// The plaintext size a token of this length can carry at most: its at most length / 4 * 3 bytes
// are 57 of version, time, IV and MAC around whole 16-byte blocks of ciphertext, which always end
// in at least one byte of padding.
std::uint64_t max_plaintext_for(std::uint64_t token_length) {
  const std::uint64_t raw = token_length / 4 * 3;
  return raw >= 57 + 16 ? (raw - 57) / 16 * 16 - 1 : 0;
}

net::Response json(int status, const nlohmann::json& j) { return net::json_response(status, j.dump()); }

}  // namespace

// Receives the token of one attempt: digest, decryption and CRC while streaming, into a private
// temporary file; finish() checks the digest and the token's MAC before the attempt counts.
class UploadService::Sink final : public net::BodySink, private FernetSink {
 public:
  Sink(UploadService& svc, const VerifiedRequest& v, std::string area, std::string name, fs::path part,
       std::uint64_t promised, bool corrupt)
      : svc_(svc),
        expected_digest_(*v.content_digest),
        area_(std::move(area)),
        name_(std::move(name)),
        part_(std::move(part)),
        promised_(promised),
        corrupt_(corrupt),
        decoder_(v.client->session_key, svc.clock_.now(), svc.opts_.max_token_age, *this) {
    fd_ = io::UniqueFd(::open(part_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd_.get() < 0) write_failed(errno);
  }
  ~Sink() override { cleanup(); }

  void write(std::string_view chunk) override {
    digest_.update(as_bytes(chunk));
    decoder_.update(chunk);
  }

  net::Response finish() override {
    if (!ct_equal(digest_.finish(), expected_digest_))
      throw Error(Errc::forbidden, "signature: body does not match content-digest");
    decoder_.finish();  // the MAC: nothing of a forged or cut token is ever committed
    if (::fsync(fd_.get()) != 0) write_failed(errno);
    fd_.reset();
    const std::string id = to_hex(random_bytes(16));
    const fs::path ready = part_.parent_path() / (id + ".ready");
    if (::rename(part_.c_str(), ready.c_str()) != 0) write_failed(errno);
    part_.clear();
    const Attempt a{area_, name_, crc_.size(), crc_.value(), svc_.clock_.now()};
    svc_.attempt_ready(id, a);
    release_reservation();
    return json(200, {{"attempt", id},
                      {"name", name_},
                      {"size", a.size},
                      {"cksum", a.crc},
                      {"expires", a.created + svc_.opts_.attempt_timeout}});
  }

  void abort() noexcept override { cleanup(); }

 private:
  // Decrypted plaintext: provisional until finish(); it only ever lands in the private part file.
  void write(ByteView plain) override {
    Bytes corrupted;
    if (corrupt_ && !plain.empty()) {
      // Test builds only: damage what is stored, so the CRC the client gets cannot match.
      corrupted.assign(plain.begin(), plain.end());
      corrupted[0] ^= 0x01;
      plain = corrupted;
      corrupt_ = false;
    }
    crc_.update(plain);
    if (crc_.size() > promised_) throw Error(Errc::payload_too_large, "upload: larger than announced");
    for (std::size_t off = 0; off < plain.size();) {
      const ssize_t n = ::write(fd_.get(), plain.data() + off, plain.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) write_failed(errno);
      off += static_cast<std::size_t>(n);
    }
  }

  void cleanup() noexcept {
    fd_.reset();
    if (!part_.empty()) ::unlink(part_.c_str());
    part_.clear();
    release_reservation();
  }

  void release_reservation() noexcept {
    if (released_) return;
    released_ = true;
    std::lock_guard lock(svc_.mutex_);
    svc_.incoming_[area_] -= promised_;
  }

  UploadService& svc_;
  Bytes expected_digest_;
  std::string area_, name_;
  fs::path part_;
  std::uint64_t promised_;
  bool corrupt_;
  bool released_ = false;
  io::UniqueFd fd_;
  Sha512 digest_;
  Cksum crc_;
  FernetDecoder decoder_;
};

UploadService::UploadService(UploadOptions o, const Clock& clock) : opts_(std::move(o)), clock_(clock) {
  io::ensure_directory(opts_.dir, 0700);
  // Start-up recovery: attempts of an earlier run (killed mid-upload or never committed) go.
  std::error_code ec;
  for (const auto& area : fs::directory_iterator(opts_.dir, ec))
    if (area.is_directory()) fs::remove_all(area.path() / kAttemptsDir, ec);
}

bool UploadService::owns(std::string_view path) noexcept {
  return path == kPrefix || path.substr(0, kPrefix.size() + 1) == "/uploads/";
}

net::Dispatch UploadService::handle(const net::Request& req, const VerifiedRequest& v) {
  const std::string area = area_of(*v.client);
  const RequestPath p = parse_request_path(target_path(req.target));  // segments[0] == "uploads"
  if (p.segments.size() > 2) throw Error(Errc::bad_request, "upload: names are a single path segment");
  const std::string name = p.segments.size() == 2 ? p.segments[1] : "";

  if (req.method == "GET" || req.method == "HEAD") {
    const fs::path files = area_dir(area) / kFilesDir;
    io::ensure_directory(files, 0700);
    net::Request inner = req;  // the same request, aimed at the client's own area
    inner.target = name.empty() ? "/?list" : "/" + std::string(target_path(req.target).substr(kPrefix.size() + 1));
    return FileService(FileServiceOptions{files}).serve(inner, v.client->session_key, clock_.now());
  }
  if (name.empty()) throw Error(Errc::method_not_allowed, "upload: use PUT /uploads/NAME");
  if (req.method == "PUT") return begin_upload(req, v, area, name);
  if (req.method == "POST") {
    const std::string id = query_value(req.target, "commit");
    if (id.empty()) throw Error(Errc::bad_request, "upload: POST needs ?commit=ID");
    return commit(area, name, id);
  }
  if (req.method == "DELETE") {
    // Without a query it removes the committed file; any query must name an attempt, so a
    // malformed discard can never delete the committed file by accident.
    if (req.target.find('?') == std::string::npos) return remove(area, name);
    const std::string id = query_value(req.target, "attempt");
    if (id.empty()) throw Error(Errc::bad_request, "upload: DELETE takes ?attempt=ID or no query");
    return discard(area, name, id);
  }
  throw Error(Errc::method_not_allowed, "upload: use GET, HEAD, PUT, POST or DELETE");
}

net::Dispatch UploadService::begin_upload(const net::Request& req, const VerifiedRequest& v, const std::string& area,
                                          const std::string& name) {
  const auto length_field = req.header("Content-Length");
  if (!length_field || req.header("Transfer-Encoding"))
    throw Error(Errc::bad_request, "upload: the body needs a Content-Length (no chunked encoding)");
  std::uint64_t token_length = 0;
  try {
    token_length = std::stoull(std::string(*length_field));
  } catch (const std::exception&) {
    throw Error(Errc::bad_request, "upload: bad Content-Length");
  }
  if (!v.content_digest) throw Error(Errc::forbidden, "signature: must cover content-digest when there is a body");
  const std::uint64_t promised = max_plaintext_for(token_length);
  if (promised > opts_.max_upload_size)
    throw Error(Errc::payload_too_large,
                "upload: larger than the server's limit of " + std::to_string(opts_.max_upload_size) + " bytes");
  bool corrupt = false;
  {
    // Reserve the space under the lock so concurrent uploads cannot overrun the quota together.
    std::lock_guard lock(mutex_);
    if (usage(area) + incoming_[area] + promised > opts_.quota)
      throw Error(Errc::insufficient_storage,
                  "upload: your quota of " + std::to_string(opts_.quota) + " bytes would be exceeded");
    incoming_[area] += promised;
    if (corrupted_ < opts_.corrupt_first_attempts) {
      ++corrupted_;
      corrupt = true;
    }
  }
  const fs::path attempts = area_dir(area) / kAttemptsDir;
  try {
    io::ensure_directory(attempts, 0700);
  } catch (...) {
    std::lock_guard lock(mutex_);
    incoming_[area] -= promised;
    throw;
  }
  const fs::path part = attempts / (to_hex(random_bytes(16)) + ".part");
  return net::StreamBody{std::make_unique<Sink>(*this, v, area, name, part, promised, corrupt), token_length};
}

void UploadService::attempt_ready(const std::string& id, Attempt a) {
  std::lock_guard lock(mutex_);
  attempts_[id] = std::move(a);
}

net::Response UploadService::commit(const std::string& area, const std::string& name, const std::string& id) {
  Attempt a;
  {
    std::lock_guard lock(mutex_);
    const auto it = attempts_.find(id);
    if (!valid_attempt_id(id) || it == attempts_.end() || it->second.area != area || it->second.name != name)
      throw Error(Errc::not_found, "upload: no such attempt (expired, discarded or never made)");
    a = it->second;
    attempts_.erase(it);
  }
  const fs::path files = area_dir(area) / kFilesDir;
  io::ensure_directory(files, 0700);
  const fs::path ready = area_dir(area) / kAttemptsDir / (id + ".ready");
  // rename(2) is atomic: readers see the old file or the new one, never a partial one.
  if (::rename(ready.c_str(), (files / name).c_str()) != 0) write_failed(errno);
  fsync_dir(files);
  return json(201, {{"name", name}, {"size", a.size}, {"cksum", a.crc}});
}

net::Response UploadService::discard(const std::string& area, const std::string& name, const std::string& id) {
  {
    std::lock_guard lock(mutex_);
    const auto it = attempts_.find(id);
    if (!valid_attempt_id(id) || it == attempts_.end() || it->second.area != area || it->second.name != name)
      throw Error(Errc::not_found, "upload: no such attempt (expired, discarded or never made)");
    attempts_.erase(it);
  }
  std::error_code ec;
  fs::remove(area_dir(area) / kAttemptsDir / (id + ".ready"), ec);
  net::Response r;
  r.status = 204;
  return r;
}

net::Response UploadService::remove(const std::string& area, const std::string& name) {
  std::error_code ec;
  if (!fs::remove(area_dir(area) / kFilesDir / name, ec)) throw Error(Errc::not_found, "upload: no such upload");
  net::Response r;
  r.status = 204;
  return r;
}

std::uint64_t UploadService::usage(const std::string& area) const {
  std::uint64_t total = 0;
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(area_dir(area) / kFilesDir, ec))
    if (f.is_regular_file(ec)) total += f.file_size(ec);
  for (const auto& [id, a] : attempts_)
    if (a.area == area) total += a.size;
  return total;
}

std::size_t UploadService::sweep() {
  std::vector<std::pair<std::string, std::string>> expired;  // area, id
  {
    std::lock_guard lock(mutex_);
    const std::int64_t now = clock_.now();
    for (auto it = attempts_.begin(); it != attempts_.end();) {
      if (it->second.created + opts_.attempt_timeout <= now) {
        expired.emplace_back(it->second.area, it->first);
        it = attempts_.erase(it);
      } else {
        ++it;
      }
    }
  }
  std::error_code ec;
  for (const auto& [area, id] : expired) fs::remove(area_dir(area) / kAttemptsDir / (id + ".ready"), ec);
  return expired.size();
}

}  // namespace mh::web
