#pragma once
// File extension -> media type, for the MiniHTTPS-Content-Type response header (the body itself is
// always a Fernet token, application/fernet). A short fixed table: no /etc/mime.types, so the
// answer does not depend on the host.
#include <string_view>

namespace mh::web {

inline constexpr std::string_view kDefaultMediaType = "application/octet-stream";

// By the extension after the last '.' of the final name component, case-insensitively.
// Names without an extension, dotfiles and unknown extensions get kDefaultMediaType.
std::string_view media_type_for(std::string_view filename) noexcept;

}  // namespace mh::web
