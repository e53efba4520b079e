#include "client/upload.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstring>

#include "client/download.hpp"
#include "client/parallel_sealer.hpp"
#include "client/progress.hpp"
#include "client/remote_tree.hpp"
#include "core/cksum.hpp"
#include "core/stream.hpp"
#include "io/system_clock.hpp"
#include "io/unique_fd.hpp"

namespace mh::client {
namespace fs = std::filesystem;

namespace {

// The local file as the request body stream, sealed ahead of the connection on a few cores
// (ParallelSealer; on this thread for a single chunk or core): memory stays a few chunks and
// their tokens, and the CRC is taken of exactly the bytes sent, in order, into the caller's Cksum
// (the connection owns and drops the source once the request is sent).
class FileStreamSource final : public net::BodySource {
 public:
  FileStreamSource(const fs::path& path, const stream::Layout& layout, const SavedSession& s, const Binding& binding,
                   Progress* progress, Cksum& crc)
      : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)),
        sealer_(checked(fd_, path), s.secret, KeyPurpose::request_body, binding, layout, clock_,
                ParallelSealer::threads_for(layout)),
        progress_(progress),
        crc_(crc) {}

  std::uint64_t size() const override { return sealer_.layout().stream_length(); }

  std::size_t read(char* buf, std::size_t cap) override {
    while (pos_ == out_.size()) {
      std::optional<SealedChunk> c = sealer_.next();
      if (!c) return 0;
      crc_.update(c->plaintext);
      out_ = std::move(c->token);
      plain_ = c->plaintext.size();
      pos_ = 0;
    }
    const std::size_t n = std::min(cap, out_.size() - pos_);
    std::memcpy(buf, out_.data() + pos_, n);
    pos_ += n;
    // The bar counts the file's bytes: a chunk's plaintext, once all of its token is sent.
    if (progress_ && pos_ == out_.size()) progress_->advance(plain_);
    return n;
  }

 private:
  static int checked(const io::UniqueFd& fd, const fs::path& path) {
    if (fd.get() < 0) throw Error(Errc::io, "cannot open " + path.string() + ": " + io::errno_text(errno));
    return fd.get();
  }

  io::UniqueFd fd_;        // before sealer_, whose workers read it
  io::SystemClock clock_;  // before sealer_, which keeps a reference
  ParallelSealer sealer_;
  Progress* progress_;
  std::string out_;  // the token being sent
  std::size_t pos_ = 0;
  std::size_t plain_ = 0;  // the plaintext bytes it carries
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
  const auto bad = [&]() -> Attempt {
    throw Error(Errc::integrity, "put " + remote + ": the server's answer is not valid");
  };
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
  if (::stat(local.c_str(), &st) != 0)
    throw Error(Errc::io, "cannot read " + local.string() + ": " + io::errno_text(errno));
  if (!S_ISREG(st.st_mode)) throw Error(Errc::io, local.string() + " is not a regular file");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  const std::string target = remote_target(remote, true);
  for (int attempt = 1; attempt <= kMaxUploadAttempts; ++attempt) {
    // Each attempt, and a retry after a 401, seals the file anew under the request's own keys.
    std::optional<Cksum> sent;  // of the bytes the last source sent (a retry after 401 starts over)
    std::optional<Progress> progress;
    Exchange put{.method = "PUT", .target = target};
    put.body = [&](const SavedSession& s, const Binding& b) -> std::unique_ptr<net::BodySource> {
      const auto layout = stream::Layout::whole(size, s.chunk_size);
      progress.emplace(size, !v.quiet);  // the file's bytes, not the stream's
      sent.emplace();
      return std::make_unique<FileStreamSource>(local, layout, s, b, &*progress, *sent);
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
                   attempt, static_cast<unsigned long long>(a.size), a.crc, static_cast<unsigned long long>(size),
                   our_crc, attempt < kMaxUploadAttempts ? "retrying" : "giving up");
    const Answer d = conn.send(Exchange{.method = "DELETE", .target = target + "?attempt=" + a.id});
    if (!d.sealed && d.status == 401) conn.reconnect_after_401(d, "put " + remote + " (discard)", "DELETE");
    if (d.status != 204 && d.status != 404) Connection::raise(d, "put " + remote + " (discard)");
  }
  throw Error(Errc::integrity, "put " + remote + ": the server's checksum did not match ours in " +
                                   std::to_string(kMaxUploadAttempts) + " attempts; nothing was stored");
}

}  // namespace mh::client
