// RFC 8941 Structured Field Values: the RFC's own examples, canonical serialization, the parser's
// corner cases (§4.2) and every limit of core/sfv.hpp, each refusal with its exact reason.
#include <gtest/gtest.h>

#include <string>

#include "core/error.hpp"
#include "core/sfv.hpp"

namespace mh::sfv {
namespace {

// The reason of the Error that fn throws (which must be bad_request), or "no error".
template <class Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::bad_request) << e.what();
    return e.what();
  }
  return "no error";
}

std::string list_error(std::string_view s) {
  return error_of([&] { parse_list(s); });
}
std::string dict_error(std::string_view s) {
  return error_of([&] { parse_dictionary(s); });
}
std::string item_error(std::string_view s) {
  return error_of([&] { parse_item(s); });
}

std::string reserialize_list(std::string_view s) { return serialize(parse_list(s)); }
std::string reserialize_dict(std::string_view s) { return serialize(parse_dictionary(s)); }
std::string reserialize_item(std::string_view s) { return serialize(parse_item(s)); }

// ---- RFC 8941 §3 examples --------------------------------------------------------------------

TEST(SfvExamples, Lists) {
  EXPECT_EQ(reserialize_list("sugar, tea, rum"), "sugar, tea, rum");
  EXPECT_EQ(reserialize_list(R"(("foo" "bar"), ("baz"), ("bat" "one"), ())"),
            R"(("foo" "bar"), ("baz"), ("bat" "one"), ())");
  EXPECT_EQ(reserialize_list(R"(("foo"; a=1;b=2);lvl=5, ("bar" "baz");lvl=1)"),
            R"(("foo";a=1;b=2);lvl=5, ("bar" "baz");lvl=1)");
  EXPECT_EQ(reserialize_list(R"(abc;a=1;b=2; cde_456, (ghi;jk=4 l);q="9";r=w)"),
            R"(abc;a=1;b=2;cde_456, (ghi;jk=4 l);q="9";r=w)");

  const List l = parse_list(R"(("foo"; a=1;b=2);lvl=5, ("bar" "baz");lvl=1)");
  ASSERT_EQ(l.size(), 2u);
  const auto& first = std::get<InnerList>(l[0]);
  ASSERT_EQ(first.items.size(), 1u);
  EXPECT_EQ(first.items[0].value, BareItem(std::string("foo")));
  EXPECT_EQ(first.items[0].params.entries.size(), 2u);
  EXPECT_EQ(*first.items[0].params.find("b"), BareItem(std::int64_t{2}));
  EXPECT_EQ(*first.params.find("lvl"), BareItem(std::int64_t{5}));
  EXPECT_EQ(first.params.find("nope"), nullptr);
}

TEST(SfvExamples, ListSplitOverFieldLines) {
  // §3.1: "sugar, tea" and "rum" on two lines, joined with ", " as §4.2 prescribes.
  EXPECT_EQ(parse_list("sugar, tea, rum"), parse_list(std::string("sugar, tea") + ", " + "rum"));
}

TEST(SfvExamples, Dictionaries) {
  EXPECT_EQ(reserialize_dict(R"(en="Applepie", da=:w4ZibGV0w6ZydGU=:)"), R"(en="Applepie", da=:w4ZibGV0w6ZydGU=:)");
  EXPECT_EQ(reserialize_dict("a=?0, b, c; foo=bar"), "a=?0, b, c;foo=bar");
  EXPECT_EQ(reserialize_dict("rating=1.5, feelings=(joy sadness)"), "rating=1.5, feelings=(joy sadness)");
  EXPECT_EQ(reserialize_dict("a=(1 2), b=3, c=4;aa=bb, d=(5 6);valid"), "a=(1 2), b=3, c=4;aa=bb, d=(5 6);valid");

  const Dictionary d = parse_dictionary(R"(en="Applepie", da=:w4ZibGV0w6ZydGU=:)");
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d.entries[0].first, "en");
  EXPECT_EQ(std::get<Item>(*d.find("en")).value, BareItem(std::string("Applepie")));
  // "Æbletærte" in UTF-8.
  const Bytes applepie = {0xc3, 0x86, 'b', 'l', 'e', 't', 0xc3, 0xa6, 'r', 't', 'e'};
  EXPECT_EQ(std::get<Item>(*d.find("da")).value, BareItem(applepie));

  const Dictionary flags = parse_dictionary("a=?0, b, c; foo=bar");
  EXPECT_EQ(std::get<Item>(*flags.find("a")).value, BareItem(false));
  EXPECT_EQ(std::get<Item>(*flags.find("b")).value, BareItem(true));
  const Item& c = std::get<Item>(*flags.find("c"));
  EXPECT_EQ(c.value, BareItem(true));
  EXPECT_EQ(*c.params.find("foo"), BareItem(Token{"bar"}));
}

