#pragma once
// Numbers and times as people read them: `ls -h` sizes, `ls -l` times, transfer summaries.
#include <cstdint>
#include <string>

namespace mh::client {

// 512 -> "512 B", 1234 -> "1.2 KiB", 123456789 -> "118 MiB" (binary units, like `ls -lh`: one
// decimal below 10, none above).
std::string human_size(std::uint64_t bytes);

// A modification time as `ls -l` shows it, in local time (TZ): "Dec  2 13:31" within the last
// six months (and up to an hour ahead, for clock skew), else "Dec  2  2025". Always 12 columns.
std::string listing_time(std::int64_t mtime, std::int64_t now);

// "3 files, 1.2 MiB in 0.4 s", then "; 2 skipped" and "; 1 failed" when there were any.
std::string transfer_summary(std::size_t files, std::uint64_t bytes, double seconds, std::size_t skipped,
                             std::size_t failed);

}  // namespace mh::client
