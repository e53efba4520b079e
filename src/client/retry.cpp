#include "client/retry.hpp"

#include <algorithm>

namespace mh::client {

bool repeatable(const std::string& method) { return method == "GET" || method == "HEAD" || method == "PUT"; }

std::optional<std::uint64_t> busy_wait(const Answer& a, const std::string& method, int retries) {
  if ((a.status != 429 && a.status != 503) || !repeatable(method) || retries >= kMaxBusyRetries) return std::nullopt;
  return std::min(a.retry_after.value_or(1), kMaxBusyWait);
}

std::string busy_notice(int status, std::uint64_t seconds) {
  return "server busy (" + std::to_string(status) + "): retrying in " + std::to_string(seconds) + " s";
}

}  // namespace mh::client
