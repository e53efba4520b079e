#include "core/version.hpp"

#ifndef MH_VERSION
#error "MH_VERSION is set from the CMake project's VERSION (src/CMakeLists.txt)"
#endif

namespace mh {

std::string_view version() noexcept { return MH_VERSION; }

}  // namespace mh
