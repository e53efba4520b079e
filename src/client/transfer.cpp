#include "client/transfer.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>

#include "client/download.hpp"
#include "client/exit_codes.hpp"
#include "client/human.hpp"
#include "client/partial.hpp"
#include "client/remote_tree.hpp"
#include "client/upload.hpp"
#include "core/path.hpp"
#include "core/terminal_text.hpp"
#include "io/unique_fd.hpp"

namespace mh::client {
namespace fs = std::filesystem;

namespace {

void warn(const std::string& text) { std::fprintf(stderr, "minihttps: %s\n", terminal_safe_message(text).c_str()); }

// What a batch did, for its summary and its exit code.
class Tally {
 public:
  void done(std::uint64_t bytes) {
    ++files_;
    bytes_ += bytes;
  }
  void skipped(const Verbosity& v, const std::string& why) {
    ++skipped_;
    if (!v.quiet) warn(why);
  }
  void failed(const std::string& why, int code) {
    ++failed_;
    if (code_ == kOk) code_ = code;
    warn(why);
  }
  void failed(const Error& e) { failed(e.what(), exit_code_for(e.code())); }
  void not_attempted(std::size_t n) { failed_ += n; }
  std::string summary() const {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    return transfer_summary(files_, bytes_, secs, skipped_, failed_);
  }
  int exit_code() const { return code_; }

 private:
  std::size_t files_ = 0, skipped_ = 0, failed_ = 0;
  std::uint64_t bytes_ = 0;
  int code_ = kOk;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

std::string join(const std::string& dir, const std::string& name) { return dir.empty() ? name : dir + "/" + name; }

// ---- get ----------------------------------------------------------------------------------------

struct GetItem {
  std::string rel;  // normalized remote path
  fs::path local;
};

fs::path output_directory(const std::string& output) {
  if (output.empty() || output == "-")
    throw UsageError("get: -r and several files are written into a directory: add -o DIR/ (-o . for the current one)");
  std::error_code ec;
  if (output.back() == '/' && !fs::create_directories(output, ec) && ec)
    throw Error(Errc::io, "cannot create " + output + ": " + ec.message());
  if (!fs::is_directory(output, ec))
    throw UsageError("get: with -r or several files, -o names a directory: " + output +
                     " is not one (end it with / to create it)");
  return output;
}

void make_local_dir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::create_directories(dir, ec) && ec)
    throw Error(Errc::io, "cannot create " + dir.string() + ": " + ec.message());
}

// A download that failed leaves no FILE.part (nor its record) behind: -C is for one file, and a
// batch is run again as a whole.
void discard_partial(const fs::path& local) {
  const fs::path part = part_path(local);
  ::unlink(record_path(part).c_str());
  ::unlink(part.c_str());
}

}  // namespace

int run_get_batch(const GlobalOptions& g, const GetOptions& o, Connection& conn) {
  if (o.resume) throw UsageError("get: -C continues one download; it cannot be used with -r or several files");
  const fs::path out = output_directory(o.output);
  Tally tally;
  std::vector<GetItem> items;
  for (const std::string& path : o.paths) {
    const std::string rel = normalize_remote(path), what = "get " + path;
    std::optional<RemoteListing> listing;
    if (o.recursive) listing = list_remote(conn, rel, o.uploads, what);
    if (!listing) {  // a file (or something that will say why not when it is fetched)
      items.push_back(GetItem{rel, out / (rel.empty() ? "index.html" : remote_basename(rel))});
      continue;
    }
    // cp -r DIR OUT/: the tree lands in OUT/DIR (the top of the server: in OUT itself).
    const fs::path base = rel.empty() ? out : out / remote_basename(rel);
    const RemoteTree tree = walk_remote(conn, rel, o.uploads, what, std::move(*listing));
    for (const auto& p : tree.problems) tally.failed(p, kIntegrity);
    make_local_dir(base);
    for (const auto& d : tree.dirs) make_local_dir(base / d);
    for (const auto& [f, size] : tree.files) items.push_back(GetItem{join(rel, f), base / f});
  }
  // Two remote files never become one local file.
  std::map<fs::path, std::string> seen;
  for (const auto& it : items)
    if (const auto [at, added] = seen.emplace(it.local.lexically_normal(), it.rel); !added)
      throw UsageError("get: " + terminal_safe(at->second, 300) + " and " + terminal_safe(it.rel, 300) +
                       " would both be written to " + it.local.string());

  for (std::size_t i = 0; i < items.size(); ++i) {
    const GetItem& it = items[i];
    try {
      const DownloadResult r = download(conn, remote_target(it.rel, o.uploads), it.local, g.verbosity, false);
      tally.done(r.bytes);
      if (!g.verbosity.quiet)
        std::fprintf(stderr, "saved %s (%llu bytes)\n", terminal_safe(r.written.string()).c_str(),
                     static_cast<unsigned long long>(r.bytes));
    } catch (const Error& e) {
      discard_partial(it.local);
      tally.failed(e);
      if (e.code() == Errc::network) {  // the rest would only wait for the same network
        tally.not_attempted(items.size() - i - 1);
        break;
      }
    }
  }
  if (!g.verbosity.quiet) std::fprintf(stderr, "%s\n", tally.summary().c_str());
  return tally.exit_code();
}