TEST(SfvExamples, Items) {
  EXPECT_EQ(reserialize_item("5; foo=bar"), "5;foo=bar");
  EXPECT_EQ(reserialize_item("1; a; b=?0"), "1;a;b=?0");
  EXPECT_EQ(parse_item("42").value, BareItem(std::int64_t{42}));
  EXPECT_EQ(parse_item("4.5").value, BareItem(Decimal{4500}));
  EXPECT_EQ(parse_item(R"("hello world")").value, BareItem(std::string("hello world")));
  EXPECT_EQ(parse_item("foo123/456").value, BareItem(Token{"foo123/456"}));
  EXPECT_EQ(parse_item(":cHJldGVuZCB0aGlzIGlzIGJpbmFyeSBjb250ZW50Lg==:").value,
            BareItem(to_bytes("pretend this is binary content.")));
  EXPECT_EQ(parse_item("?1").value, BareItem(true));
  EXPECT_EQ(parse_item("?0").value, BareItem(false));
  for (const char* s : {"42", "4.5", R"("hello world")", "foo123/456",
                        ":cHJldGVuZCB0aGlzIGlzIGJpbmFyeSBjb250ZW50Lg==:", "?1", "?0", "*", "*foo", "-7"})
    EXPECT_EQ(reserialize_item(s), s);
}

// ---- parsing details -------------------------------------------------------------------------

TEST(SfvParse, Numbers) {
  EXPECT_EQ(parse_item("999999999999999").value, BareItem(std::int64_t{999'999'999'999'999}));
  EXPECT_EQ(parse_item("-999999999999999").value, BareItem(std::int64_t{-999'999'999'999'999}));
  EXPECT_EQ(parse_item("0002").value, BareItem(std::int64_t{2}));
  EXPECT_EQ(parse_item("-0").value, BareItem(std::int64_t{0}));
  EXPECT_EQ(parse_item("123456789012.123").value, BareItem(Decimal{123'456'789'012'123}));
  EXPECT_EQ(parse_item("-01.334").value, BareItem(Decimal{-1334}));
  EXPECT_EQ(parse_item("0.5").value, BareItem(Decimal{500}));
  EXPECT_EQ(parse_item("-0.05").value, BareItem(Decimal{-50}));
  // Canonical forms: no leading zeros, trailing zeros dropped but one fractional digit kept.
  EXPECT_EQ(reserialize_item("0002"), "2");
  EXPECT_EQ(reserialize_item("-01.334"), "-1.334");
  EXPECT_EQ(reserialize_item("5.230"), "5.23");
  EXPECT_EQ(reserialize_item("-0.40"), "-0.4");
  EXPECT_EQ(reserialize_item("1.0"), "1.0");
  EXPECT_EQ(reserialize_item("1.000"), "1.0");
  EXPECT_EQ(reserialize_item("0.001"), "0.001");
  EXPECT_EQ(reserialize_item("-0.0"), "0.0");
  EXPECT_EQ(reserialize_item("123456789012.123"), "123456789012.123");
  // A number ends at the first character that cannot continue it; parameters may follow.
  EXPECT_EQ(reserialize_item("12;a=1.5"), "12;a=1.5");
}

