// UploadService in-process (issue 12, items 7 and 11; PROTOCOL.md §8): the quota's books on every
// path, the minimum charge and the per-client caps, a commit racing PUTs, the attempt's expiry at
// commit, the exact size limit, and the request body stream: chunks under another binding or
// purpose, reordered, duplicated, tampered, cut, of the wrong size, and lengths that are no stream.
// Requests go through UploadService::handle as WebService calls it (the signature verified and the
// sealed head opened), bodies through its sink as the HTTP server feeds them; files are real,
// bodies real streams made by stream::StreamWriter under the session's secret and the request's
// binding, time a FixedClock.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <latch>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "auth/registry.hpp"
#include "core/cksum.hpp"
#include "core/hash.hpp"
#include "core/rsa.hpp"
#include "core/seal.hpp"
#include "core/stream.hpp"
#include "io/unique_fd.hpp"
#include "support/test_support.hpp"
#include "web/upload_service.hpp"

namespace mh::web {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
constexpr std::int64_t kNow = 1'700'000'000;
// The session's chunk size: the smallest, so that files of a few kB are streams of several chunks.
constexpr std::uint32_t kChunk = stream::kMinChunkSize;
constexpr std::string_view kNoAttempt = "upload: no such attempt (expired, discarded or never made)";

std::string does_not_verify(int i) {
  return "upload: chunk " + std::to_string(i) +
         " does not verify (tampered, reordered, duplicated, or from another response)";
}

std::shared_ptr<const auth::ClientRecord> make_client() {
  const RsaPublicKey key =
      RsaPublicKey::from_pem(test::read_file(test::vectors_dir() / "rfc9421/test-key-rsa.pub.pem"));
  auto c = std::make_shared<auth::ClientRecord>(key);
  c->name = "alice";
  c->fingerprint = key.fingerprint();
  c->session_secret = SessionSecret(test::pattern_bytes(32, 21));
  c->keyid.fill(0x55);
  c->chunk_size = kChunk;
  c->session_expires = kNow + 3600;
  return c;
}

// An answer or a refusal, as the client would see it: status and (for refusals) the reason.
struct Outcome {
  int status = 0;
  std::string reason;
  json body;
  std::string content_type;  // of an answer
};

Outcome refusal(const Error& e) { return Outcome{http_status(e.code()), e.what(), json(), ""}; }

Outcome answer(const Answer& a) {
  return Outcome{a.status, "", a.body.empty() ? json() : json::parse(a.body, nullptr, false),
                 a.content_type.value_or("")};
}

// A request body ready to send: the stream (PROTOCOL.md §6, §8) and the binding B of the request
// that carries it.
struct Body {
  std::string name, stream;
  Binding binding{};
};

class Uploads {
 public:
  explicit Uploads(UploadOptions o = {}, fs::path dir = {}) {
    o.dir = (dir.empty() ? tmp_.path() : dir) / "uploads";
    opts_ = o;
    svc_.emplace(o, clock);
  }

  // The body stream of `plain` as the client makes it: K(purpose, B, i, i == last) for a fresh
  // request binding B, in the session's chunk size.
  Body body(const std::string& name, std::string_view plain, KeyPurpose purpose = KeyPurpose::request_body) {
    return body_under(name, plain, next_binding(), purpose);
  }
  Body body_under(const std::string& name, std::string_view plain, const Binding& binding,
                  KeyPurpose purpose = KeyPurpose::request_body, const SessionSecret* secret = nullptr) const {
    Body b{name, {}, binding};
    stream::StreamWriter w(secret ? *secret : client_->session_secret, purpose, binding,
                           stream::Layout::whole(plain.size(), kChunk), clock);
    w.write(as_bytes(plain), b.stream);
    w.finish(b.stream);
    return b;
  }
  Binding next_binding() {
    Binding b{};
    const std::uint64_t n = ++requests_;
    for (std::size_t i = 0; i < 8; ++i) b[i] = static_cast<std::uint8_t>(n >> (8 * i));
    b[31] = 0xbb;
    return b;
  }

