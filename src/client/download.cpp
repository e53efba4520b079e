#include "client/download.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "client/get_checks.hpp"
#include "client/partial.hpp"
#include "client/progress.hpp"
#include "core/terminal_text.hpp"
#include "io/unique_fd.hpp"

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

[[noreturn]] void fail_io(const std::string& what, int err) {
  throw Error(Errc::io, what + ": " + io::errno_text(err));
}

void write_fd(int fd, ByteView b, const std::string& what) {
  std::size_t off = 0;
  while (off < b.size()) {
    const ssize_t n = ::write(fd, b.data() + off, b.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE) throw OutputClosed();  // the reader is gone (`| head`): nothing more to say
      fail_io(what, errno);
    }
    off += static_cast<std::size_t>(n);
  }
}

// FILE.part: visible, with the permissions a new file gets; renamed over FILE once complete.
class PartFile {
 public:
  bool is_open() const noexcept { return fd_.get() >= 0; }

  // Keeps the first `keep` bytes (verified ones, -C) and drops whatever followed them.
  void open(const fs::path& path, std::uint64_t keep) {
    path_ = path;
    const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (keep == 0 ? O_TRUNC : 0);
    fd_ = io::UniqueFd(::open(path.c_str(), flags, 0666));
    if (fd_.get() < 0) fail_io("cannot create " + path.string(), errno);
    const auto at = static_cast<off_t>(keep);
    if (keep > 0 && (::ftruncate(fd_.get(), at) != 0 || ::lseek(fd_.get(), at, SEEK_SET) != at))
      fail_io("cannot continue " + path.string(), errno);
  }
  void write(ByteView b) { write_fd(fd_.get(), b, "cannot write " + path_.string()); }
  void commit(const fs::path& target) {
    if (::fsync(fd_.get()) != 0) fail_io("cannot finish " + path_.string(), errno);
    fd_.reset();
    if (::rename(path_.c_str(), target.c_str()) != 0) fail_io("cannot move the download to " + target.string(), errno);
  }
  void remove() noexcept {
    fd_.reset();
    ::unlink(path_.c_str());
  }

 private:
  io::UniqueFd fd_;
  fs::path path_;
};

std::string remote_name(const std::string& target) {
  std::string path = target.substr(0, target.find('?'));
  while (!path.empty() && path.back() == '/') path.pop_back();
  const std::string name = path.substr(path.rfind('/') + 1);
  return name.empty() ? "index.html" : name;
}

void notice(const Verbosity& v, const std::string& text) {
  if (!v.quiet) std::fprintf(stderr, "minihttps: %s\n", terminal_safe_message(text).c_str());
}

std::string shown(const std::optional<std::string>& etag) { return etag ? terminal_safe(*etag, 200) : "(none)"; }

