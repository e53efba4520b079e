#pragma once
// The access log: one line per request, either in the console log (human-readable, escaped for
// the terminal) or, with --access-log FILE, appended to FILE in Apache's Combined Log Format
// followed by two of Apache's own fields, the connection status (%X) and the microseconds (%D):
//
//   %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" %X %D
//   127.0.0.1 - 0b3e...-... [02/Dec/2026:14:05:09 +0000] "GET /a.txt HTTP/1.1" 200 12 "-" "minihttps/0.1.0" + 412
//
// %u is the client's UUID once its signature verified. %X is "X" when the connection broke before
// the whole response went out (an aborted download: %b then says how much did), "+" when it stays
// open and "-" when it closes. The timestamp is local time with its UTC offset.
#include <string>

#include "net/http_server.hpp"
#include "server/options.hpp"

namespace mh::server {

// The logger the options ask for (none with --no-access-log and no --access-log). Throws Error
// when the --access-log file cannot be opened.
net::AccessLogger make_access_logger(const Options& o);

// One Combined Log Format line (with its newline) for `r` at unix time `now` (tests use it).
std::string combined_log_line(const net::AccessRecord& r, std::int64_t now);

}  // namespace mh::server
