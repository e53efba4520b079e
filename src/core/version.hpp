#pragma once
// The version of minihttps, shared by both binaries: the CMake project's VERSION, compiled into
// core/version.cpp alone (a new version rebuilds one file, not every one that includes this).
#include <string_view>

namespace mh {

std::string_view version() noexcept;  // "0.1.0"

}  // namespace mh
