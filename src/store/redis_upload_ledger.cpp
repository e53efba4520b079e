#include "store/redis_upload_ledger.hpp"

#include <string>
#include <vector>

#include "core/error.hpp"
#include "store/upload_scripts.hpp"

namespace mh::store {
namespace {

using auth::LedgerResult;

std::string num(std::uint64_t v) { return std::to_string(v); }
std::string num(std::int64_t v) { return std::to_string(v); }

[[noreturn]] void malformed(const Reply& r) {
  throw Error(Errc::unavailable, "store: upload books failed" + (r.is_error() ? ": " + r.str : std::string()));
}

std::uint64_t unsigned_of(const Reply& r) {
  if (r.type == Reply::Type::integer && r.integer >= 0) return static_cast<std::uint64_t>(r.integer);
  if (r.type == Reply::Type::string && !r.str.empty() && r.str.find_first_not_of("0123456789") == std::string::npos)
    return std::stoull(r.str);
  malformed(r);
}

class RedisUploadLedger final : public auth::UploadLedger {
 public:
  RedisUploadLedger(RedisClient& redis, auth::UploadLimits limits) : redis_(redis), limits_(limits) {}

  void load(const std::string& area, const auth::AreaFiles& files) override {
    std::vector<std::string> args{area, "0"};
    args.reserve(2 + 2 * files.size());
    for (const auto& [name, charge] : files) {
      args.push_back(name);
      args.push_back(num(charge));
    }
    const Reply r = redis_.eval(upload_scripts::kLoad, {}, args);
    if (r.type != Reply::Type::integer) malformed(r);
  }

  LedgerResult reserve(const std::string& area, const std::string& hold, std::uint64_t least, std::uint64_t capacity,
                       std::int64_t now, std::uint64_t& held) override {
    const Reply r =
        call(upload_scripts::kReserve, {area, num(now), hold, num(least), num(capacity), num(limits_.quota),
                                        num(std::uint64_t{limits_.max_files}), num(std::uint64_t{limits_.max_pending}),
                                        num(now + limits_.attempt_timeout)});
    const LedgerResult code = code_of(r);
    if (code == LedgerResult::ok) held = unsigned_of(element(r, 1));
    return code;
  }

  void release(const std::string& area, const std::string& hold) override {
    call(upload_scripts::kRelease, {area, "0", hold});
  }

  LedgerResult attempt_ready(const std::string& area, const std::string& id, const auth::UploadAttempt& a,
                             std::int64_t now) override {
    return code_of(
        call(upload_scripts::kAttemptReady,
             {area, num(now), id, a.name, num(a.size), num(std::uint64_t{a.crc}), num(a.created), num(a.charge),
              num(a.created + limits_.attempt_timeout), num(limits_.quota), num(std::uint64_t{limits_.max_files}),
              num(std::uint64_t{limits_.max_pending}), num(limits_.attempt_timeout)}));
  }

  LedgerResult find(const std::string& area, const std::string& id, const std::string& name, std::int64_t now,
                    auth::UploadAttempt& out) override {
    const Reply r = call(upload_scripts::kAttempt, {area, num(now), id, name, num(limits_.attempt_timeout), "find"});
    const LedgerResult code = code_of(r);
    if (code != LedgerResult::ok) return code;
    out.name = name;
    out.size = unsigned_of(element(r, 1));
    out.crc = static_cast<std::uint32_t>(unsigned_of(element(r, 2)));
    out.created = static_cast<std::int64_t>(unsigned_of(element(r, 3)));
    out.charge = unsigned_of(element(r, 4));
    return code;
  }

  LedgerResult committed(const std::string& area, const std::string& id, const std::string& name, std::uint64_t charge,
                         std::int64_t now) override {
    return code_of(call(upload_scripts::kCommitted, {area, num(now), id, name, num(charge)}));
  }

  LedgerResult discard(const std::string& area, const std::string& id, const std::string& name,
                       std::int64_t now) override {
    return code_of(call(upload_scripts::kAttempt, {area, num(now), id, name, num(limits_.attempt_timeout), "discard"}));
  }

  LedgerResult removed(const std::string& area, const std::string& name, std::int64_t now) override {
    return code_of(call(upload_scripts::kRemoved, {area, num(now), name}));
  }

  LedgerResult books(const std::string& area, std::int64_t now, auth::UploadBooks& out) override {
    const Reply r = call(upload_scripts::kBooks, {area, num(now)});
    const LedgerResult code = code_of(r);
    if (code == LedgerResult::ok)
      out = auth::UploadBooks{unsigned_of(element(r, 1)), unsigned_of(element(r, 2)), unsigned_of(element(r, 3)),
                              unsigned_of(element(r, 4))};
    return code;
  }

  bool live(const std::string& area, const std::string& id, std::int64_t now) override {
    const Reply r = redis_.command({"ZSCORE", "mh:up:exp:" + area, id});
    if (r.is_nil()) return false;
    if (r.type != Reply::Type::string) malformed(r);
    return std::stod(r.str) > static_cast<double>(now);
  }

  std::vector<std::pair<std::string, std::string>> sweep(std::int64_t now) override {
    const Reply r = redis_.eval(upload_scripts::kSweep, {}, {num(now), "1000"});
    if (r.type != Reply::Type::array) malformed(r);
    std::vector<std::pair<std::string, std::string>> gone;
    for (const Reply& m : r.elements) {
      const auto sp = m.str.find(' ');
      if (sp != std::string::npos) gone.emplace_back(m.str.substr(0, sp), m.str.substr(sp + 1));
    }
    return gone;
  }

 private:
  Reply call(const Script& script, const std::vector<std::string>& args) {
    Reply r = redis_.eval(script, {}, args);
    if (r.type != Reply::Type::array || r.elements.empty() || r.elements[0].type != Reply::Type::integer) malformed(r);
    return r;
  }
  static LedgerResult code_of(const Reply& r) {
    const long long c = r.elements[0].integer;
    if (c < 0 || c > static_cast<long long>(LedgerResult::expired)) malformed(r);
    return static_cast<LedgerResult>(c);
  }
  static const Reply& element(const Reply& r, std::size_t i) {
    if (r.elements.size() <= i) malformed(r);
    return r.elements[i];
  }

  RedisClient& redis_;
  auth::UploadLimits limits_;
};

}  // namespace

std::unique_ptr<auth::UploadLedger> make_redis_upload_ledger(RedisClient& redis, auth::UploadLimits limits) {
  return std::make_unique<RedisUploadLedger>(redis, limits);
}

}  // namespace mh::store
