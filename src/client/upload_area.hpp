#pragma once
// Where the server keeps this client's uploads, as a request target prefix (docs/PROTOCOL.md §8).
// The one place the client names it: get --uploads, ls --uploads, put and rm all build on it.
#include <string_view>

namespace mh::client {

inline constexpr std::string_view kUploadArea = "/uploads/";

}  // namespace mh::client
