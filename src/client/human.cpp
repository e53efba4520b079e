#include "client/human.hpp"

#include <cstdio>
#include <ctime>

namespace mh::client {

std::string human_size(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  char buf[32];
  if (bytes < 1024) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
    return buf;
  }
  double v = static_cast<double>(bytes) / 1024;
  std::size_t u = 0;
  // By what is printed: 1023.6 KiB would show as "1024 KiB", so it is "1.0 MiB"; 9.96 would
  // show as "10.0", so it is "10".
  while (v >= 1023.5 && u + 1 < std::size(kUnits)) {
    v /= 1024;
    ++u;
  }
  std::snprintf(buf, sizeof buf, v < 9.95 ? "%.1f %s" : "%.0f %s", v, kUnits[u]);
  return buf;
}

std::string listing_time(std::int64_t mtime, std::int64_t now) {
  constexpr std::int64_t kSixMonths = 15'778'476;  // 365.2425 / 2 days, as GNU ls counts them
  const std::time_t t = static_cast<std::time_t>(mtime);
  std::tm tm{};
  localtime_r(&t, &tm);
  const bool recent = mtime > now - kSixMonths && mtime < now + 3600;
  char buf[32];
  if (std::strftime(buf, sizeof buf, recent ? "%b %e %H:%M" : "%b %e  %Y", &tm) == 0) return std::string(12, '?');
  return buf;
}

std::string transfer_summary(std::size_t files, std::uint64_t bytes, double seconds, std::size_t skipped,
                             std::size_t failed) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%zu file%s, %s in %.1f s", files, files == 1 ? "" : "s", human_size(bytes).c_str(),
                seconds);
  std::string out = buf;
  if (skipped > 0) out += "; " + std::to_string(skipped) + " skipped";
  if (failed > 0) out += "; " + std::to_string(failed) + " failed";
  return out;
}

}  // namespace mh::client
