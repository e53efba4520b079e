#pragma once
// Time is injected everywhere in the core so tests can fix it.
#include <cstdint>

namespace mh {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t now() const = 0;  // unix seconds
};

class FixedClock final : public Clock {
 public:
  explicit FixedClock(std::int64_t t) : t_(t) {}
  std::int64_t now() const override { return t_; }
  void set(std::int64_t t) { t_ = t; }
  void advance(std::int64_t s) { t_ += s; }

 private:
  std::int64_t t_;
};

}  // namespace mh