// ---- put ----------------------------------------------------------------------------------------

namespace {

struct PutItem {
  fs::path local;
  std::string remote;  // normalized, in the upload area
};

// Every segment of a remote name must be one the server stores (docs/PROTOCOL.md §7.4).
std::optional<std::string> name_refusal(const std::string& remote) {
  if (remote.empty()) return "an empty name";
  for (std::size_t pos = 0; pos <= remote.size();) {
    const std::size_t end = std::min(remote.find('/', pos), remote.size());
    if (const auto r = segment_refusal(std::string_view(remote).substr(pos, end - pos))) return std::string(r->reason);
    pos = end + 1;
  }
  return std::nullopt;
}

void check_name(const std::string& remote, const std::string& src) {
  if (const auto why = name_refusal(remote))
    throw UsageError("put: " + src + " cannot be stored as " + terminal_safe(remote, 300) + " (" + *why +
                     "): give it another name, e.g. put " + src + " NAME");
}

// The name a local source goes by: "docs/" and "docs/." are "docs", "." is the current directory's.
std::string local_basename(const std::string& src) {
  fs::path p = fs::path(src).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  if (p.filename() == "." || p.filename() == ".." || p.filename().empty()) {
    std::error_code ec;
    p = fs::weakly_canonical(fs::absolute(src, ec), ec);
  }
  return p.filename().string();
}

// put -r: the regular files below `root`, never following a link (one could lead out of the
// tree, or round in a loop); links, special files and names the server cannot store are skipped
// with a warning each. Empty directories are not made: the server has directories only for files.
void walk_local(const fs::path& root, const std::string& remote_root, std::vector<PutItem>& items, Tally& tally,
                const Verbosity& v) {
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    const std::string rel = p.lexically_relative(root).generic_string(), shown = p.string();
    const fs::file_status st = it->symlink_status(ec);
    if (ec) break;
    if (fs::is_symlink(st)) {
      tally.skipped(v, "skipping " + shown + ": a symbolic link (put -r does not follow links)");
      continue;
    }
    if (const auto why = name_refusal(p.filename().string())) {
      tally.skipped(v, "skipping " + shown + ": the server cannot store that name (" + *why + ")");
      if (fs::is_directory(st)) it.disable_recursion_pending();
      continue;
    }
    if (fs::is_directory(st)) continue;
    if (!fs::is_regular_file(st)) {
      tally.skipped(v, "skipping " + shown + ": not a regular file");
      continue;
    }
    items.push_back(PutItem{p, remote_root + "/" + rel});
  }
  if (ec) tally.failed("put: cannot read all of " + root.string() + ": " + ec.message(), kFailed);
}

}  // namespace

