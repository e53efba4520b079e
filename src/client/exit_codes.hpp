#pragma once
// minihttps exit codes (documented in --help and README).
#include "core/error.hpp"

namespace mh::client {

enum ExitCode : int {
  kOk = 0,
  kFailed = 1,     // the server refused (404, a path it will not serve, 409, 413, 429, ...), a local file
                   // problem, or the wrong kind of thing asked for (get DIR without -r, binary to a terminal)
  kUsage = 2,      // bad command line
  kNetwork = 3,    // cannot connect, timed out, connection broke
  kAuth = 4,       // authentication or trust: server key not the expected one, 401 or a plain 403 (the
                   // request's signature refused), no session
  kIntegrity = 5,  // an answer, chunk, frame or checksum did not verify, or the output is incomplete, or the
                   // file changed since a partial download; nothing unverified was written
};

// A mistake on the command line found after parsing (a bad URL, an invalid name): exit 2.
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& reason) : Error(Errc::bad_request, reason) {}
};

inline int exit_code_for(Errc e) {
  switch (e) {
    case Errc::network: return kNetwork;
    case Errc::trust:
    case Errc::unauthenticated: return kAuth;
    // Errc::forbidden on the client is a sealed 403: the server, having verified the request,
    // will not serve that path (hidden, outside the root, too large). A plain 403, a refused
    // signature, is raised as unauthenticated (Connection::raise).
    case Errc::integrity: return kIntegrity;
    default: return kFailed;
  }
}

inline constexpr const char* kExitCodeHelp =
    "Exit codes: 0 ok, 1 refused by the server or local error, 2 usage, 3 network,\n"
    "            4 authentication/trust, 5 integrity (nothing unverified was written).";

}  // namespace mh::client
