// UploadService in-process (issue 12, items 7 and 11): the quota's books on every path, the
// minimum charge and the per-client caps, a commit racing PUTs, the attempt's expiry at commit, and
// the exact size limit. Requests go through UploadService::handle as WebService calls it (the
// signature already verified), bodies through its sink as the HTTP server feeds them; files are
// real, tokens real Fernet tokens under the client's session key, time a FixedClock.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <fcntl.h>
#include <filesystem>
#include <latch>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "auth/registry.hpp"
#include "core/cksum.hpp"
#include "core/fernet.hpp"
#include "core/hash.hpp"
#include "core/rsa.hpp"
#include "io/unique_fd.hpp"
#include "support/test_support.hpp"
#include "web/upload_service.hpp"

namespace mh::web {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
constexpr std::int64_t kNow = 1'700'000'000;
constexpr std::string_view kNoAttempt = "upload: no such attempt (expired, discarded or never made)";

std::shared_ptr<const auth::ClientRecord> make_client(const FernetKey& session) {
  const RsaPublicKey key =
      RsaPublicKey::from_pem(test::read_file(test::vectors_dir() / "rfc9421/test-key-rsa.pub.pem"));
  auto c = std::make_shared<auth::ClientRecord>(key);
  c->name = "alice";
  c->fingerprint = key.fingerprint();
  c->session_key = session;
  c->session_expires = kNow + 3600;
  return c;
}

// An answer or a refusal, as the client would see it: status and (for refusals) the reason.
struct Outcome {
  int status = 0;
  std::string reason;
  json body;
};

Outcome refusal(const Error& e) { return Outcome{http_status(e.code()), e.what(), json()}; }

Outcome answer(const net::Response& r) {
  return Outcome{r.status, "", r.body.empty() ? json() : json::parse(r.body, nullptr, false)};
}

// A token, ready to send: its text and the digest the client signs.
struct Token {
  std::string name, text;
  Bytes digest;
};

class Uploads {
 public:
  explicit Uploads(UploadOptions o = {}, fs::path dir = {}) {
    o.dir = (dir.empty() ? tmp_.path() : dir) / "uploads";
    opts_ = o;
    svc_.emplace(o, clock);
  }

  Token token(const std::string& name, std::string_view plain, std::int64_t at = kNow) const {
    Token t{name, fernet_encrypt(session_, as_bytes(plain), at), {}};
    const Sha512Digest d = sha512(as_bytes(t.text));
    t.digest = Bytes(d.begin(), d.end());
    return t;
  }

  // PUT /uploads/NAME: the immediate answer, or the sink to stream into.
  std::variant<Outcome, net::StreamBody> begin(const Token& t) {
    net::Request req;
    req.method = "PUT";
    req.target = "/uploads/" + t.name;
    req.headers = {{"Content-Length", std::to_string(t.text.size())}};
    req.has_body = true;
    try {
      net::Dispatch d = svc_->handle(req, verified(t.digest));
      return std::move(std::get<net::StreamBody>(d));
    } catch (const Error& e) {
      return refusal(e);
    }
  }

  // The whole PUT, its body in one piece (the sink is aborted when a write throws, as the server does).
  Outcome put(const Token& t) {
    auto started = begin(t);
    if (auto* o = std::get_if<Outcome>(&started)) return *o;
    auto& sb = std::get<net::StreamBody>(started);
    try {
      sb.sink->write(t.text);
    } catch (const Error& e) {
      sb.sink->abort();
      return refusal(e);
    }
    try {
      return answer(sb.sink->finish());
    } catch (const Error& e) {
      return refusal(e);
    }
  }
  Outcome put(const std::string& name, std::string_view plain) { return put(token(name, plain)); }

  Outcome request(const std::string& method, const std::string& target) {
    net::Request req;
    req.method = method;
    req.target = target;
    try {
      return answer(std::get<net::Response>(svc_->handle(req, verified(std::nullopt))));
    } catch (const Error& e) {
      return refusal(e);
    }
  }
  Outcome commit(const std::string& name, const std::string& id) { return request("POST", "/uploads/" + name + "?commit=" + id); }
  Outcome discard(const std::string& name, const std::string& id) {
    return request("DELETE", "/uploads/" + name + "?attempt=" + id);
  }
  Outcome remove(const std::string& name) { return request("DELETE", "/uploads/" + name); }