int run_put(const GlobalOptions& g, const PutOptions& o) {
  // scp-like: put SRC... [DEST]. With one argument DEST is the top of the upload area.
  std::vector<std::string> sources = o.args;
  std::optional<std::string> dest;
  if (sources.size() >= 2) {
    dest = sources.back();
    sources.pop_back();
  }
  const bool batch = sources.size() > 1 || o.recursive;
  // Every source is checked before anything is sent.
  for (const std::string& src : sources) {
    struct stat st {};
    if (::stat(src.c_str(), &st) != 0) throw Error(Errc::io, "put: cannot read " + src + ": " + io::errno_text(errno));
    if (S_ISDIR(st.st_mode) && !o.recursive)
      throw Error(Errc::io, "put: " + src + " is a directory: use put -r to upload it and what it holds");
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) throw Error(Errc::io, "put: " + src + " is not a regular file");
  }
  // `put a.pdf b.pdf` from a glob of two files must not store a.pdf as b.pdf.
  const bool says_dir = dest && dest->back() == '/';
  struct stat dest_st {};
  if (dest && !says_dir && !batch && ::lstat(dest->c_str(), &dest_st) == 0)
    throw UsageError("put: " + *dest + " is a local file too: to upload both, name a directory to put them in (put " +
                     sources[0] + " " + *dest + " DIR/, or / for the top); to store " + sources[0] + " as " + *dest +
                     ", write it as /" + normalize_remote(*dest));
  if (dest && !normalize_remote(*dest).empty()) check_name(normalize_remote(*dest), sources[0]);
  Home home = Home::locate(g.home);
  Connection conn(home, server_url(g, home), g.verbosity, std::chrono::seconds(g.timeout_seconds));

  // Where the sources go: into the directory dir_dest, or (one file) under the name `rename`.
  std::string dir_dest;
  std::optional<std::string> rename;
  if (dest) {
    const std::string rel = normalize_remote(*dest);
    if (!says_dir && !rel.empty()) {
      const auto e = stat_remote(conn, rel, true, "put " + *dest);
      if (e && e->dir) {
        dir_dest = rel;
      } else if (batch) {
        throw UsageError("put: " + *dest +
                         " is not a directory in your uploads: with several files or -r the last "
                         "argument is the directory to put them in (end it with / to create it)");
      } else {
        rename = rel;
      }
    } else {
      dir_dest = rel;
    }
  }

  Tally tally;
  std::vector<PutItem> items;
  for (const std::string& src : sources) {
    const std::string remote = rename ? *rename : join(dir_dest, local_basename(src));
    check_name(remote, src);
    std::error_code ec;
    if (fs::is_directory(src, ec))
      walk_local(src, remote, items, tally, g.verbosity);
    else
      items.push_back(PutItem{src, remote});
  }
  std::sort(items.begin(), items.end(), [](const PutItem& a, const PutItem& b) { return a.remote < b.remote; });
  for (std::size_t i = 1; i < items.size(); ++i)
    if (items[i].remote == items[i - 1].remote)
      throw UsageError("put: " + items[i - 1].local.string() + " and " + items[i].local.string() +
                       " would both be stored as " + terminal_safe(items[i].remote, 300));

  const auto print = [&](const UploadResult& r) {
    if (g.verbosity.quiet) return;
    std::printf("uploaded %s (%llu bytes, cksum %u%s)\n", terminal_safe(r.name).c_str(),
                static_cast<unsigned long long>(r.size), r.crc,
                r.attempts > 1 ? (", after " + std::to_string(r.attempts) + " attempts").c_str() : "");
    std::fflush(stdout);
  };
  if (!batch) {  // one file: its failure is the command's, as it always was
    print(upload(conn, items[0].local, items[0].remote, g.verbosity));
    return kOk;
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    try {
      const UploadResult r = upload(conn, items[i].local, items[i].remote, g.verbosity);
      tally.done(r.size);
      print(r);
    } catch (const Error& e) {
      tally.failed(e);
      if (e.code() == Errc::network) {
        tally.not_attempted(items.size() - i - 1);
        break;
      }
    }
  }
  if (!g.verbosity.quiet) std::printf("%s\n", tally.summary().c_str());
  return tally.exit_code();
}

}  // namespace mh::client
