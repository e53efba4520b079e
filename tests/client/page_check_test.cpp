// compare_page (client/page_check.hpp): every file of the client's page is compared byte for byte
// with what was served; a changed or missing file is named, an extra one on the server is not
// part of the page and changes nothing.
#include <gtest/gtest.h>

#include <map>

#include "client/page_check.hpp"

namespace mh::client {
namespace {

const page::AppFile kOurs[] = {{"a.js", "alert(1)"}, {"index.html", "<p>"}, {"lib/b.js", ""}};

PageComparison against(const std::map<std::string, std::string, std::less<>>& served) {
  return compare_page(kOurs, [&](std::string_view path) -> std::optional<std::string> {
    const auto it = served.find(path);
    if (it == served.end()) return std::nullopt;
    return it->second;
  });
}

TEST(ComparePage, TheSameBytesAreTheSamePage) {
  EXPECT_TRUE(against({{"a.js", "alert(1)"}, {"index.html", "<p>"}, {"lib/b.js", ""}, {"extra.js", "x"}}).same());
}

TEST(ComparePage, ChangedAndMissingFilesAreNamedInOrder) {
  const PageComparison c = against({{"a.js", "alert(2)"}, {"lib/b.js", " "}});
  EXPECT_FALSE(c.same());
  EXPECT_EQ(c.changed, (std::vector<std::string>{"a.js", "lib/b.js"}));
  EXPECT_EQ(c.missing, (std::vector<std::string>{"index.html"}));
  EXPECT_EQ(against({{"a.js", "alert(1)\n"}, {"index.html", "<p>"}, {"lib/b.js", ""}}).changed,
            (std::vector<std::string>{"a.js"}));
}

}  // namespace
}  // namespace mh::client