  // PUT and commit; both must succeed.
  void store(const std::string& name, std::string_view plain) {
    const Outcome p = put(name, plain);
    ASSERT_EQ(p.status, 200) << name << ": " << p.reason;
    const Outcome c = commit(name, p.body["attempt"].get<std::string>());
    ASSERT_EQ(c.status, 201) << name << ": " << c.reason;
  }

  UploadUsage usage() { return svc_->usage(*client_); }
  UploadService& service() { return *svc_; }
  const std::shared_ptr<const auth::ClientRecord>& client() const { return client_; }

  // The client's area on disk: every regular file below it, relative path -> size.
  std::map<std::string, std::uintmax_t> disk() const {
    std::map<std::string, std::uintmax_t> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(opts_.dir, ec); it != fs::recursive_directory_iterator(); ++it)
      if (it->is_regular_file()) out[fs::relative(it->path(), opts_.dir).filename().string()] = it->file_size();
    return out;
  }
  fs::path area() const { return opts_.dir / to_hex(sha256(client_->key.spki_der())); }

  FixedClock clock{kNow};

 private:
  VerifiedRequest verified(std::optional<Bytes> digest) const {
    VerifiedRequest v;
    v.client = client_;
    v.content_digest = std::move(digest);
    return v;
  }

  test::TempDir tmp_;
  FernetKey session_ = FernetKey::generate();
  std::shared_ptr<const auth::ClientRecord> client_ = make_client(session_);
  UploadOptions opts_;
  std::optional<UploadService> svc_;
};

void expect_usage(const UploadUsage& u, std::uint64_t committed, std::uint64_t pending, std::size_t files,
                  std::size_t attempts) {
  EXPECT_EQ(u.committed_bytes, committed);
  EXPECT_EQ(u.pending_bytes, pending);
  EXPECT_EQ(u.files, files);
  EXPECT_EQ(u.pending, attempts);
}

UploadOptions with_quota(std::uint64_t quota) {
  UploadOptions o;
  o.quota = quota;
  return o;
}

std::string quota_reason(std::uint64_t quota) {
  return "upload: your quota of " + std::to_string(quota) + " bytes would be exceeded";
}

// ---- 7(a): the reservation comes back when the part file cannot be opened -----------------------

// RLIMIT_NOFILE lowered to the lowest free descriptor, so the next open(2) fails with EMFILE;
// restored when it dies.
class NoMoreDescriptors {
 public:
  NoMoreDescriptors() {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    const int lowest = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ::close(lowest);
    rlimit low = saved_;
    low.rlim_cur = static_cast<rlim_t>(lowest);
    ok_ = ::setrlimit(RLIMIT_NOFILE, &low) == 0;
  }
  ~NoMoreDescriptors() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  bool ok() const { return ok_; }

 private:
  rlimit saved_{};
  bool ok_ = false;
};

