#pragma once
#include <ctime>

#include "core/clock.hpp"

namespace mh::io {

class SystemClock final : public Clock {
 public:
  std::int64_t now() const override { return static_cast<std::int64_t>(std::time(nullptr)); }
};

}  // namespace mh::io