  // PUT /.uploads/NAME: the immediate answer, or the intake to stream into. Content-Length is the
  // stream's length unless `length` says otherwise.
  std::variant<Outcome, BodyIntake> begin(const Body& b, std::optional<std::string> length = std::nullopt) {
    net::Request req = outer();
    req.headers = {{"Content-Length", length ? *length : std::to_string(b.stream.size())}};
    req.has_body = true;
    try {
      UploadService::Result r = svc_->handle(req, verified("PUT", "/.uploads/" + b.name, b.binding));
      if (auto* a = std::get_if<Answer>(&r)) return answer(*a);
      return std::move(std::get<BodyIntake>(r));
    } catch (const Error& e) { return refusal(e); }
  }

  // The whole PUT, its body in pieces of at most `piece` bytes (the sink is aborted when a write
  // throws, as the server does).
  Outcome put(const Body& b, std::size_t piece = SIZE_MAX) { return send(b, b.stream, piece); }
  Outcome put(const std::string& name, std::string_view plain) { return put(body(name, plain)); }
  // A PUT whose Content-Length is the length of b.stream, with `bytes` as what arrives.
  Outcome send(const Body& b, std::string_view bytes, std::size_t piece = SIZE_MAX,
               std::optional<std::string> length = std::nullopt) {
    auto started = begin(b, length ? length : std::optional<std::string>(std::to_string(b.stream.size())));
    if (auto* o = std::get_if<Outcome>(&started)) return *o;
    auto& intake = std::get<BodyIntake>(started);
    try {
      for (std::size_t off = 0; off < bytes.size(); off += piece) intake.sink->write(bytes.substr(off, piece));
    } catch (const Error& e) {
      intake.sink->abort();
      return refusal(e);
    }
    try {
      return answer(intake.sink->finish());
    } catch (const Error& e) { return refusal(e); }
  }

  Outcome request(const std::string& method, const std::string& target, const net::Headers& fields = {},
                  Answer* out = nullptr) {
    try {
      VerifiedRequest v = verified(method, target, next_binding());
      v.fields = fields;
      UploadService::Result r = svc_->handle(outer(), v);
      Answer& a = std::get<Answer>(r);
      const Outcome o = answer(a);
      if (out) *out = std::move(a);
      return o;
    } catch (const Error& e) { return refusal(e); }
  }
  Outcome commit(const std::string& name, const std::string& id) {
    return request("POST", "/.uploads/" + name + "?commit=" + id);
  }
  Outcome discard(const std::string& name, const std::string& id) {
    return request("DELETE", "/.uploads/" + name + "?attempt=" + id);
  }
  Outcome remove(const std::string& name) { return request("DELETE", "/.uploads/" + name); }

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
  // A sealed request: the outer one goes to the sealed path; the service sees the inner one in v.
  static net::Request outer() {
    net::Request req;
    req.method = "POST";
    req.target = std::string(seal::kSealedPath);
    return req;
  }
  VerifiedRequest verified(const std::string& method, const std::string& target, const Binding& binding) const {
    VerifiedRequest v;
    v.client = client_;
    v.binding = binding;
    v.sealed = true;
    v.method = method;
    v.target = target;
    return v;
  }

