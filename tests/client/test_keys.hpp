#pragma once
// The session secret and request binding the client's stream tests seal and open under.
#include <algorithm>

#include "core/key_schedule.hpp"
#include "support/test_support.hpp"

namespace mh::client::test_keys {

inline const SessionSecret& secret() {
  static const SessionSecret s(test::pattern_bytes(32, 5));
  return s;
}

inline Binding binding() {
  const Bytes b = test::pattern_bytes(32, 6);
  Binding out{};
  std::copy(b.begin(), b.end(), out.begin());
  return out;
}

}  // namespace mh::client::test_keys
