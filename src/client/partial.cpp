#include "client/partial.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

#include "core/error.hpp"
#include "core/stream.hpp"
#include "core/strict_json.hpp"
#include "io/files.hpp"

namespace mh::client {
namespace fs = std::filesystem;
using json = nlohmann::json;

fs::path part_path(const fs::path& file) { return fs::path(file.string() + ".part"); }
fs::path record_path(const fs::path& part) { return fs::path(part.string() + ".minihttps"); }

namespace {

json to_json(const PartialRecord& r) {
  return json{{"server_fingerprint", r.server_fingerprint},
              {"path", r.path},
              {"etag", r.etag ? json(*r.etag) : json(nullptr)},
              {"size", r.size},
              {"chunk_size", r.chunk_size},
              {"verified", r.verified}};
}

}  // namespace

std::optional<PartialRecord> load_record(const fs::path& record) {
  const auto text = io::read_file_if_exists(record, 64 * 1024);
  if (!text) return std::nullopt;
  const StrictJson sj(record.filename().string());
  const auto j = sj.parse_object(*text, 64 * 1024);
  sj.only_fields(j, {"server_fingerprint", "path", "etag", "size", "chunk_size", "verified"});
  PartialRecord r;
  r.server_fingerprint = sj.need_string(j, "server_fingerprint", 64);
  r.path = sj.need_string(j, "path", 8192);
  if (!sj.need(j, "etag").is_null()) r.etag = sj.need_string(j, "etag", 4096);
  const std::int64_t size = sj.need_int(j, "size"), chunk = sj.need_int(j, "chunk_size"),
                     verified = sj.need_int(j, "verified");
  if (size < 0 || verified < 0 || verified > size) sj.malformed("verified bytes outside the file");
  if (chunk < 0 || !stream::valid_chunk_size(static_cast<std::uint64_t>(chunk))) sj.malformed("invalid chunk size");
  r.size = static_cast<std::uint64_t>(size);
  r.chunk_size = static_cast<std::uint32_t>(chunk);
  r.verified = static_cast<std::uint64_t>(verified);
  if (r.verified % r.chunk_size != 0 && r.verified != r.size) sj.malformed("verified bytes are not whole chunks");
  return r;
}

void save_record(const fs::path& record, const PartialRecord& r) {
  io::write_file_atomic(record, to_json(r).dump() + "\n", 0644);
}

// ---- the signal handler ---------------------------------------------------------------------------

struct InterruptRecord::State {
  std::string json_head, json_tail;      // the record around the number of verified bytes
  std::string notice_head, notice_tail;  // the notice on stderr, likewise
  std::string record, temporary;
  std::atomic<std::uint64_t> verified{0};
  struct sigaction old_int {
  }, old_term{};
};

namespace {

static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "the handler reads the counter");
std::atomic<InterruptRecord::State*> g_state{nullptr};

void write_all(int fd, const char* p, std::size_t n) noexcept {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}
void write_all(int fd, const std::string& s) noexcept { write_all(fd, s.data(), s.size()); }

// Decimal digits of v into buf (at least 20 bytes); returns how many. No locale, no allocation.
std::size_t digits(std::uint64_t v, char* buf) noexcept {
  char tmp[20];
  std::size_t n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (std::size_t i = 0; i < n; ++i) buf[i] = tmp[n - 1 - i];
  return n;
}

extern "C" void on_interrupt(int sig) {
  const int saved_errno = errno;
  if (const InterruptRecord::State* s = g_state.load()) {
    char num[20];
    const std::size_t n = digits(s->verified.load(), num);
    const int fd = ::open(s->temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      write_all(fd, s->json_head);
      write_all(fd, num, n);
      write_all(fd, s->json_tail);
      ::close(fd);
      ::rename(s->temporary.c_str(), s->record.c_str());
    }
    write_all(2, s->notice_head);
    write_all(2, num, n);
    write_all(2, s->notice_tail);
  }
  // Die of the signal, as the shell expects of Ctrl-C.
  ::signal(sig, SIG_DFL);
  errno = saved_errno;
  ::raise(sig);
}

}  // namespace

InterruptRecord::InterruptRecord(const fs::path& record, const PartialRecord& r, const fs::path& part)
    : state_(new State) {
  PartialRecord zero = r;
  zero.verified = 0;
  // Keys are written sorted, and "verified" sorts last: the text ends with "verified":0}.
  const std::string text = to_json(zero).dump();
  constexpr std::string_view last = "\"verified\":0}";
  if (!text.ends_with(last)) throw Error(Errc::internal, "partial record: unexpected layout");
  state_->json_head = text.substr(0, text.size() - 2);
  state_->json_tail = "}\n";
  state_->notice_head = "\nminihttps: interrupted: kept " + part.string() + " (";
  state_->notice_tail = " of " + std::to_string(r.size) + " bytes verified); run the same get with -C to continue\n";
  state_->record = record.string();
  state_->temporary = record.string() + ".tmp";
  state_->verified = r.verified;
  g_state = state_;
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &state_->old_int);
  sigaction(SIGTERM, &sa, &state_->old_term);
}

InterruptRecord::~InterruptRecord() {
  sigaction(SIGINT, &state_->old_int, nullptr);
  sigaction(SIGTERM, &state_->old_term, nullptr);
  g_state = nullptr;
  delete state_;
}

void InterruptRecord::verified(std::uint64_t bytes) noexcept { state_->verified = bytes; }

}  // namespace mh::client
