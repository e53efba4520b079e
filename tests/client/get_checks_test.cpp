// What `get` refuses by itself (client/get_checks.hpp) and how a mistyped command is named
// (client/command_typo.hpp): the exact rules, in-process. ClientUx (tests/integration/cli_ux_test.cpp)
// runs the same through the real binaries.
#include <gtest/gtest.h>

#include "client/command_typo.hpp"
#include "client/get_checks.hpp"

namespace mh::client {
namespace {

bool binary(std::string_view s) { return looks_binary(as_bytes(s)); }

TEST(GetChecks, BinaryIsANulOrInvalidUtf8) {
  EXPECT_FALSE(binary(""));
  EXPECT_FALSE(binary("hello, world\n\t\x1b[1mbold\x1b[0m\r\n"));
  EXPECT_FALSE(binary("gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80"));  // ü ß € 😀
  EXPECT_TRUE(binary(std::string("a\0b", 3)));
  EXPECT_TRUE(binary("\xff"));              // never in UTF-8
  EXPECT_TRUE(binary("\x80"));              // a continuation byte without a lead
  EXPECT_TRUE(binary("\xc0\xaf"));          // overlong '/'
  EXPECT_TRUE(binary("\xe0\x80\xaf"));      // overlong, three bytes
  EXPECT_TRUE(binary("\xed\xa0\x80"));      // a UTF-16 surrogate
  EXPECT_TRUE(binary("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_TRUE(binary("\xc3x"));             // a lead byte and no continuation
  // A sequence cut by the end of the sniffed bytes is not held against the text.
  EXPECT_FALSE(binary("ok \xe2\x82"));
  EXPECT_FALSE(binary(std::string(4095, 'a') + "\xe2\x82\xac"));
  // Only the first 4 KiB are looked at.
  EXPECT_FALSE(binary(std::string(4096, 'a') + std::string(1, '\0')));
}

Answer answer(int status, std::optional<std::string> type) {
  Answer a;
  a.status = status;
  a.sealed = true;
  a.head.content_type = std::move(type);
  return a;
}

TEST(GetChecks, AListingAnsweredForANameThatIsNoJsonFileIsADirectory) {
  EXPECT_THROW(refuse_listing(answer(200, "application/json"), "/docs"), IsDirectory);
  EXPECT_THROW(refuse_listing(answer(200, "application/json"), "/docs/"), IsDirectory);
  EXPECT_THROW(refuse_listing(answer(200, "application/json"), "/"), IsDirectory);
  EXPECT_THROW(refuse_listing(answer(200, "application/json; charset=utf-8"), "/a.json.d"), IsDirectory);
  EXPECT_NO_THROW(refuse_listing(answer(200, "application/json"), "/data.json"));
  EXPECT_NO_THROW(refuse_listing(answer(200, "application/json"), "/DATA.JSON"));
  EXPECT_NO_THROW(refuse_listing(answer(200, "text/html; charset=utf-8"), "/site/"));  // its index.html
  EXPECT_NO_THROW(refuse_listing(answer(200, std::nullopt), "/docs"));
  EXPECT_NO_THROW(refuse_listing(answer(404, "application/json"), "/docs"));  // an error body, raised elsewhere
  EXPECT_EQ(std::string(directory_error("docs").what()),
            "docs/ is a directory: fetch it with `minihttps get -r docs/` or list it with `minihttps ls docs/`");
  EXPECT_EQ(std::string(directory_error("").what()),
            "/ is a directory: fetch it with `minihttps get -r /` or list it with `minihttps ls /`");
}

const std::vector<std::string> kCommands = {"connect", "get", "ls", "put", "rm", "chat", "whoami", "logout"};

TEST(CommandTypo, EditDistanceCountsASwapAsOne) {
  EXPECT_EQ(edit_distance("get", "get"), 0u);
  EXPECT_EQ(edit_distance("gte", "get"), 1u);
  EXPECT_EQ(edit_distance("gt", "get"), 1u);
  EXPECT_EQ(edit_distance("gett", "get"), 1u);
  EXPECT_EQ(edit_distance("got", "get"), 1u);
  EXPECT_EQ(edit_distance("", "ls"), 2u);
  EXPECT_EQ(edit_distance("wohami", "whoami"), 1u);
}

TEST(CommandTypo, TheNearestCommandWithinTwoEdits) {
  EXPECT_EQ(nearest_command("gte", kCommands), "get");
  EXPECT_EQ(nearest_command("lgout", kCommands), "logout");
  EXPECT_EQ(nearest_command("conect", kCommands), "connect");
  EXPECT_EQ(nearest_command("r", kCommands), std::nullopt);  // one letter is no evidence
  EXPECT_EQ(nearest_command("frobnicate", kCommands), std::nullopt);
  EXPECT_EQ(nearest_command("xyz", kCommands), std::nullopt);
}

TEST(CommandTypo, TheCommandWordIsTheFirstThatIsNoOptionNorItsValue) {
  const std::vector<std::string> with_value = {"--home", "--server", "--timeout"}, flags = {"-v", "-q"};
  const auto msg = [&](const std::vector<std::string>& args) {
    return unknown_command_message(args, kCommands, with_value, flags);
  };
  EXPECT_EQ(msg({"--home", "get", "gte"}), "unknown command 'gte': did you mean 'get'?");  // "get" is the home
  EXPECT_EQ(msg({"--home=h", "gte"}), "unknown command 'gte': did you mean 'get'?");
  EXPECT_EQ(msg({"-v", "get", "gte"}), std::nullopt);  // gte is get's argument
  EXPECT_EQ(msg({"--version"}), std::nullopt);
  EXPECT_EQ(msg({}), std::nullopt);
  EXPECT_EQ(msg({"--", "gte"}), std::nullopt);
  EXPECT_EQ(msg({"-q", "gte"}), "unknown command 'gte': did you mean 'get'?");
  EXPECT_EQ(msg({"-o", "x", "get"}), std::nullopt);  // not a global option: the parser says so
  EXPECT_EQ(msg({"zzz"}), "unknown command 'zzz' (the commands: connect, get, ls, put, rm, chat, whoami, logout)");
}

}  // namespace
}  // namespace mh::client
