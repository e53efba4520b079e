#include "client/download.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "client/progress.hpp"
#include "core/fernet.hpp"
#include "io/system_clock.hpp"

namespace mh::client {
namespace fs = std::filesystem;

std::string encode_path(std::string_view path) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out = path.empty() || path.front() != '/' ? "/" : "";
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

namespace {

[[noreturn]] void fail_io(const std::string& what) {
  throw Error(Errc::io, what + ": " + std::strerror(errno));
}

// A temporary file that disappears unless committed.
class TempFile {
 public:
  explicit TempFile(const fs::path& dir, const std::string& stem) {
    std::string tmpl = (dir / ("." + stem + ".minihttps-XXXXXX")).string();
    fd_ = ::mkstemp(tmpl.data());
    if (fd_ < 0) fail_io("cannot create a temporary file in " + dir.string());
    path_ = tmpl;
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  void write(ByteView b) {
    std::size_t off = 0;
    while (off < b.size()) {
      const ssize_t n = ::write(fd_, b.data() + off, b.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail_io("cannot write " + path_.string());
      }
      off += static_cast<std::size_t>(n);
    }
  }
  // fsync, give the file the permissions a new file would get, rename over `target`.
  void commit(const fs::path& target) {
    const mode_t mask = ::umask(0);
    ::umask(mask);
    if (::fchmod(fd_, 0666 & ~mask) != 0 || ::fsync(fd_) != 0) fail_io("cannot finish " + path_.string());
    if (::rename(path_.c_str(), target.c_str()) != 0) fail_io("cannot move the download to " + target.string());
    committed_ = true;
  }
  void copy_to_stdout() {
    if (::lseek(fd_, 0, SEEK_SET) != 0) fail_io("cannot rewind " + path_.string());
    char buf[65536];
    for (;;) {
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail_io("cannot read " + path_.string());
      if (n == 0) break;
      for (ssize_t off = 0; off < n;) {
        const ssize_t w = ::write(1, buf + off, static_cast<std::size_t>(n - off));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) fail_io("cannot write to stdout");
        off += w;
      }
    }
  }

 private:
  int fd_ = -1;
  fs::path path_;
  bool committed_ = false;
};

struct TempSink : FernetSink {
  TempFile& file;
  std::uint64_t bytes = 0;
  explicit TempSink(TempFile& f) : file(f) {}
  void write(ByteView p) override {
    file.write(p);
    bytes += p.size();
  }
};

std::string remote_name(const std::string& target) {
  std::string path = target.substr(0, target.find('?'));
  while (!path.empty() && path.back() == '/') path.pop_back();
  const std::string name = path.substr(path.rfind('/') + 1);
  return name.empty() ? "index.html" : name;
}

}  // namespace

DownloadResult download(Connection& conn, const std::string& target, const std::optional<fs::path>& out,
                        const Verbosity& v, std::int64_t max_token_age) {
  fs::path final_path;
  fs::path dir;
  if (out) {
    std::error_code ec;
    final_path = fs::is_directory(*out, ec) ? *out / remote_name(target) : *out;
    dir = final_path.has_parent_path() ? final_path.parent_path() : fs::path(".");
  } else {
    const char* tmp = std::getenv("TMPDIR");
    dir = tmp && *tmp ? tmp : "/tmp";
  }
  TempFile temp(dir, out ? final_path.filename().string() : "stdout");
  TempSink sink(temp);
  // The key is read when the body starts: a re-handshake on the way changes it.
  std::optional<FernetKey> key;
  std::optional<FernetDecoder> decoder;
  std::optional<Progress> progress;
  const auto res = conn.request("GET", target, {}, {}, [&](const net::ClientResponse& head, std::string_view chunk) {
    if (!decoder) {
      key = conn.session().key;
      decoder.emplace(*key, io::SystemClock().now(), max_token_age, sink);
      const auto length = head.header("Content-Length");
      progress.emplace(length ? std::stoull(std::string(*length)) : 0, !v.quiet);
    }
    decoder->update(chunk);
    progress->advance(chunk.size());
  });
  progress.reset();
  if (res.status != 200) Connection::raise(res, "get " + target);
  if (!decoder) {
    key = conn.session().key;
    decoder.emplace(*key, io::SystemClock().now(), max_token_age, sink);
  }
  decoder->finish();  // MAC, padding: throws FernetError (integrity) and the temp file goes away
  DownloadResult r;
  r.bytes = sink.bytes;
  r.media_type = std::string(res.header("MiniHTTPS-Content-Type").value_or(""));
  if (out) {
    temp.commit(final_path);
    r.written = final_path;
  } else {
    temp.copy_to_stdout();
  }
  return r;
}

std::string fetch_small(Connection& conn, const std::string& target, std::int64_t max_token_age) {
  const auto res = conn.request("GET", target);
  if (res.status != 200) Connection::raise(res, "get " + target);
  const Bytes plain = fernet_decrypt(conn.session().key, res.body, io::SystemClock().now(), max_token_age);
  return std::string(as_chars(plain));
}

}  // namespace mh::client
