#pragma once
// Where nonces are remembered so that a signed request or a hello cannot be used twice: in this
// process (ReplayCache) or in the store every instance shares (store/redis_nonces.hpp). An
// implementation that cannot check must not say `fresh`: it throws Errc::unavailable instead.
#include <climits>
#include <cstdint>
#include <string_view>

#include "core/bytes.hpp"

namespace mh::auth {

class NonceStore {
 public:
  enum class Verdict { fresh, replayed, full, scope_full };
  virtual ~NonceStore() = default;
  // Records the nonce (scoped by e.g. the client's UUID bytes) and says whether it was seen
  // before. `full` means the store cannot remember more, `scope_full` that this scope has its
  // share: the caller must refuse (503 / 429), not accept.
  virtual Verdict check_and_insert(std::string_view scope, ByteView nonce, std::int64_t now) = 0;
  // The earliest timestamp (unix seconds) whose nonces this store can vouch for. A shared store
  // that restarted from a snapshot may have lost nonces it had recorded, so a request or hello
  // made before then must be refused (503), not checked; see docs/ARCHITECTURE.md §7. Ask after
  // check_and_insert: that call may be the one that finds the restart.
  virtual std::int64_t vouches_from() const { return INT64_MIN; }
};

}  // namespace mh::auth
