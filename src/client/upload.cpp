#include "client/upload.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstring>

#include "client/download.hpp"
#include "client/progress.hpp"
#include "core/cksum.hpp"
#include "core/stream.hpp"
#include "io/system_clock.hpp"
#include "io/unique_fd.hpp"

namespace mh::client {
namespace fs = std::filesystem;

namespace {

// The local file as the request body stream, sealed chunk by chunk as the connection asks for
// more: memory stays one chunk and its token, and the CRC is taken of exactly the bytes sent, into
// the caller's Cksum (the connection owns and drops the source once the request is sent).
class FileStreamSource final : public net::BodySource {
 public:
  FileStreamSource(const fs::path& path, std::uint64_t size, const SavedSession& s, const Binding& binding,
                   Progress* progress, Cksum& crc)
      : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)),
        size_(size),
        writer_(s.secret, KeyPurpose::request_body, binding, stream::Layout::whole(size, s.chunk_size), clock_),
        progress_(progress),
        crc_(crc) {
    if (fd_.get() < 0) throw Error(Errc::io, "cannot open " + path.string() + ": " + io::errno_text(errno));
    plain_.resize(s.chunk_size);
  }

  std::uint64_t size() const override { return writer_.layout().stream_length(); }

  std::size_t read(char* buf, std::size_t cap) override {
    while (pos_ == out_.size()) {
      if (done_) return 0;
      fill();
    }
    const std::size_t n = std::min(cap, out_.size() - pos_);
    std::memcpy(buf, out_.data() + pos_, n);
    pos_ += n;
    if (progress_) progress_->advance(n);
    return n;
  }

 private:
  // One chunk's worth of the file, sealed (the writer seals whole chunks in place, no copy).
  void fill() {
    std::size_t got = 0;
    while (got < plain_.size() && read_ < size_) {
      const ssize_t n = ::read(fd_.get(), plain_.data() + got, std::min<std::uint64_t>(plain_.size() - got, size_ - read_));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw Error(Errc::io, "cannot read the file: " + io::errno_text(errno));
      if (n == 0) throw Error(Errc::io, "the file shrank while it was being sent");
      got += static_cast<std::size_t>(n);
      read_ += static_cast<std::uint64_t>(n);
    }
    const ByteView piece(plain_.data(), got);
    crc_.update(piece);
    out_.clear();
    pos_ = 0;
    writer_.write(piece, out_);
    if (read_ == size_) {
      writer_.finish(out_);
      done_ = true;
    }
  }

  io::UniqueFd fd_;
  std::uint64_t size_;
  io::SystemClock clock_;  // before writer_, which keeps a reference
  stream::StreamWriter writer_;
  Progress* progress_;
  Bytes plain_;
  std::string out_;
  std::size_t pos_ = 0;
  std::uint64_t read_ = 0;
  bool done_ = false;
  Cksum& crc_;
};

struct Attempt {
  std::string id;
  std::uint64_t size = 0;
  std::uint32_t crc = 0;
};

// {"attempt": "<32 hex>", "name": ..., "size": N, "cksum": N, "expires": T}
Attempt parse_attempt(const std::string& body, const std::string& remote) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  const auto bad = [&]() -> Attempt { throw Error(Errc::integrity, "put " + remote + ": the server's answer is not valid"); };
  if (!j.is_object()) return bad();
  const auto id = j.find("attempt"), size = j.find("size"), crc = j.find("cksum");
  if (id == j.end() || !id->is_string() || id->get_ref<const std::string&>().size() != 32 ||
      id->get_ref<const std::string&>().find_first_not_of("0123456789abcdef") != std::string::npos)
    return bad();
  if (size == j.end() || !size->is_number_unsigned() || crc == j.end() || !crc->is_number_unsigned() ||
      crc->get<std::uint64_t>() > 0xffffffffu)
    return bad();
  return Attempt{id->get<std::string>(), size->get<std::uint64_t>(), crc->get<std::uint32_t>()};
}

}  // namespace

UploadResult upload(Connection& conn, const fs::path& local, const std::string& remote, const Verbosity& v) {
  struct stat st {};
  if (::stat(local.c_str(), &st) != 0) throw Error(Errc::io, "cannot read " + local.string() + ": " + io::errno_text(errno));
  if (!S_ISREG(st.st_mode)) throw Error(Errc::io, local.string() + " is not a regular file");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  const std::string target = encode_path("/uploads/" + remote);
  for (int attempt = 1; attempt <= kMaxUploadAttempts; ++attempt) {
    // Each attempt, and a retry after a 401, seals the file anew under the request's own keys.
    std::optional<Cksum> sent;  // of the bytes the last source sent (a retry after 401 starts over)
    std::optional<Progress> progress;
    Exchange put{.method = "PUT", .target = target};
    put.body = [&](const SavedSession& s, const Binding& b) -> std::unique_ptr<net::BodySource> {
      progress.emplace(stream::Layout::whole(size, s.chunk_size).stream_length(), !v.quiet);
      sent.emplace();
      return std::make_unique<FileStreamSource>(local, size, s, b, &*progress, *sent);
    };
    const Answer res = conn.send(put);
    progress.reset();
    if (res.status != 200) Connection::raise(res, "put " + remote);
    const Attempt a = parse_attempt(res.body, remote);
    const std::uint32_t our_crc = sent->value();
    if (a.crc == our_crc && a.size == size) {
      const Answer c = conn.send(Exchange{.method = "POST", .target = target + "?commit=" + a.id});
      if (!c.sealed && c.status == 401) conn.reconnect_after_401(c, "put " + remote + " (commit)", "commit");
      if (c.status != 201) Connection::raise(c, "put " + remote + " (commit)");
      return UploadResult{remote, size, our_crc, attempt};
    }
    if (!v.quiet)
      std::fprintf(stderr, "attempt %d: the server stored %llu bytes with CRC %u, ours is %llu bytes with CRC %u; %s\n",
                   attempt, static_cast<unsigned long long>(a.size), a.crc, static_cast<unsigned long long>(size), our_crc,
                   attempt < kMaxUploadAttempts ? "retrying" : "giving up");
    const Answer d = conn.send(Exchange{.method = "DELETE", .target = target + "?attempt=" + a.id});
    if (!d.sealed && d.status == 401) conn.reconnect_after_401(d, "put " + remote + " (discard)", "DELETE");
    if (d.status != 204 && d.status != 404) Connection::raise(d, "put " + remote + " (discard)");
  }
  throw Error(Errc::integrity, "put " + remote + ": the server's checksum did not match ours in " +
                                   std::to_string(kMaxUploadAttempts) + " attempts; nothing was stored");
}

}  // namespace mh::client
