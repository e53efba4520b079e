#pragma once
// The browser client's files at /.app/ (docs/PROTOCOL.md §2.1): public, from the bundle embedded
// at build time (page/bundle.hpp), never from the filesystem. A lookup in a table, so no request
// path can reach anything else.
#include <map>
#include <string>
#include <string_view>

#include "net/http_types.hpp"
#include "page/bundle.hpp"

namespace mh::web {

class AppPage {
 public:
  explicit AppPage(std::span<const page::AppFile> files = page::files());
  // The answer to any request whose path is /.app or below.
  net::Response answer(const net::Request& req) const;
  const std::string& app_hash() const noexcept { return hash_; }

 private:
  struct File {
    std::string_view bytes;
    std::string type;
    std::string etag;
  };
  net::Response file_response(const net::Request& req, std::string_view bytes, const std::string& type,
                              const std::string& etag) const;

  std::map<std::string, File, std::less<>> files_;
  std::string hash_;
  std::string files_json_, files_json_etag_;
};

}  // namespace mh::web
