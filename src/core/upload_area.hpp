#pragma once
// Where each client's private upload area is on the wire (docs/PROTOCOL.md §8): a dot name, which
// no served file or folder can have (dot names are never served, core/path.cpp), so the area can
// never shadow a served folder.
#include <string_view>

namespace mh {

inline constexpr std::string_view kUploadArea = "/.uploads";

}  // namespace mh