// What -C can continue: FILE.part, its record, made for this server and path, with an ETag.
// nullopt: download from the start (FILE.part is then overwritten).
std::optional<PartialRecord> resumable(const fs::path& part, const fs::path& record, const std::string& fingerprint,
                                       const std::string& target, const Verbosity& v) {
  struct stat st {};
  if (::lstat(part.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;  // nothing to continue
  std::optional<PartialRecord> r;
  try {
    r = load_record(record);
  } catch (const Error& e) {
    notice(v, "ignoring " + record.string() + " (" + e.what() + "); downloading from the start");
    return std::nullopt;
  }
  if (!r) {
    notice(v, part.string() + " has no record " + record.string() + "; downloading from the start");
    return std::nullopt;
  }
  if (r->server_fingerprint != fingerprint || r->path != target)
    throw Error(Errc::conflict, "cannot continue " + part.string() + ": it holds " + terminal_safe(r->path, 300) +
                                    " from the server " + terminal_safe(r->server_fingerprint, 64) + ", not " + target +
                                    " from " + fingerprint + "; remove " + part.string() + " to start again");
  if (!r->etag) {
    notice(v, part.string() + " has no ETag to continue from; downloading from the start");
    return std::nullopt;
  }
  // Only whole chunks that opened count, and only those the file still holds.
  const std::uint64_t c = r->chunk_size;
  std::uint64_t k = std::min<std::uint64_t>(r->verified, static_cast<std::uint64_t>(st.st_size) / c * c);
  // Everything opened but the rename did not happen: the final chunk again, which also proves
  // that the version is still the same.
  if (k >= r->size) k = r->size == 0 ? 0 : (r->size - 1) / c * c;
  if (k == 0) return std::nullopt;
  r->verified = k;
  return r;
}

// -C accepts only the rest of the same version, from byte K on, in the same chunks.
void check_continuation(const PartialRecord& r, const Answer& a, const fs::path& part) {
  if (a.head.etag != r.etag || a.status == 416)
    throw Error(Errc::integrity, "the file changed on the server since the partial download: ETag " + shown(r.etag) +
                                     " is now " + shown(a.head.etag) + "; remove " + part.string() + " to start again");
  const auto& l = a.layout;
  if (a.status != 206 || !l || l->size() != r.size || l->chunk_size() != r.chunk_size ||
      l->first_byte() != r.verified || l->last_chunk() + 1 != l->chunk_count())
    throw Error(Errc::integrity, "the server's answer does not continue " + part.string() +
                                     " (expected a 206 from byte " + std::to_string(r.verified) + " of " +
                                     std::to_string(r.size) + " in chunks of " + std::to_string(r.chunk_size) +
                                     "); remove " + part.string() + " to start again");
}

DownloadResult to_file(Connection& conn, const std::string& target, const fs::path& file, const Verbosity& v,
                       bool resume) {
  const fs::path part = part_path(file), record = record_path(part);
  const std::string fingerprint = conn.session().server_fingerprint;
  const std::optional<PartialRecord> prior = resume ? resumable(part, record, fingerprint, target, v) : std::nullopt;
  const std::uint64_t keep = prior ? prior->verified : 0;

  Exchange x{.method = "GET", .target = target};
  if (prior) x.fields = {{"range", "bytes=" + std::to_string(keep) + "-"}, {"if-range", *prior->etag}};
  PartFile out;
  PartialRecord rec;
  std::optional<InterruptRecord> on_interrupt;
  std::optional<Progress> progress;
  std::string media_type;
  x.on_head = [&](const Answer& a) {
    if (prior && (a.status == 200 || a.status == 206 || a.status == 416)) check_continuation(*prior, a, part);
    if (a.status != 200 && a.status != 206) return false;  // raised below, nothing touched
    refuse_listing(a, target);
    if (!a.layout) throw Error(Errc::integrity, "the answer to a GET carries no body stream");
    if (!prior && a.status == 206)
      throw Error(Errc::integrity, "the server answered a part of the file that was not asked for");
    rec = PartialRecord{fingerprint, target, a.head.etag, a.layout->size(), a.layout->chunk_size(), keep};
    if (!prior) ::unlink(record.c_str());  // it described the FILE.part about to be overwritten
    out.open(part, keep);
    on_interrupt.emplace(record, rec, part);
    progress.emplace(a.layout->byte_count(), !v.quiet);
    media_type = a.head.content_type.value_or("");
    return true;
  };
  x.on_chunk = [&](std::uint64_t, ByteView plain) {
    out.write(plain);
    rec.verified += plain.size();
    on_interrupt->verified(rec.verified);
    progress->advance(plain.size());
  };

  // Whatever stops the transfer once FILE.part was opened leaves it, with its record, to -C.
  const auto keep_part = [&](const Error& e) -> Error {
    progress.reset();
    if (rec.verified == 0) {
      out.remove();
      on_interrupt.reset();
      return e;
    }
    save_record(record, rec);
    on_interrupt.reset();
    return Error(e.code(), std::string(e.what()) + "; kept " + part.string() + " (" + std::to_string(rec.verified) +
                               " of " + std::to_string(rec.size) +
                               " bytes verified): run the same get with -C to continue");
  };
  Answer a;
  try {
    a = conn.send(x);
  } catch (const Error& e) {
    if (!out.is_open()) throw;
    throw keep_part(e);
  }
  if (a.status != 200 && a.status != 206) Connection::raise(a, "get " + target);
  try {
    out.commit(file);
  } catch (const Error& e) { throw keep_part(e); }
  on_interrupt.reset();
  progress.reset();
  ::unlink(record.c_str());
  return DownloadResult{rec.verified - keep, keep, media_type, file};
}

// Into an open descriptor that is not a file to be replaced (stdout, a device, a pipe): each chunk
// as soon as it opened.
// guard_terminal: fd is a terminal that binary bytes must not reach (get without -o -).
DownloadResult to_stream(Connection& conn, const std::string& target, int fd, const std::string& name,
                         const Verbosity& v, bool guard_terminal = false) {
  bool started = false, output_failed = false;
  std::uint64_t written = 0;
  std::optional<Progress> progress;
  std::string media_type;
  Exchange x{.method = "GET", .target = target};
  x.on_head = [&](const Answer& a) {
    if (a.status != 200) return false;
    if (!a.layout) throw Error(Errc::integrity, "the answer to a GET carries no body stream");
    refuse_listing(a, target);
    started = true;
    progress.emplace(a.layout->byte_count(), !v.quiet);
    media_type = a.head.content_type.value_or("");
    return true;
  };
  x.on_chunk = [&](std::uint64_t, ByteView plain) {
    try {
      if (guard_terminal && written == 0) refuse_binary_on_terminal(plain);
      write_fd(fd, plain, "cannot write to " + name);
    } catch (const Error&) {
      output_failed = true;
      throw;
    }
    written += plain.size();
    progress->advance(plain.size());
  };
  Answer a;
  try {
    a = conn.send(x);
  } catch (const Error& e) {
    progress.reset();
    if (!started || output_failed) throw;
    // What reached stdout opened, but it is not all: a reader of the pipe must not take it for
    // the file.
    throw Error(Errc::integrity, std::string("output incomplete: ") + e.what());
  }
  if (a.status != 200) Connection::raise(a, "get " + target);
  return DownloadResult{written, 0, media_type, {}};
}

}  // namespace

DownloadResult download(Connection& conn, const std::string& target, const std::optional<fs::path>& out,
                        const Verbosity& v, bool resume, bool binary_to_terminal) {
  if (!out) return to_stream(conn, target, 1, "stdout", v, !binary_to_terminal && ::isatty(1));
  std::error_code ec;
  const fs::path file = fs::is_directory(*out, ec) ? *out / remote_name(target) : *out;
  // A device or a pipe (-o /dev/null, a FIFO) is written to as it is; renaming FILE.part over it
  // would replace it with a regular file.
  struct stat st {};
  if (::stat(file.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    if (resume) throw Error(Errc::io, "cannot continue into " + file.string() + ": it is not a regular file");
    const io::UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY));
    if (fd.get() < 0) fail_io("cannot open " + file.string(), errno);
    DownloadResult r = to_stream(conn, target, fd.get(), file.string(), v);
    r.written = file;
    return r;
  }
  return to_file(conn, target, file, v, resume);
}

std::string fetch_small(Connection& conn, const std::string& target) {
  Answer a = conn.send(Exchange{.method = "GET", .target = target});
  if (a.status != 200) Connection::raise(a, "get " + target);
  return std::move(a.body);
}

}  // namespace mh::client
