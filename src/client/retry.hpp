#pragma once
// When the client sends a request again by itself. Only a request that may be repeated: GET,
// HEAD, and a PUT (an upload attempt the server has not committed; it is sealed anew each time).
// A commit (POST) or a DELETE never is, since whoever injects the answer that triggers the retry
// would make it happen twice.
//  - after a plain 401 (the session is unknown or ended): once, after a new handshake
//    (PROTOCOL.md §8; client/connection.cpp);
//  - after a 429 or 503 (a busy server, sealed or plain): after the Retry-After seconds the
//    answer carries (1 without one, at most kMaxBusyWait), at most kMaxBusyRetries times; then
//    the answer stands and is reported as any refusal.
#include <cstdint>
#include <optional>
#include <string>

#include "client/sealed_answer.hpp"

namespace mh::client {

inline constexpr int kMaxBusyRetries = 3;
// Longer waits are cut to this: a server (or whoever forged a plain refusal) cannot park the client.
inline constexpr std::uint64_t kMaxBusyWait = 10;

bool repeatable(const std::string& method);

// The seconds to wait before sending the request of `a` again, after `retries` busy retries of
// it; nullopt: `a` is the answer.
std::optional<std::uint64_t> busy_wait(const Answer& a, const std::string& method, int retries);

// "server busy (429): retrying in 1 s"
std::string busy_notice(int status, std::uint64_t seconds);

}  // namespace mh::client
