#include "server/access_log.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <memory>

#include "core/error.hpp"
#include "core/terminal_text.hpp"
#include "io/unique_fd.hpp"

namespace mh::server {
namespace {

// Apache's escaping of logged request bytes: '"' and '\' get a backslash, every other byte outside
// printable ASCII becomes \xHH, so that one line stays one line and nothing reaches a terminal
// that reads the log.
std::string clf_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

std::string quoted_header(const net::Request& r, std::string_view name) {
  const auto v = r.header(name);
  return "\"" + (v ? clf_escape(*v) : std::string("-")) + "\"";
}

}  // namespace

std::string combined_log_line(const net::AccessRecord& r, std::int64_t now) {
  char when[40];
  const auto t = static_cast<std::time_t>(now);
  std::tm tm{};
  localtime_r(&t, &tm);
  std::strftime(when, sizeof when, "[%d/%b/%Y:%H:%M:%S %z]", &tm);
  const net::Request& q = r.request;
  return q.remote_address + " - " + (q.client_id.empty() ? "-" : q.client_id) + " " + when + " \"" +
         clf_escape(q.method) + " " + clf_escape(q.target) + " HTTP/1.1\" " + std::to_string(r.status) + " " +
         (r.bytes == 0 ? std::string("-") : std::to_string(r.bytes)) + " " + quoted_header(q, "Referer") + " " +
         quoted_header(q, "User-Agent") + " " +
         (!r.complete    ? "X"
          : r.keep_alive ? "+"
                         : "-") +
         " " + std::to_string(r.duration.count()) + "\n";
}

net::AccessLogger make_access_logger(const Options& o) {
  if (!o.access_log_file.empty()) {
    auto fd = std::make_shared<io::UniqueFd>(
        ::open(o.access_log_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
    if (fd->get() < 0)
      throw Error(Errc::io, "cannot open the access log " + o.access_log_file + ": " + io::errno_text(errno));
    // One write(2) per line with O_APPEND: lines from the worker threads never interleave, and a
    // log truncated in place (logrotate's copytruncate) is written from its new end.
    return [fd](const net::AccessRecord& r) {
      const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
      const std::string line = combined_log_line(r, now);
      (void)!::write(fd->get(), line.data(), line.size());
    };
  }
  if (!o.access_log) return {};
  // The method and target are the client's bytes: escaped (core/terminal_text.hpp) so that no
  // control byte, escape sequence or line break reaches the log or the operator's terminal, and
  // the target is capped (then "… (N more bytes)").
  return [](const net::AccessRecord& r) {
    spdlog::info("access {} {} {} {} {} {}B {}us{}", r.request.remote_address,
                 r.request.client_id.empty() ? "-" : r.request.client_id, terminal_safe(r.request.method, 32),
                 terminal_safe(r.request.target, 512), r.status, r.bytes, r.duration.count(),
                 r.complete ? "" : " aborted");
  };
}

}  // namespace mh::server