TEST(SfvParse, StringsAndTokens) {
  const Item s = parse_item(R"("a\"b\\c")");
  EXPECT_EQ(s.value, BareItem(std::string("a\"b\\c")));
  EXPECT_EQ(serialize(s), R"("a\"b\\c")");
  EXPECT_EQ(parse_item(R"("")").value, BareItem(std::string()));
  EXPECT_EQ(parse_item(R"(" ~!")").value, BareItem(std::string(" ~!")));
  // Tokens may hold tchar, ':' and '/', and start with ALPHA or '*'.
  EXPECT_EQ(parse_item("Foo:bar/baz!#$%&'*+-.^_`|~9").value, BareItem(Token{"Foo:bar/baz!#$%&'*+-.^_`|~9"}));
  // Single quotes delimit nothing.
  EXPECT_EQ(item_error("'single'"), "structured field: expected an item");
}

TEST(SfvParse, ByteSequences) {
  EXPECT_EQ(parse_item("::").value, BareItem(Bytes{}));
  EXPECT_EQ(reserialize_item("::"), "::");
  // Padding is optional when parsing (§4.2.7) and always written when serializing (§4.1.8).
  EXPECT_EQ(parse_item(":YQ:").value, BareItem(Bytes{'a'}));
  EXPECT_EQ(reserialize_item(":YQ:"), ":YQ==:");
  EXPECT_EQ(reserialize_item(":YWI:"), ":YWI=:");
}

TEST(SfvParse, Whitespace) {
  // §4.2: leading and trailing SP are discarded around the whole value...
  EXPECT_EQ(reserialize_item("   1   "), "1");
  EXPECT_EQ(reserialize_list("  a, b  "), "a, b");
  // ...and OWS (SP or HTAB) is allowed around the commas of Lists and Dictionaries only.
  EXPECT_EQ(reserialize_list("a \t,\t b,c"), "a, b, c");
  EXPECT_EQ(reserialize_dict("a=1 ,\tb=2"), "a=1, b=2");
  EXPECT_EQ(item_error("\t1"), "structured field: expected an item");
  EXPECT_EQ(item_error("1\t"), "structured field: trailing characters");
  // Inner lists take any number of SP between items, never HTAB.
  EXPECT_EQ(reserialize_list("(  a   b  )"), "(a b)");
  EXPECT_EQ(list_error("(a\tb)"), "structured field: bad inner list");
  // SP after ';' is allowed, before it is not.
  EXPECT_EQ(reserialize_item("a;  b=1"), "a;b=1");
  EXPECT_EQ(item_error("a ;b=1"), "structured field: trailing characters");
  EXPECT_EQ(item_error("a; b =1"), "structured field: trailing characters");
}

TEST(SfvParse, EmptyValues) {
  EXPECT_TRUE(parse_list("").empty());
  EXPECT_TRUE(parse_list("   ").empty());
  EXPECT_TRUE(parse_dictionary("").empty());
  EXPECT_EQ(item_error(""), "structured field: expected an item");
  EXPECT_EQ(item_error("   "), "structured field: expected an item");
  EXPECT_EQ(serialize(List{}), "");
  EXPECT_EQ(serialize(Dictionary{}), "");
}

TEST(SfvParse, DuplicateKeysKeepFirstPositionLastValue) {
  const Dictionary d = parse_dictionary("a=1, b=2, a=3");
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d.entries[0].first, "a");
  EXPECT_EQ(std::get<Item>(d.entries[0].second).value, BareItem(std::int64_t{3}));
  EXPECT_EQ(serialize(d), "a=3, b=2");
  EXPECT_EQ(reserialize_item("x;a=1;b=2;a=3"), "x;a=3;b=2");
}

TEST(SfvParse, ParametersAreOrderedAndFindable) {
  Parameters p;
  p.set("z", std::int64_t{1});
  p.set("a", Token{"t"});
  p.set("z", false);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p.entries[0].first, "z");
  EXPECT_EQ(*p.find("z"), BareItem(false));
  EXPECT_EQ(serialize(p), ";z=?0;a=t");
}

// ---- refusals --------------------------------------------------------------------------------