  test::TempDir tmp_;
  std::shared_ptr<const auth::ClientRecord> client_ = make_client();
  UploadOptions opts_;
  std::optional<UploadService> svc_;
  std::atomic<std::uint64_t> requests_{0};
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
  const Body big = up.body("big", std::string(200'000, 'b'));

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
  const Body t = up.body("t", std::string(5000, 't'));  // chunks of 4096 and 904 bytes
  {
    auto started = up.begin(t);  // in progress: it holds what the stream can carry, 4096 + 911
    ASSERT_TRUE(std::holds_alternative<BodyIntake>(started));
    EXPECT_EQ(std::get<BodyIntake>(started).max_bytes, t.stream.size());
    expect_usage(up.usage(), 0, 5007, 0, 1);
    std::get<BodyIntake>(started).sink->write(std::string_view(t.stream).substr(0, 100));
    std::get<BodyIntake>(started).sink->abort();  // broken off
  }
  expect_usage(up.usage(), 0, 0, 0, 0);
  Body forged = t;
  forged.stream[200] = forged.stream[200] == 'A' ? 'B' : 'A';
  const Outcome o = up.put(forged);
  EXPECT_EQ(o.status, 400);
  EXPECT_EQ(o.reason, does_not_verify(0));
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
    auto started = up.begin(up.body("p16", "x"));
    ASSERT_TRUE(std::holds_alternative<BodyIntake>(started));
    o = up.put("p17", "x");
    EXPECT_EQ(o.status, 507);
    EXPECT_EQ(o.reason, "upload: your limit of 16 pending attempts would be exceeded");
  }                                                // dropped unfinished
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
  // One byte more than is left: refused as it is decrypted (its stream, 4096 + 4096 + a final
  // chunk of 2809 bytes, could carry 10,992 to 11,007 bytes, so it was let in holding what is
  // left), and nothing stays.
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
    if (::mkdtemp(tmpl) != nullptr)
      path_ = tmpl;
    else
      fallback_ = std::make_unique<test::TempDir>();
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
    std::vector<Body> tokens;
    for (int i = 0; i < kThreads; ++i)
      tokens.push_back(up.body("f" + std::to_string(i), std::string(kFileSize, static_cast<char>('a' + i))));
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

// A directory of the area answers its index.html, and its listing when ?list asks for it, as a
// served directory does (PROTOCOL.md §8): the query reaches the area (it was dropped once).
TEST(UploadListing, ADirectoryWithAnIndexAnswersItsListingOnlyWhenAsked) {
  Uploads up;
  up.store("d/index.html", "<p>");
  EXPECT_EQ(up.request("GET", "/.uploads/d/?list").content_type, "application/json");
  EXPECT_EQ(up.request("GET", "/.uploads/d/").content_type, "text/html; charset=utf-8");
  EXPECT_EQ(up.request("GET", "/.uploads/?list").content_type, "application/json");
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
  EXPECT_EQ(up.put("c", std::string(8192, 'c')).status, 200);  // all of the quota
}

// ---- 11(b): the size limit is exact ---------------------------------------------------------------

// The attack: with --max-upload-size 1000 a 1000-byte file was refused. Now exactly max bytes pass
// and max + 1 do not, whether the stream of max + 1 bytes is longer than that of max (refused at
// once, 413 "when the stream is longer than the stream of a file of exactly max_upload_size") or
// as long (refused as it is decrypted), with one chunk or several.
struct SizeLimitCase {
  std::uint64_t max;
  bool same_length;  // the streams of max and max + 1 bytes are equally long
};

class UploadSizeLimit : public ::testing::TestWithParam<SizeLimitCase> {};

TEST_P(UploadSizeLimit, ExactlyTheLimitPassesAndOneByteMoreIs413) {
  const std::uint64_t max = GetParam().max;
  UploadOptions o;
  o.max_upload_size = max;
  Uploads up(o);
  const std::string reason = "upload: larger than the server's limit of " + std::to_string(max) + " bytes";

  const std::string exact(max, 'x');
  const Outcome p = up.put("exact", exact);
  ASSERT_EQ(p.status, 200) << p.reason;
  EXPECT_EQ(p.body["size"], max);
  EXPECT_EQ(p.body["cksum"], cksum(as_bytes(exact)));
  EXPECT_EQ(up.commit("exact", p.body["attempt"].get<std::string>()).status, 201);

  const Body over = up.body("over", std::string(max + 1, 'y'));
  const bool same_length = over.stream.size() == stream::Layout::whole(max, kChunk).stream_length();
  EXPECT_EQ(same_length, GetParam().same_length);
  auto started = up.begin(over);
  EXPECT_EQ(std::holds_alternative<BodyIntake>(started), same_length) << "refused at once exactly when longer";
  if (auto* intake = std::get_if<BodyIntake>(&started)) {
    intake->sink->abort();
    intake->sink.reset();  // gives its reservation back
  }
  const Outcome r = up.put(over);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.reason, reason);
  EXPECT_EQ(up.disk(), (std::map<std::string, std::uintmax_t>{{"exact", max}}));  // no part file left
  expect_usage(up.usage(), 4096 > max ? 4096 : max, 0, 1, 0);
}

INSTANTIATE_TEST_SUITE_P(Limits, UploadSizeLimit,
                         ::testing::Values(SizeLimitCase{0, true}, SizeLimitCase{15, false}, SizeLimitCase{16, true},
                                           SizeLimitCase{1000, true}, SizeLimitCase{1023, false},
                                           SizeLimitCase{1024, true}, SizeLimitCase{4095, false},
                                           SizeLimitCase{4096, false}, SizeLimitCase{8192, false},
                                           SizeLimitCase{9192, true}),
                         [](const auto& info) { return "max" + std::to_string(info.param.max); });

// ---- the request body stream (PROTOCOL.md §6, §8) -----------------------------------------------

// A file of several chunks, written in pieces of any size, is stored, committed and served back.
TEST(UploadStream, AFileOfSeveralChunksArrivesInAnySplit) {
  Uploads up;
  const std::string file(as_chars(test::pattern_bytes(10000, 8)));  // chunks of 4096, 4096, 1808 bytes
  int n = 0;
  for (const std::size_t piece : {std::size_t{1}, std::size_t{7}, std::size_t{100}, stream::token_length(kChunk),
                                  stream::token_length(kChunk) + 1, std::size_t{SIZE_MAX}}) {
    const std::string name = "f" + std::to_string(n++);
    const Body b = up.body(name, file);
    ASSERT_EQ(b.stream.size(), stream::Layout::whole(10000, kChunk).stream_length());
    const Outcome p = up.put(b, piece);
    ASSERT_EQ(p.status, 200) << piece << ": " << p.reason;
    EXPECT_EQ(p.body, (json{{"attempt", p.body["attempt"]},
                            {"name", name},
                            {"size", 10000},
                            {"cksum", cksum(as_bytes(file))},
                            {"expires", kNow + 600}}));
    EXPECT_EQ(up.commit(name, p.body["attempt"].get<std::string>()).status, 201);
  }
  EXPECT_EQ(up.disk().size(), 6u);
  expect_usage(up.usage(), 6 * 10000, 0, 6, 0);
  // Served back from the client's area, as the file service serves files: whole, or a range.
  Answer a;
  ASSERT_EQ(up.request("GET", "/.uploads/f3", {}, &a).status, 200);
  ASSERT_TRUE(a.layout && a.source);
  EXPECT_EQ(*a.layout, stream::Layout::whole(10000, kChunk));
  std::string got;
  for (std::uint64_t i = 0; i <= 2; ++i) {
    Bytes chunk(static_cast<std::size_t>(a.layout->plaintext_size(i)));
    a.source->read(a.layout->offset(i), chunk);
    got.append(as_chars(chunk));
  }
  EXPECT_EQ(got, file);
  Answer r;
  ASSERT_EQ(up.request("GET", "/.uploads/f3", {{"range", "bytes=9000-"}}, &r).status, 206);
  EXPECT_EQ(*r.layout, stream::Layout::chunks(10000, kChunk, 2, 2));
}

// A chunk opens only under K("request body", B, i, i == last) of this request and session.
TEST(UploadStream, AChunkUnderAnotherBindingOrPurposeIsRefused) {
  Uploads up;
  const std::string file(as_chars(test::pattern_bytes(6000, 9)));
  const Binding b = up.next_binding();
  const SessionSecret other_session(test::pattern_bytes(32, 22));
  const struct {
    const char* what;
    Body sealed;
  } cases[] = {
      {"another request's binding", up.body_under("f", file, up.next_binding())},
      {"the response body's purpose", up.body_under("f", file, b, KeyPurpose::response_body)},
      {"the request head's purpose", up.body_under("f", file, b, KeyPurpose::request_head)},
      {"a chat frame's purpose", up.body_under("f", file, b, KeyPurpose::chat_to_server)},
      {"another session", up.body_under("f", file, b, KeyPurpose::request_body, &other_session)},
  };
  for (const auto& c : cases) {
    Body sent = c.sealed;
    sent.binding = b;  // the request that carries it
    const Outcome o = up.put(sent);
    EXPECT_EQ(o.status, 400) << c.what;
    EXPECT_EQ(o.reason, does_not_verify(0)) << c.what;
  }
  EXPECT_TRUE(up.disk().empty());
  expect_usage(up.usage(), 0, 0, 0, 0);
  // The same bytes under the request's own binding are taken.
  EXPECT_EQ(up.put(up.body_under("f", file, b)).status, 200);
}

TEST(UploadStream, ReorderedDuplicatedOrTamperedChunksAreRefused) {
  Uploads up;
  const Body b = up.body("f", std::string(as_chars(test::pattern_bytes(10000, 10))));
  const std::size_t full = stream::token_length(kChunk);
  const std::string t0 = b.stream.substr(0, full), t1 = b.stream.substr(full, full), t2 = b.stream.substr(2 * full);
  const auto with = [&](std::string stream_bytes) {
    Body x = b;
    x.stream = std::move(stream_bytes);
    return x;
  };
  EXPECT_EQ(up.put(with(t1 + t0 + t2)).reason, does_not_verify(0)) << "reordered";
  EXPECT_EQ(up.put(with(t0 + t0 + t2)).reason, does_not_verify(1)) << "duplicated";
  std::string tampered = t2;
  tampered[50] = tampered[50] == 'A' ? 'B' : 'A';
  const Outcome o = up.put(with(t0 + t1 + tampered));
  EXPECT_EQ(o.status, 400);
  EXPECT_EQ(o.reason, does_not_verify(2)) << "the last chunk, after two that were written";
  // The last chunk of another request's body (a final chunk of the same size).
  const Body other = up.body_under("f", std::string(10000, 'o'), up.next_binding());
  EXPECT_EQ(up.put(with(t0 + t1 + other.stream.substr(2 * full))).reason, does_not_verify(2));
  EXPECT_TRUE(up.disk().empty()) << "nothing is kept of a refused body";
  expect_usage(up.usage(), 0, 0, 0, 0);
  EXPECT_EQ(up.put(b).status, 200);
}

TEST(UploadStream, ABodyCutBeforeItsLastChunkIsRefused) {
  Uploads up;
  const Body b = up.body("f", std::string(as_chars(test::pattern_bytes(10000, 11))));
  const std::size_t full = stream::token_length(kChunk);
  // The sink is told the body ended (finish) before all of Content-Length arrived.
  Outcome o = up.send(b, std::string_view(b.stream).substr(0, full));
  EXPECT_EQ(o.status, 400);
  EXPECT_EQ(o.reason, "upload: the stream ended after chunk 0, before its last chunk: the output is incomplete");
  o = up.send(b, std::string_view(b.stream).substr(0, 2 * full + 50));
  EXPECT_EQ(o.reason, "upload: the stream ended after chunk 1, before its last chunk: the output is incomplete");
  o = up.send(b, "");
  EXPECT_EQ(o.reason, "upload: the stream ended before its first chunk: the output is incomplete");
  // Cut to whole chunks with a Content-Length to match: the last chunk that arrives was not
  // sealed as the last one.
  Body cut = b;
  cut.stream = b.stream.substr(0, 2 * full);
  o = up.put(cut);
  EXPECT_EQ(o.status, 400);
  EXPECT_EQ(o.reason, does_not_verify(1));
  cut.stream = b.stream.substr(0, full);
  EXPECT_EQ(up.put(cut).reason, does_not_verify(0));
  EXPECT_TRUE(up.disk().empty());
  expect_usage(up.usage(), 0, 0, 0, 0);
}

TEST(UploadStream, ALengthThatIsNoStreamIsRefusedAtOnce) {
  Uploads up;
  const Body b = up.body("f", "x");
  const std::uint64_t full = stream::token_length(kChunk);
  for (const std::uint64_t length :
       {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{99}, std::uint64_t{101}, std::uint64_t{102},
        std::uint64_t{104}, full - 1, full + 1, full + 99, 2 * full + 1}) {
    auto started = up.begin(b, std::to_string(length));
    ASSERT_TRUE(std::holds_alternative<Outcome>(started)) << length;
    const Outcome& o = std::get<Outcome>(started);
    EXPECT_EQ(o.status, 400) << length;
    EXPECT_EQ(o.reason, "stream: length " + std::to_string(length) + " is not a stream of chunk size 4096");
  }
  // Lengths that are streams: L(0), L(16), L(C), L(C) + L(0).
  for (const std::uint64_t length : {std::uint64_t{100}, std::uint64_t{120}, full, full + 100}) {
    auto started = up.begin(b, std::to_string(length));
    ASSERT_TRUE(std::holds_alternative<BodyIntake>(started)) << length;
    EXPECT_EQ(std::get<BodyIntake>(started).max_bytes, length);
    std::get<BodyIntake>(started).sink->abort();
  }
  auto bad = up.begin(b, "twelve");
  EXPECT_EQ(std::get<Outcome>(bad).reason, "upload: bad Content-Length");
  EXPECT_EQ(std::get<Outcome>(bad).status, 400);
  expect_usage(up.usage(), 0, 0, 0, 0);
  EXPECT_TRUE(up.disk().empty());
}

TEST(UploadStream, BytesAfterTheLastChunkAreRefused) {
  Uploads up;
  const Body b = up.body("f", "hello");
  const Outcome o = up.send(b, b.stream + "A");
  EXPECT_EQ(o.status, 400);
  EXPECT_EQ(o.reason, "upload: the stream continues after its last chunk");
  EXPECT_TRUE(up.disk().empty());
  expect_usage(up.usage(), 0, 0, 0, 0);
}

// All but the final chunk hold C bytes, and the final one what its token's length allows (at
// least 1 byte when there are several): a chunk that verifies but holds another size is refused.
TEST(UploadStream, AChunkOfTheWrongSizeIsRefused) {
  Uploads up;
  const Binding b = up.next_binding();
  const auto stream_of = [&](const std::vector<std::size_t>& sizes) {
    const stream::ChunkKeys keys(up.client()->session_secret, KeyPurpose::request_body, b, sizes.size() - 1);
    Body x{"f", {}, b};
    for (std::size_t i = 0; i < sizes.size(); ++i)
      x.stream += stream::seal_chunk(keys, i, as_bytes(std::string(sizes[i], 'w')), kNow);
    return x;
  };
  // 4100 bytes have the token length of 4096 (L(4096) = L(4111)).
  ASSERT_EQ(stream::token_length(4100), stream::token_length(kChunk));
  Outcome o = up.put(stream_of({4100, 10}));
  EXPECT_EQ(o.status, 400);
  EXPECT_EQ(o.reason, "upload: chunk 0 holds 4100 bytes, expected 4096");
  o = up.put(stream_of({4096, 0}));
  EXPECT_EQ(o.reason, "upload: chunk 1 holds 0 bytes, expected 1 to 15");
  o = up.put(stream_of({4096, 4096, 4100}));  // the final chunk may not hold more than C either
  EXPECT_EQ(o.reason, "upload: chunk 2 holds 4100 bytes, expected 4096");
  EXPECT_TRUE(up.disk().empty());
  expect_usage(up.usage(), 0, 0, 0, 0);
  // Right sizes, the same way: taken.
  o = up.put(stream_of({4096, 4096, 1}));
  EXPECT_EQ(o.status, 200) << o.reason;
  EXPECT_EQ(o.body["size"], 8193);
}

// ---- uploads in parts (docs/PROTOCOL.md §8: several attempts joined by one commit) --------------

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// The page sends a file as parts, each its own PUT and attempt; one commit joins them in order,
// checking the whole file's size and cksum, and only then is the file there.
TEST(UploadParts, ACommitJoinsTheAttemptsInOrderAndChecksTheWhole) {
  Uploads up;
  const std::string a(as_chars(test::pattern_bytes(8192, 1))), b(as_chars(test::pattern_bytes(8192, 2))),
      c(as_chars(test::pattern_bytes(100, 3)));
  std::vector<std::string> ids;
  for (const std::string* part : {&a, &b, &c}) {
    const Outcome p = up.put("big.bin", *part);
    ASSERT_EQ(p.status, 200) << p.reason;
    EXPECT_EQ(p.body["cksum"], cksum(as_bytes(*part)));
    ids.push_back(p.body["attempt"].get<std::string>());
  }
  const std::string whole = a + b + c;
  const std::string list = ids[0] + "," + ids[1] + "," + ids[2];
  expect_usage(up.usage(), 0, 8192 + 8192 + 4096, 0, 3);

  // A wrong size or cksum for the whole: 409, nothing committed, the attempts still there.
  Outcome o = up.request(
      "POST", "/.uploads/big.bin?commit=" + list + "&size=16484&cksum=" + std::to_string(cksum(as_bytes(whole)) ^ 1));
  EXPECT_EQ(o.status, 409);
  EXPECT_EQ(o.reason, "upload: the attempts hold 16484 bytes with cksum " + std::to_string(cksum(as_bytes(whole))) +
                          ", not 16484 bytes with cksum " + std::to_string(cksum(as_bytes(whole)) ^ 1) +
                          "; nothing was committed");
  EXPECT_FALSE(fs::exists(up.area() / "files" / "big.bin"));
  expect_usage(up.usage(), 0, 8192 + 8192 + 4096, 0, 3);

  // Out of order is another file: its cksum differs, so the client's check refuses it.
  o = up.request("POST", "/.uploads/big.bin?commit=" + ids[1] + "," + ids[0] + "," + ids[2] +
                             "&size=16484&cksum=" + std::to_string(cksum(as_bytes(whole))));
  EXPECT_EQ(o.status, 409);

  o = up.request("POST",
                 "/.uploads/big.bin?commit=" + list + "&size=16484&cksum=" + std::to_string(cksum(as_bytes(whole))));
  ASSERT_EQ(o.status, 201) << o.reason;
  EXPECT_EQ(o.body, (json{{"name", "big.bin"}, {"size", 16484}, {"cksum", cksum(as_bytes(whole))}}));
  EXPECT_EQ(read_file(up.area() / "files" / "big.bin"), whole);
  expect_usage(up.usage(), 16484, 0, 1, 0);
  // The attempts are spent: nothing left beside the file, and a second commit finds none.
  EXPECT_EQ(up.disk(), (std::map<std::string, std::uintmax_t>{{"big.bin", 16484}}));
  EXPECT_EQ(up.request("POST", "/.uploads/big.bin?commit=" + list).status, 404);
}

TEST(UploadParts, OneAttemptWithTheWholeSizeAndCksumCommitsAsBefore) {
  Uploads up;
  const std::string file = "hello\n";
  const Outcome p = up.put("h.txt", file);
  const std::string id = p.body["attempt"].get<std::string>();
  EXPECT_EQ(up.request("POST", "/.uploads/h.txt?commit=" + id + "&size=6&cksum=1").status, 409);
  const Outcome o =
      up.request("POST", "/.uploads/h.txt?commit=" + id + "&size=6&cksum=" + std::to_string(cksum(as_bytes(file))));
  ASSERT_EQ(o.status, 201) << o.reason;
  EXPECT_EQ(read_file(up.area() / "files" / "h.txt"), file);
}

TEST(UploadParts, AnAttemptOfAnotherNameOrAMissingOneCommitsNothing) {
  Uploads up;
  const std::string one = up.put("x", "1111").body["attempt"].get<std::string>();
  const std::string other = up.put("y", "2222").body["attempt"].get<std::string>();
  Outcome o = up.request("POST", "/.uploads/x?commit=" + one + "," + other);
  EXPECT_EQ(o.status, 404);
  EXPECT_EQ(o.reason, "upload: no such attempt (expired, discarded or never made)");
  EXPECT_EQ(up.request("POST", "/.uploads/x?commit=" + one + "," + std::string(32, 'a')).status, 404);
  EXPECT_FALSE(fs::exists(up.area() / "files" / "x"));
  expect_usage(up.usage(), 0, 2 * 4096, 0, 2);
  EXPECT_EQ(up.commit("x", one).status, 201);
}

TEST(UploadParts, TheJoinedFileObeysTheSizeLimit) {
  UploadOptions o;
  o.max_upload_size = 10000;
  Uploads up(o);
  const std::string a = up.put("f", std::string(6000, 'a')).body["attempt"].get<std::string>();
  const std::string b = up.put("f", std::string(4001, 'b')).body["attempt"].get<std::string>();
  const Outcome r = up.request("POST", "/.uploads/f?commit=" + a + "," + b);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.reason, "upload: larger than the server's limit of 10000 bytes");
  EXPECT_FALSE(fs::exists(up.area() / "files" / "f"));
}

TEST(UploadParts, MalformedCommitQueriesAre400) {
  Uploads up;
  const std::string id = up.put("q", "qq").body["attempt"].get<std::string>();
  const std::string usage = "upload: POST takes ?commit=ID[,ID...][&size=N&cksum=C]";
  const std::string ids = "upload: commit takes 1 to 64 distinct attempt ids (32 hex digits), separated by commas";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"?commit=", ids},
      {"?commit=" + id + ",", ids},
      {"?commit=" + id + "," + id, ids},
      {"?commit=" + id + ",ABC", ids},
      {"?commit=" + id + "&size=2", usage},
      {"?commit=" + id + "&cksum=2", usage},
      {"?commit=" + id + "&size=02&cksum=2", usage},
      {"?commit=" + id + "&size=2&cksum=4294967296", usage},
      {"?commit=" + id + "&size=2&cksum=1&size=2", usage},
      {"?commit=" + id + "&other=1", usage},
      {"?commit=" + id + "&", usage},
      {"?commit=" + id + "&size=2&cksum=1&", usage},
      {"?size=2&commit=" + id, usage},
      {"?attempt=" + id, usage},
      {"", usage},
  };
  for (const auto& [query, reason] : cases) {
    const Outcome o = up.request("POST", "/.uploads/q" + query);
    EXPECT_EQ(o.status, 400) << query;
    EXPECT_EQ(o.reason, reason) << query;
  }
  std::string many = id;
  for (int i = 1; i < 65; ++i) many += "," + to_hex(as_bytes(std::string(16, static_cast<char>(i))));
  EXPECT_EQ(up.request("POST", "/.uploads/q?commit=" + many).reason, ids);
  EXPECT_EQ(up.commit("q", id).status, 201);
}

}  // namespace
}  // namespace mh::web
