#include "auth/upload_ledger.hpp"

#include <algorithm>
#include <mutex>

namespace mh::auth {
namespace {

class MemoryUploadLedger final : public UploadLedger {
 public:
  explicit MemoryUploadLedger(UploadLimits limits) : limits_(limits) {}

  void load(const std::string& area, const AreaFiles& files) override {
    std::lock_guard lock(mutex_);
    Area& a = areas_[area];
    if (a.loaded) return;
    a.files = files;
    for (const auto& [name, charge] : files) a.committed += charge;
    a.loaded = true;
  }

  LedgerResult reserve(const std::string& area, const std::string& hold, std::uint64_t least, std::uint64_t capacity,
                       std::int64_t, std::uint64_t& held) override {
    std::lock_guard lock(mutex_);
    Area& a = areas_[area];
    if (!a.loaded) return LedgerResult::unloaded;
    if (a.attempts >= limits_.max_pending) return LedgerResult::over_pending;
    if (a.files.size() + a.attempts >= limits_.max_files) return LedgerResult::over_files;
    const std::uint64_t used = a.committed + a.pending;
    const std::uint64_t room = used >= limits_.quota ? 0 : limits_.quota - used;
    if (least > room) return LedgerResult::over_quota;
    held = std::min(capacity, room);
    a.pending += held;
    ++a.attempts;
    a.holds[hold] = held;
    return LedgerResult::ok;
  }

  void release(const std::string& area, const std::string& hold) override {
    std::lock_guard lock(mutex_);
    Area& a = areas_[area];
    if (const auto h = a.holds.find(hold); h != a.holds.end()) {
      a.pending -= h->second;
      --a.attempts;
      a.holds.erase(h);
    }
  }

  LedgerResult attempt_ready(const std::string& area, const std::string& id, const UploadAttempt& attempt,
                             std::int64_t) override {
    std::lock_guard lock(mutex_);
    Area& a = areas_[area];
    const auto h = a.holds.find(id);
    if (h == a.holds.end()) return LedgerResult::no_attempt;  // never: holds live as long as the upload
    a.pending = a.pending - h->second + attempt.charge;       // charge <= hold: the sink checked
    a.holds.erase(h);
    attempts_[id] = Entry{area, attempt};
    return LedgerResult::ok;
  }

  LedgerResult find(const std::string& area, const std::string& id, const std::string& name, std::int64_t now,
                    UploadAttempt& out) override {
    std::lock_guard lock(mutex_);
    const auto it = lookup(area, id, name);
    if (it == attempts_.end()) return LedgerResult::no_attempt;
    if (expired(it->second, now)) {
      drop(it);
      return LedgerResult::expired;
    }
    out = it->second.attempt;
    return LedgerResult::ok;
  }

  LedgerResult committed(const std::string& area, const std::string& id, const std::string& name, std::uint64_t charge,
                         std::int64_t) override {
    std::lock_guard lock(mutex_);
    Area& a = areas_[area];
    if (!a.loaded) return LedgerResult::unloaded;
    if (const auto it = attempts_.find(id); it != attempts_.end()) drop(it);
    auto [file, added] = a.files.try_emplace(name, charge);
    if (!added) {  // it replaced the file of that name: only the difference counts
      a.committed -= file->second;
      file->second = charge;
    }
    a.committed += charge;
    return LedgerResult::ok;
  }

  LedgerResult discard(const std::string& area, const std::string& id, const std::string& name,
                       std::int64_t now) override {
    std::lock_guard lock(mutex_);
    const auto it = lookup(area, id, name);
    if (it == attempts_.end()) return LedgerResult::no_attempt;
    const bool was_expired = expired(it->second, now);
    drop(it);
    return was_expired ? LedgerResult::expired : LedgerResult::ok;
  }

  LedgerResult removed(const std::string& area, const std::string& name, std::int64_t) override {
    std::lock_guard lock(mutex_);
    Area& a = areas_[area];
    if (!a.loaded) return LedgerResult::unloaded;
    if (const auto f = a.files.find(name); f != a.files.end()) {
      a.committed -= f->second;
      a.files.erase(f);
    }
    return LedgerResult::ok;
  }

  LedgerResult books(const std::string& area, std::int64_t, UploadBooks& out) override {
    std::lock_guard lock(mutex_);
    const Area& a = areas_[area];
    if (!a.loaded) return LedgerResult::unloaded;
    out = UploadBooks{a.committed, a.pending, a.files.size(), a.attempts};
    return LedgerResult::ok;
  }

  bool live(const std::string& area, const std::string& id, std::int64_t now) override {
    std::lock_guard lock(mutex_);
    if (const auto it = attempts_.find(id); it != attempts_.end())
      return it->second.area == area && !expired(it->second, now);
    const auto a = areas_.find(area);
    return a != areas_.end() && a->second.holds.count(id) != 0;
  }

  std::vector<std::pair<std::string, std::string>> sweep(std::int64_t now) override {
    std::lock_guard lock(mutex_);
    std::vector<std::pair<std::string, std::string>> gone;
    for (auto it = attempts_.begin(); it != attempts_.end();) {
      const auto next = std::next(it);
      if (expired(it->second, now)) {
        gone.emplace_back(it->second.area, it->first);
        drop(it);
      }
      it = next;
    }
    return gone;
  }

 private:
  struct Entry {
    std::string area;
    UploadAttempt attempt;
  };
  struct Area {
    bool loaded = false;
    AreaFiles files;
    std::uint64_t committed = 0;
    std::uint64_t pending = 0;
    std::size_t attempts = 0;
    std::map<std::string, std::uint64_t> holds;  // uploads in progress: hold -> bytes held
  };

  bool expired(const Entry& e, std::int64_t now) const noexcept {
    // `expires` is the first second it is gone: the sweep may come up to 10 s later.
    return now >= e.attempt.created + limits_.attempt_timeout;
  }
  std::map<std::string, Entry>::iterator lookup(const std::string& area, const std::string& id,
                                                const std::string& name) {
    const auto it = attempts_.find(id);
    if (it == attempts_.end() || it->second.area != area || it->second.attempt.name != name) return attempts_.end();
    return it;
  }
  void drop(std::map<std::string, Entry>::iterator it) {
    Area& a = areas_[it->second.area];
    a.pending -= it->second.attempt.charge;
    --a.attempts;
    attempts_.erase(it);
  }

  UploadLimits limits_;
  std::mutex mutex_;
  std::map<std::string, Entry> attempts_;  // id -> attempt awaiting commit
  std::map<std::string, Area> areas_;
};

}  // namespace

std::unique_ptr<UploadLedger> make_memory_upload_ledger(UploadLimits limits) {
  return std::make_unique<MemoryUploadLedger>(limits);
}

}  // namespace mh::auth
