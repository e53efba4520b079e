// The one route table (core/routes.hpp): which part answers which path, and the subtree rule.
#include <gtest/gtest.h>

#include "core/ascii.hpp"
#include "core/routes.hpp"

namespace mh::routes {
namespace {

TEST(Routes, EachPathGoesToItsPart) {
  EXPECT_EQ(route_of("/.well-known/minihttps"), Route::well_known);
  EXPECT_EQ(route_of("/auth/handshake"), Route::handshake);
  EXPECT_EQ(route_of("/auth/logout"), Route::logout);
  EXPECT_EQ(route_of("/chat"), Route::chat);
  EXPECT_EQ(route_of("/.well-known/minihttps/chat"), Route::ticketed_chat);
  EXPECT_EQ(route_of("/.uploads"), Route::uploads);
  EXPECT_EQ(route_of("/.uploads/"), Route::uploads);
  EXPECT_EQ(route_of("/.uploads/a/b.txt"), Route::uploads);
  EXPECT_EQ(route_of("/uploads/a/b.txt"), Route::files);  // a served folder named uploads/
  EXPECT_EQ(route_of("/hello.txt"), Route::files);
  EXPECT_EQ(route_of("/"), Route::files);
}

TEST(Routes, OnlyExactPathsOrTheUploadSubtreeMatch) {
  EXPECT_EQ(route_of("/.uploadsx"), Route::files);
  EXPECT_EQ(route_of("/chat/x"), Route::files);
  EXPECT_EQ(route_of("/auth/handshake/"), Route::files);
  EXPECT_EQ(route_of("/.well-known/minihttps/sealed"), Route::files);  // the envelope, opened by the web part
  EXPECT_EQ(route_of(path_of("/chat?room=a")), Route::chat);
}

TEST(Ascii, TrimTakesOnlyTheSetFromBothEnds) {
  EXPECT_EQ(trim(" \t a b \t"), "a b");
  EXPECT_EQ(trim(" \t "), "");
  EXPECT_EQ(trim("x\r\n"), "x\r\n");  // OWS alone by default
  EXPECT_EQ(trim("\r\n x \r\n", " \t\r\n"), "x");
}

TEST(Ascii, HexValueAndIequals) {
  EXPECT_EQ(hex_value('0'), 0);
  EXPECT_EQ(hex_value('a'), 10);
  EXPECT_EQ(hex_value('F'), 15);
  EXPECT_EQ(hex_value('g'), -1);
  EXPECT_EQ(hex_value('%'), -1);
  EXPECT_TRUE(iequals("Content-Type", "content-TYPE"));
  EXPECT_FALSE(iequals("Content-Type", "Content-Typ"));
  EXPECT_FALSE(iequals("a", "\xc1"));  // not locale case folding
}

}  // namespace
}  // namespace mh::routes
