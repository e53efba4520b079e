#include "client/upload.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cstdio>

#include "client/download.hpp"
#include "client/progress.hpp"
#include "core/base64.hpp"
#include "core/cksum.hpp"
#include "core/fernet.hpp"
#include "core/hash.hpp"
#include "io/system_clock.hpp"
#include "io/unique_fd.hpp"

namespace mh::client {
namespace fs = std::filesystem;

namespace {

// The local file as one Fernet token, produced on demand with constant memory. The same IV and
// time give the same bytes again after rewind(): a first pass digests the token for the signed
// Content-Digest, the second sends it.
class FileTokenSource final : public net::BodySource {
 public:
  FileTokenSource(const fs::path& path, std::uint64_t size, const FernetKey& key, std::int64_t now)
      : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)), size_(size), key_(key), now_(now) {
    if (fd_.get() < 0) throw Error(Errc::io, "cannot open " + path.string() + ": " + io::errno_text(errno));
    random_fill(iv_);
    rewind();
  }

  std::uint64_t size() const override { return fernet_token_length(size_); }

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

  bool rewind() override {
    if (::lseek(fd_.get(), 0, SEEK_SET) != 0) return false;
    enc_.emplace(key_, now_, iv_);
    read_ = 0;
    done_ = false;
    out_.clear();
    pos_ = 0;
    crc_ = Cksum();
    return true;
  }

  void set_progress(Progress* p) { progress_ = p; }
  // The CRC of the plaintext read in the last complete pass.
  const Cksum& crc() const noexcept { return crc_; }

 private:
  void fill() {
    constexpr std::size_t kChunk = 192 * 1024;
    plain_.resize(kChunk);
    std::size_t got = 0;
    while (got < kChunk && read_ < size_) {
      const ssize_t n = ::read(fd_.get(), plain_.data() + got, std::min<std::uint64_t>(kChunk - got, size_ - read_));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw Error(Errc::io, "cannot read the file: " + io::errno_text(errno));
      if (n == 0) throw Error(Errc::io, "the file shrank while it was being sent");
      got += static_cast<std::size_t>(n);
      read_ += static_cast<std::uint64_t>(n);
    }
    crc_.update(ByteView(plain_.data(), got));
    out_.clear();
    pos_ = 0;
    enc_->update(ByteView(plain_.data(), got), out_);
    if (read_ == size_) {
      enc_->finish(out_);
      done_ = true;
    }
  }

  io::UniqueFd fd_;
  std::uint64_t size_;
  FernetKey key_;
  std::int64_t now_;
  FernetIv iv_{};
  std::optional<FernetEncoder> enc_;
  std::uint64_t read_ = 0;
  bool done_ = false;
  Bytes plain_;
  std::string out_;
  std::size_t pos_ = 0;
  Cksum crc_;
  Progress* progress_ = nullptr;
};

std::string digest_of(FileTokenSource& src) {
  Sha512 h;
  std::vector<char> buf(256 * 1024);
  while (const std::size_t n = src.read(buf.data(), buf.size()))
    h.update(ByteView(reinterpret_cast<const std::uint8_t*>(buf.data()), n));
  return "sha-512=:" + base64_encode(h.finish()) + ":";
}

}  // namespace

UploadResult upload(Connection& conn, const fs::path& local, const std::string& remote, const Verbosity& v) {
  struct stat st{};
  if (::stat(local.c_str(), &st) != 0) throw Error(Errc::io, "cannot read " + local.string() + ": " + io::errno_text(errno));
  if (!S_ISREG(st.st_mode)) throw Error(Errc::io, local.string() + " is not a regular file");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  const std::string target = encode_path("/uploads/" + remote);
  bool rehandshaken = false;
  for (int attempt = 1; attempt <= kMaxUploadAttempts;) {
    // Each attempt: a fresh IV and time, under the current session key.
    FileTokenSource src(local, size, conn.session().key, io::SystemClock().now());
    const std::string digest = digest_of(src);
    const std::uint32_t our_crc = src.crc().value();
    src.rewind();
    Progress progress(src.size(), !v.quiet);
    src.set_progress(&progress);
    const auto res = conn.request_with_body("PUT", target, src, digest);
    src.set_progress(nullptr);
    if (res.status == 401 && !rehandshaken) {
      rehandshaken = true;
      conn.rehandshake();
      continue;
    }
    if (res.status != 200) Connection::raise(res, "put " + remote);
    const auto j = nlohmann::json::parse(res.body, nullptr, false);
    if (!j.is_object() || !j.contains("attempt") || !j.contains("cksum") || !j.contains("size"))
      throw Error(Errc::integrity, "put " + remote + ": the server's answer is not valid");
    const std::string id = j["attempt"].get<std::string>();
    const auto their_crc = j["cksum"].get<std::uint32_t>();
    const auto their_size = j["size"].get<std::uint64_t>();
    if (their_crc == our_crc && their_size == size) {
      const auto c = conn.request("POST", target + "?commit=" + id);
      if (c.status != 201) Connection::raise(c, "put " + remote + " (commit)");
      return UploadResult{remote, size, our_crc, attempt};
    }
    if (!v.quiet)
      std::fprintf(stderr, "attempt %d: the server stored %llu bytes with CRC %u, ours is %llu bytes with CRC %u; %s\n",
                   attempt, static_cast<unsigned long long>(their_size), their_crc, static_cast<unsigned long long>(size),
                   our_crc, attempt < kMaxUploadAttempts ? "retrying" : "giving up");
    const auto d = conn.request("DELETE", target + "?attempt=" + id);
    if (d.status != 204 && d.status != 404) Connection::raise(d, "put " + remote + " (discard)");
    ++attempt;
  }
  throw Error(Errc::integrity, "put " + remote + ": the server's checksum did not match ours in " +
                                   std::to_string(kMaxUploadAttempts) + " attempts; nothing was stored");
}

}  // namespace mh::client
