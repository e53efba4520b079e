#pragma once
// The upload books in Redis (auth::UploadLedger), for instances that share one upload directory:
// a PUT on one instance can be committed or discarded on another, and a client's quota and
// limits hold across all of them (every check-and-take is one Lua script: store/upload_scripts).
// Holds and attempts expire attempt_timeout seconds after they were made, from the books and from
// Redis itself; the times are the callers' clocks. Redis unreachable throws Errc::unavailable.
#include <memory>

#include "auth/upload_ledger.hpp"
#include "store/redis_client.hpp"

namespace mh::store {

std::unique_ptr<auth::UploadLedger> make_redis_upload_ledger(RedisClient& redis, auth::UploadLimits limits);

}  // namespace mh::store