// The attack: after failed opens, a client with every file deleted was refused a 200 kB upload
// ("quota of 1000000 would be exceeded") with 5 bytes used. Both failures honestly reproduced:
// the attempts directory replaced by a file (ENOTDIR, also as root) and no descriptors left (EMFILE).
TEST(UploadQuota, PartFileThatCannotBeOpenedGivesTheReservationBack) {
  constexpr std::uint64_t kQuota = 1'000'000;
  Uploads up(with_quota(kQuota));
  up.store("small", "12345");
  expect_usage(up.usage(), 4096, 0, 1, 0);
  const Token big = up.token("big", std::string(200'000, 'b'));

  // ENOTDIR: .attempts is a regular file (mkdir then finds "it exists").
  const fs::path attempts = up.area() / ".attempts";
  fs::remove_all(attempts);
  test::write_file(attempts, "not a directory");
  for (int i = 0; i < 5; ++i) {
    const Outcome o = up.put(big);
    EXPECT_EQ(o.status, 500);
    EXPECT_EQ(o.reason, "upload: cannot store the file: " + io::errno_text(ENOTDIR));
  }
  expect_usage(up.usage(), 4096, 0, 1, 0);

  // EMFILE: no descriptor left for the part file.
  fs::remove(attempts);
  {
    NoMoreDescriptors limit;
    ASSERT_TRUE(limit.ok());
    for (int i = 0; i < 5; ++i) {
      const Outcome o = up.put(big);
      EXPECT_EQ(o.status, 500);
      EXPECT_EQ(o.reason, "upload: cannot store the file: " + io::errno_text(EMFILE));
    }
  }
  expect_usage(up.usage(), 4096, 0, 1, 0);

  // The condition fixed and the file deleted: the whole quota is there again, to the byte.
  EXPECT_EQ(up.remove("small").status, 204);
  expect_usage(up.usage(), 0, 0, 0, 0);
  up.store("full", std::string(kQuota, 'f'));
  expect_usage(up.usage(), kQuota, 0, 1, 0);
  const Outcome more = up.put("more", "");
  EXPECT_EQ(more.status, 507);
  EXPECT_EQ(more.reason, quota_reason(kQuota));
  EXPECT_EQ(up.disk(), (std::map<std::string, std::uintmax_t>{{"full", kQuota}}));
}

// Every other path that ends an upload gives the reservation back too.
TEST(UploadQuota, RefusedBrokenOffAndForgedUploadsGiveTheReservationBack) {
  Uploads up(with_quota(8192));
  const Token t = up.token("t", std::string(5000, 't'));
  {
    auto started = up.begin(t);  // in progress: it holds what the token can carry
    ASSERT_TRUE(std::holds_alternative<net::StreamBody>(started));
    expect_usage(up.usage(), 0, 5007, 0, 1);
    std::get<net::StreamBody>(started).sink->write(std::string_view(t.text).substr(0, 100));
    std::get<net::StreamBody>(started).sink->abort();  // broken off
  }
  expect_usage(up.usage(), 0, 0, 0, 0);
  Token forged = t;
  forged.text[200] = forged.text[200] == 'A' ? 'B' : 'A';
  forged.digest = t.digest;
  EXPECT_EQ(up.put(forged).status, 403);  // the digest no longer matches
  expect_usage(up.usage(), 0, 0, 0, 0);
  EXPECT_TRUE(up.disk().empty());
  up.store("t", std::string(8192, 't'));  // all of it
  expect_usage(up.usage(), 8192, 0, 1, 0);
}

// ---- 7(b): a minimum charge per file and attempt, and caps per client ----------------------------

// The attack: 864 files and 384 attempts in 13 s under a 100-byte quota (empty files were free).
TEST(UploadQuota, EmptyFilesAndAttemptsAreChargedOneBlockEach) {
  EXPECT_EQ(UploadOptions{}.min_charge, 4096u);
  constexpr std::uint64_t kQuota = 10 * 4096;
  Uploads up(with_quota(kQuota));
  for (int i = 0; i < 10; ++i) up.store("e" + std::to_string(i), "");
  expect_usage(up.usage(), kQuota, 0, 10, 0);
  Outcome o = up.put("e10", "");
  EXPECT_EQ(o.status, 507);
  EXPECT_EQ(o.reason, quota_reason(kQuota));

  // Attempts awaiting commit count the same: two files out, two empty attempts in, then no more.
  EXPECT_EQ(up.remove("e0").status, 204);
  EXPECT_EQ(up.remove("e1").status, 204);
  EXPECT_EQ(up.put("p0", "").status, 200);
  EXPECT_EQ(up.put("p1", "").status, 200);
  expect_usage(up.usage(), 8 * 4096, 2 * 4096, 8, 2);
  o = up.put("p2", "");
  EXPECT_EQ(o.status, 507);
  EXPECT_EQ(o.reason, quota_reason(kQuota));
  EXPECT_EQ(up.disk().size(), 10u);  // 8 files and 2 attempts, each of 0 bytes
}

TEST(UploadQuota, PendingAttemptsAreCappedPerClient) {
  EXPECT_EQ(UploadOptions{}.max_pending, 16u);
  Uploads up;  // the defaults: 16 pending attempts
  std::vector<std::string> ids;
  for (int i = 0; i < 16; ++i) {
    const Outcome o = up.put("p" + std::to_string(i), "x");
    ASSERT_EQ(o.status, 200) << i << ": " << o.reason;
    ids.push_back(o.body["attempt"].get<std::string>());
  }
  Outcome o = up.put("p16", "x");
  EXPECT_EQ(o.status, 507);
  EXPECT_EQ(o.reason, "upload: your limit of 16 pending attempts would be exceeded");
  // An upload in progress is pending too.
  EXPECT_EQ(up.discard("p0", ids[0]).status, 204);
  {
    auto started = up.begin(up.token("p16", "x"));
    ASSERT_TRUE(std::holds_alternative<net::StreamBody>(started));
    o = up.put("p17", "x");
    EXPECT_EQ(o.status, 507);
    EXPECT_EQ(o.reason, "upload: your limit of 16 pending attempts would be exceeded");
  }  // dropped unfinished
  EXPECT_EQ(up.commit("p1", ids[1]).status, 201);  // a commit frees its place too
  EXPECT_EQ(up.put("p17", "x").status, 200);
  EXPECT_EQ(up.put("p18", "x").status, 200);
  EXPECT_EQ(up.put("p19", "x").status, 507);
  expect_usage(up.usage(), 4096, 16 * 4096, 1, 16);
}

TEST(UploadQuota, FilesPlusPendingAttemptsAreCappedPerClient) {
  EXPECT_EQ(UploadOptions{}.max_files, 10000u);
  UploadOptions opts;
  opts.max_files = 5;
  Uploads up(opts);
  for (int i = 0; i < 4; ++i) up.store("f" + std::to_string(i), "x");
  const Outcome pending = up.put("f4", "x");
  ASSERT_EQ(pending.status, 200);
  const std::string limit = "upload: your limit of 5 files would be exceeded";
  Outcome o = up.put("f5", "x");
  EXPECT_EQ(o.status, 507);
  EXPECT_EQ(o.reason, limit);
  // Replacing a file needs a place too while its attempt is pending (it is one more file on disk).
  o = up.put("f0", "y");
  EXPECT_EQ(o.status, 507);
  EXPECT_EQ(o.reason, limit);
  EXPECT_EQ(up.commit("f4", pending.body["attempt"].get<std::string>()).status, 201);
  EXPECT_EQ(up.put("f5", "x").status, 507);
  EXPECT_EQ(up.remove("f1").status, 204);
  up.store("f5", "x");
  expect_usage(up.usage(), 5 * 4096, 0, 5, 0);
  EXPECT_EQ(up.disk().size(), 5u);
}

// A commit that replaces a file of the same name: the old file's charge goes, the new one's comes.
TEST(UploadQuota, ReplacingAFileCountsOnlyTheDifference) {
  constexpr std::uint64_t kQuota = 20'000;
  Uploads up(with_quota(kQuota));
  up.store("a", std::string(8'000, 'a'));
  up.store("a", std::string(9'000, 'A'));
  expect_usage(up.usage(), 9'000, 0, 1, 0);
  // One byte more than is left: refused as it is decrypted (its token could carry 11,001 to
  // 11,007 bytes, so it was let in holding what is left), and nothing stays.
  Outcome o = up.put("b", std::string(11'001, 'b'));
  EXPECT_EQ(o.status, 507);
  EXPECT_EQ(o.reason, quota_reason(kQuota));
  expect_usage(up.usage(), 9'000, 0, 1, 0);
  up.store("b", std::string(11'000, 'b'));  // exactly what is left
  expect_usage(up.usage(), kQuota, 0, 2, 0);
  EXPECT_EQ(up.disk(), (std::map<std::string, std::uintmax_t>{{"a", 9'000}, {"b", 11'000}}));
  // While its attempt is pending a replacement is one more file on disk, and counts as one: at a
  // full quota even a smaller one needs room first.
  o = up.put("b", std::string(5'000, 'c'));
  EXPECT_EQ(o.status, 507);
  EXPECT_EQ(o.reason, quota_reason(kQuota));
  EXPECT_EQ(up.remove("a").status, 204);
  up.store("b", std::string(5'000, 'c'));  // the smaller replacement frees the difference
  expect_usage(up.usage(), 5'000, 0, 1, 0);
  up.store("c", std::string(15'000, 'c'));
  expect_usage(up.usage(), kQuota, 0, 2, 0);
  EXPECT_EQ(up.put("d", "").status, 507);
  EXPECT_EQ(up.disk(), (std::map<std::string, std::uintmax_t>{{"b", 5'000}, {"c", 15'000}}));
}

// The books of an area are read from disk once per process: a restart keeps the files' charges.
TEST(UploadQuota, CommittedFilesCountAfterARestart) {
  test::TempDir dir;
  {
    Uploads up(with_quota(3 * 4096), dir.path());
    up.store("a", "a");
    up.store("b", std::string(5000, 'b'));
  }
  Uploads again(with_quota(3 * 4096), dir.path());
  expect_usage(again.usage(), 4096 + 5000, 0, 2, 0);
  const Outcome o = again.put("c", "c");
  EXPECT_EQ(o.status, 507);
  EXPECT_EQ(o.reason, quota_reason(3 * 4096));
}

// ---- 7(c): a commit racing PUTs ------------------------------------------------------------------

// A fresh directory on tmpfs when there is one (fsync is free there, so the rounds are short and a
// commit's window a larger share of them), else under $TMPDIR.
class FastDir {
 public:
  FastDir() {
    char tmpl[] = "/dev/shm/upload_quota_race.XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) path_ = tmpl;
    else fallback_ = std::make_unique<test::TempDir>();
  }
  ~FastDir() {
    std::error_code ec;
    if (!fallback_) fs::remove_all(path_, ec);
  }
  fs::path path() const { return fallback_ ? fallback_->path() : path_; }

 private:
  fs::path path_;
  std::unique_ptr<test::TempDir> fallback_;
};

std::uint64_t bytes_on_disk(const fs::path& dir) {
  std::uint64_t n = 0;
  for (const auto& f : fs::recursive_directory_iterator(dir))
    if (f.is_regular_file()) n += f.file_size();
  return n;
}

// The attack: 1,200 bytes stored under a 1,000-byte quota. The commit took the attempt out of the
// books before its rename(2) put the file in place: for that moment its bytes counted nowhere and
// a concurrent PUT was let in. Here files of 4,500 bytes (above the minimum charge, so each counts
// as itself) under a 10,000-byte quota: two fit, a third never may. Six threads of one client
// PUT and commit, each until taken or 20 tries, 200 rounds; after each the disk must hold at most
// the quota and no attempt. Before the fix this failed in the first ~20 rounds of every run
// (13,500 bytes stored); it cannot fail by being slow, only by the quota being overrun.
TEST(UploadQuotaRace, ConcurrentCommitsAndPutsNeverStoreMoreThanTheQuota) {
  constexpr std::uint64_t kQuota = 10'000;
  constexpr std::size_t kFileSize = 4'500;
  constexpr int kThreads = 6, kRounds = 200, kTries = 20;
  int overshoots = 0;
  for (int round = 0; round < kRounds && overshoots < 3; ++round) {
    const FastDir dir;
    Uploads up(with_quota(kQuota), dir.path());
    std::vector<Token> tokens;
    for (int i = 0; i < kThreads; ++i)
      tokens.push_back(up.token("f" + std::to_string(i), std::string(kFileSize, static_cast<char>('a' + i))));
    std::latch start(kThreads);
    std::atomic<int> committed{0}, unexpected{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i)
      threads.emplace_back([&, i] {
        start.arrive_and_wait();
        for (int k = 0; k < kTries; ++k) {
          const Outcome p = up.put(tokens[static_cast<std::size_t>(i)]);
          if (p.status == 507) continue;  // the quota is (or looks) full: the expected refusal
          if (p.status != 200) return void(++unexpected);
          const Outcome c = up.commit(tokens[static_cast<std::size_t>(i)].name, p.body["attempt"].get<std::string>());
          if (c.status != 201) return void(++unexpected);
          ++committed;
          return;
        }
      });
    for (auto& t : threads) t.join();
    EXPECT_EQ(unexpected.load(), 0) << "round " << round;
    const std::uint64_t stored = bytes_on_disk(dir.path() / "uploads");
    EXPECT_EQ(stored, static_cast<std::uint64_t>(committed.load()) * kFileSize) << "round " << round;
    if (stored > kQuota) {
      ++overshoots;
      ADD_FAILURE() << "round " << round << ": " << stored << " bytes stored under a quota of " << kQuota;
    }
    EXPECT_GE(committed.load(), 1) << "round " << round;
    expect_usage(up.usage(), stored, 0, static_cast<std::size_t>(committed.load()), 0);
  }
}

// ---- 11(a): an attempt cannot be committed from its `expires` on ----------------------------------

// The attack: a commit up to ~10 s after `expires` was taken (only the 10 s sweep enforced it).
// The boundary: `expires` = created + attempt_timeout is the first second the attempt is gone, as
// for the sweep; at expires - 1 it is committed.
TEST(UploadExpiry, CommitAtExpiresIs404AndOneSecondBeforeIs201) {
  Uploads up;
  const Outcome late = up.put("late", "late");
  const Outcome last = up.put("last", "last");
  const Outcome drop = up.put("drop", "drop");
  ASSERT_EQ(late.status, 200);
  EXPECT_EQ(late.body["expires"], kNow + 600);
  up.clock.set(kNow + 599);
  EXPECT_EQ(up.commit("last", last.body["attempt"].get<std::string>()).status, 201);
  up.clock.set(kNow + 600);
  Outcome o = up.commit("late", late.body["attempt"].get<std::string>());
  EXPECT_EQ(o.status, 404);
  EXPECT_EQ(o.reason, kNoAttempt);
  o = up.discard("drop", drop.body["attempt"].get<std::string>());
  EXPECT_EQ(o.status, 404);
  EXPECT_EQ(o.reason, kNoAttempt);
  // Both are gone at once, from disk and the books, without waiting for the sweep.
  EXPECT_EQ(up.disk(), (std::map<std::string, std::uintmax_t>{{"last", 4}}));
  expect_usage(up.usage(), 4096, 0, 1, 0);
  EXPECT_EQ(up.service().sweep(), 0u);
  EXPECT_EQ(up.commit("late", late.body["attempt"].get<std::string>()).status, 404);
}

// The sweep removes attempts from the same second on, and gives their space back.
TEST(UploadExpiry, SweepRemovesAttemptsFromExpiresOn) {
  Uploads up(with_quota(2 * 4096));
  ASSERT_EQ(up.put("a", "a").status, 200);
  ASSERT_EQ(up.put("b", "b").status, 200);
  EXPECT_EQ(up.put("c", "c").status, 507);
  up.clock.set(kNow + 599);
  EXPECT_EQ(up.service().sweep(), 0u);
  EXPECT_EQ(up.disk().size(), 2u);
  up.clock.set(kNow + 600);
  EXPECT_EQ(up.service().sweep(), 2u);
  EXPECT_TRUE(up.disk().empty());
  expect_usage(up.usage(), 0, 0, 0, 0);
  EXPECT_EQ(up.put(up.token("c", std::string(8192, 'c'), kNow + 600)).status, 200);  // all of the quota
}

// ---- 11(b): the size limit is exact ---------------------------------------------------------------

// The attack: with --max-upload-size 1000 a 1000-byte file was refused (the real limit was
// 16 * floor((max + 1) / 16) - 1 bytes). Now exactly max bytes pass and max + 1 do not, whether the
// token of max + 1 bytes is longer (refused at once) or as long (refused as it is decrypted).
class UploadSizeLimit : public ::testing::TestWithParam<std::uint64_t> {};

TEST_P(UploadSizeLimit, ExactlyTheLimitPassesAndOneByteMoreIs413) {
  const std::uint64_t max = GetParam();
  UploadOptions o;
  o.max_upload_size = max;
  Uploads up(o);
  const std::string reason = "upload: larger than the server's limit of " + std::to_string(max) + " bytes";

  const Outcome p = up.put("exact", std::string(max, 'x'));
  ASSERT_EQ(p.status, 200) << p.reason;
  EXPECT_EQ(p.body["size"], max);
  EXPECT_EQ(p.body["cksum"], cksum(as_bytes(std::string(max, 'x'))));
  EXPECT_EQ(up.commit("exact", p.body["attempt"].get<std::string>()).status, 201);

  const Token over = up.token("over", std::string(max + 1, 'y'));
  const bool same_length = over.text.size() == fernet_token_length(max);
  EXPECT_EQ(same_length, (max + 1) % 16 != 0) << "the two ways of refusing are both covered";
  const Outcome r = up.put(over);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.reason, reason);
  EXPECT_EQ(up.disk(), (std::map<std::string, std::uintmax_t>{{"exact", max}}));  // no part file left
  expect_usage(up.usage(), 4096 > max ? 4096 : max, 0, 1, 0);
}

INSTANTIATE_TEST_SUITE_P(Limits, UploadSizeLimit, ::testing::Values(0, 15, 16, 1000, 1023, 1024),
                         [](const auto& info) { return "max" + std::to_string(info.param); });

}  // namespace
}  // namespace mh::web