TEST(SfvErrors, Numbers) {
  EXPECT_EQ(item_error("1234567890123456"), "structured field: integer too long");
  EXPECT_EQ(item_error("-1234567890123456"), "structured field: integer too long");
  EXPECT_EQ(item_error("1234567890123.1"), "structured field: bad decimal");  // 13 integer digits
  EXPECT_EQ(item_error("1.1234"), "structured field: bad decimal");           // 4 fractional digits
  EXPECT_EQ(item_error("1."), "structured field: bad decimal");
  EXPECT_EQ(item_error("1.a"), "structured field: bad decimal");
  EXPECT_EQ(item_error("-"), "structured field: bad number");
  EXPECT_EQ(item_error("-a"), "structured field: bad number");
  EXPECT_EQ(item_error("1.2.3"), "structured field: trailing characters");
}

TEST(SfvErrors, Strings) {
  EXPECT_EQ(item_error(R"("abc)"), "structured field: unterminated string");
  EXPECT_EQ(item_error(R"("abc\)"), "structured field: unterminated string");
  EXPECT_EQ(item_error(R"("a\x")"), "structured field: bad string escape");
  EXPECT_EQ(item_error(R"("a\'")"), "structured field: bad string escape");
  EXPECT_EQ(item_error("\"a\tb\""), "structured field: bad character in string");
  EXPECT_EQ(item_error(std::string("\"a\0b\"", 5)), "structured field: bad character in string");
  EXPECT_EQ(item_error("\"a\x7f\""), "structured field: bad character in string");
}

TEST(SfvErrors, NonAscii) {
  EXPECT_EQ(item_error("\"caf\xc3\xa9\""), "structured field: non-ASCII character");
  EXPECT_EQ(list_error("a, \xff"), "structured field: non-ASCII character");
}

TEST(SfvErrors, TokensKeysAndItems) {
  EXPECT_EQ(item_error("_abc"), "structured field: expected an item");
  EXPECT_EQ(item_error("9abc"), "structured field: trailing characters");  // 9 then garbage
  EXPECT_EQ(list_error("a, (b _c)"), "structured field: expected an item");
  EXPECT_EQ(dict_error("A=1"), "structured field: bad key");
  EXPECT_EQ(dict_error("a=1, B=2"), "structured field: bad key");
  EXPECT_EQ(dict_error("1a=1"), "structured field: bad key");
  EXPECT_EQ(dict_error("a=_x"), "structured field: expected an item");
  EXPECT_EQ(item_error("a;B=1"), "structured field: bad key");
  EXPECT_EQ(item_error("a;"), "structured field: bad key");
  EXPECT_EQ(item_error("a;b="), "structured field: expected an item");
  EXPECT_EQ(dict_error("aBc=1"), "structured field: expected a comma");  // key "a", then "Bc"
}

TEST(SfvErrors, ByteSequencesAndBooleans) {
  EXPECT_EQ(item_error(":abc"), "structured field: unterminated byte sequence");
  EXPECT_EQ(item_error(":ab!c:"), "structured field: bad byte sequence");
  EXPECT_EQ(item_error(":YQ=:"), "structured field: bad byte sequence");   // half padding
  EXPECT_EQ(item_error(":YR==:"), "structured field: bad byte sequence");  // non-zero pad bits
  EXPECT_EQ(item_error(":Y Q=:"), "structured field: bad byte sequence");
  EXPECT_EQ(item_error("?2"), "structured field: bad boolean");
  EXPECT_EQ(item_error("?"), "structured field: bad boolean");
}

TEST(SfvErrors, StructureAndTrailingGarbage) {
  EXPECT_EQ(item_error("1 x"), "structured field: trailing characters");
  EXPECT_EQ(item_error("a, b"), "structured field: trailing characters");
  EXPECT_EQ(list_error("a b"), "structured field: expected a comma");
  EXPECT_EQ(list_error("a,,b"), "structured field: empty list member");
  EXPECT_EQ(list_error("a, ,b"), "structured field: empty list member");
  EXPECT_EQ(list_error("a,"), "structured field: empty list member");
  EXPECT_EQ(list_error("a, "), "structured field: empty list member");
  EXPECT_EQ(list_error(",a"), "structured field: empty list member");
  EXPECT_EQ(dict_error("a=1,,b=2"), "structured field: empty dictionary member");
  EXPECT_EQ(dict_error("a=1,"), "structured field: empty dictionary member");
  EXPECT_EQ(list_error("(a b"), "structured field: unterminated inner list");
  EXPECT_EQ(list_error("(a b "), "structured field: unterminated inner list");
  EXPECT_EQ(list_error("(a,b)"), "structured field: bad inner list");
  EXPECT_EQ(list_error("((a))"), "structured field: expected an item");  // no nesting
  EXPECT_EQ(dict_error("a=(1)x"), "structured field: expected a comma");
}

// ---- limits: the last accepted size, then one more -----------------------------------------

std::string repeat_joined(std::string_view piece, std::size_t n, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    if (i) out += sep;
    out += piece;
  }
  return out;
}

TEST(SfvLimits, FieldLength) {
  // Leading SP is discarded by the parser, so it pads a value to the limit without other limits.
  const std::string ok = std::string(8192 - 4, ' ') + "a, b";
  ASSERT_EQ(ok.size(), 8192u);
  EXPECT_EQ(parse_list(ok).size(), 2u);
  EXPECT_EQ(list_error(ok + " "), "structured field: too long");
  EXPECT_EQ(item_error(std::string(8193, ' ')), "structured field: too long");
  EXPECT_EQ(dict_error(std::string(8192, ' ') + "a"), "structured field: too long");
}

TEST(SfvLimits, Members) {
  EXPECT_EQ(parse_list(repeat_joined("a", 64, ", ")).size(), 64u);
  EXPECT_EQ(list_error(repeat_joined("a", 65, ", ")), "structured field: too many members");
  std::string dict64, dict65;
  for (int i = 0; i < 65; ++i) {
    std::string m = "k" + std::to_string(i) + "=" + std::to_string(i);
    if (i < 64) dict64 += (i ? ", " : "") + m;
    dict65 += (i ? ", " : "") + m;
  }
  EXPECT_EQ(parse_dictionary(dict64).size(), 64u);
  EXPECT_EQ(dict_error(dict65), "structured field: too many members");
  // Duplicates are counted as read: 65 members, even if they collapse to one key.
  EXPECT_EQ(dict_error(repeat_joined("a=1", 65, ", ")), "structured field: too many members");
}

TEST(SfvLimits, InnerListItems) {
  const List ok = parse_list("(" + repeat_joined("1", 64, " ") + ")");
  EXPECT_EQ(std::get<InnerList>(ok[0]).items.size(), 64u);
  EXPECT_EQ(list_error("(" + repeat_joined("1", 65, " ") + ")"), "structured field: too many inner list items");
}

TEST(SfvLimits, Parameters) {
  std::string p32, p33;
  for (int i = 0; i < 33; ++i) {
    if (i < 32) p32 += ";p" + std::to_string(i);
    p33 += ";p" + std::to_string(i);
  }
  EXPECT_EQ(parse_item("x" + p32).params.size(), 32u);
  EXPECT_EQ(item_error("x" + p33), "structured field: too many parameters");
  EXPECT_EQ(list_error("(x)" + p33), "structured field: too many parameters");
  EXPECT_EQ(item_error("x" + repeat_joined(";a", 33, "")), "structured field: too many parameters");
}

TEST(SfvLimits, StringsTokensBytes) {
  EXPECT_EQ(parse_item("\"" + std::string(1024, 'a') + "\"").value, BareItem(std::string(1024, 'a')));
  EXPECT_EQ(item_error("\"" + std::string(1025, 'a') + "\""), "structured field: string too long");
  // The limit is on the decoded string: 1024 escaped quotes take 2048 characters and pass.
  EXPECT_EQ(std::get<std::string>(parse_item("\"" + repeat_joined("\\\"", 1024, "") + "\"").value).size(), 1024u);
  EXPECT_EQ(parse_item(std::string(1024, 't')).value, BareItem(Token{std::string(1024, 't')}));
  EXPECT_EQ(item_error(std::string(1025, 't')), "structured field: token too long");
  const Bytes max(2048, 0x5a);
  const std::string ok = serialize_bare(max);
  EXPECT_EQ(parse_item(ok).value, BareItem(max));
  EXPECT_EQ(item_error(serialize_bare(Bytes(2049, 0x5a))), "structured field: byte sequence too long");
  EXPECT_EQ(item_error(":" + std::string(4000, 'A') + ":"), "structured field: byte sequence too long");
}

// ---- serialization ---------------------------------------------------------------------------

std::string serialize_error(const BareItem& v) {
  return error_of([&] { serialize_bare(v); });
}

TEST(SfvSerialize, CanonicalForms) {
  EXPECT_EQ(serialize_bare(std::int64_t{-42}), "-42");
  EXPECT_EQ(serialize_bare(Decimal{1500}), "1.5");
  EXPECT_EQ(serialize_bare(Decimal{-1}), "-0.001");
  EXPECT_EQ(serialize_bare(Decimal{0}), "0.0");
  EXPECT_EQ(serialize_bare(Decimal{12000}), "12.0");
  EXPECT_EQ(serialize_bare(std::string("say \"hi\" \\o/")), R"("say \"hi\" \\o/")");
  EXPECT_EQ(serialize_bare(Token{"*x"}), "*x");
  EXPECT_EQ(serialize_bare(Bytes{0xff, 0xfe}), "://4=:");
  EXPECT_EQ(serialize_bare(true), "?1");
  EXPECT_EQ(serialize_bare(false), "?0");

  // Item parameters, Inner Lists, Lists and Dictionaries with a true member (key only).
  Item item{Token{"text/html"}, {}};
  item.params.set("q", Decimal{900});
  item.params.set("x", true);
  EXPECT_EQ(serialize(item), "text/html;q=0.9;x");
  InnerList inner{{Item{std::string("a"), {}}, Item{std::int64_t{1}, {}}}, {}};
  inner.params.set("lvl", std::int64_t{5});
  EXPECT_EQ(serialize(inner), R"(("a" 1);lvl=5)");
  EXPECT_EQ(serialize(List{item, inner}), R"(text/html;q=0.9;x, ("a" 1);lvl=5)");
  Dictionary d;
  d.set("flag", Item{true, {}});
  d.set("off", Item{false, {}});
  Item flagged{true, {}};
  flagged.params.set("p", std::int64_t{1});
  d.set("t", flagged);
  d.set("l", inner);
  EXPECT_EQ(serialize(d), R"(flag, off=?0, t;p=1, l=("a" 1);lvl=5)");
  EXPECT_EQ(parse_dictionary(serialize(d)), d);
}

TEST(SfvSerialize, Refusals) {
  EXPECT_EQ(serialize_error(std::int64_t{1'000'000'000'000'000}), "structured field: integer out of range");
  EXPECT_EQ(serialize_error(std::int64_t{-1'000'000'000'000'000}), "structured field: integer out of range");
  EXPECT_EQ(serialize_error(Decimal{1'000'000'000'000'000}), "structured field: decimal out of range");
  EXPECT_EQ(serialize_bare(Decimal{999'999'999'999'999}), "999999999999.999");
  EXPECT_EQ(serialize_error(std::string("line\nbreak")), "structured field: bad character in string");
  EXPECT_EQ(serialize_error(std::string("caf\xc3\xa9")), "structured field: bad character in string");
  EXPECT_EQ(serialize_error(Token{""}), "structured field: bad token");
  EXPECT_EQ(serialize_error(Token{"1a"}), "structured field: bad token");
  EXPECT_EQ(serialize_error(Token{"a b"}), "structured field: bad token");
  Parameters p;
  p.set("Upper", true);
  EXPECT_EQ(error_of([&] { serialize(p); }), "structured field: bad key");
  Dictionary d;
  d.set("", Item{true, {}});
  EXPECT_EQ(error_of([&] { serialize(d); }), "structured field: bad key");
}

}  // namespace
}  // namespace mh::sfv
