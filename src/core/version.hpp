#pragma once
// The project's version, from CMake's PROJECT_VERSION (the MH_VERSION compile definition on mh_core).
#include <string_view>

namespace mh {

inline constexpr std::string_view kVersion = MH_VERSION;

}  // namespace mh
