#pragma once
// RFC 8941 Structured Field Values: a strict parser (§4.2) and the canonical serializer (§4.1)
// for the types RFC 9421 and RFC 9530 use — Items, Inner Lists, Lists and Dictionaries.
//
// Parsing is exactly the RFC's algorithm, with hard limits so hostile headers cost little:
//   field value <= kMaxFieldBytes, list/dictionary <= kMaxMembers members, inner list <=
//   kMaxInnerItems items, <= kMaxParams parameters per item or inner list, strings and tokens
//   <= kMaxStringChars, byte sequences <= kMaxBinaryBytes decoded bytes.
// Members and parameters are counted as they are read, duplicates included.
// Every failure (parse or serialize) is Error(Errc::bad_request, "structured field: <reason>").
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/bytes.hpp"

namespace mh::sfv {

inline constexpr std::size_t kMaxFieldBytes = 8192;
inline constexpr std::size_t kMaxMembers = 64;
inline constexpr std::size_t kMaxInnerItems = 64;
inline constexpr std::size_t kMaxParams = 32;
inline constexpr std::size_t kMaxStringChars = 1024;
inline constexpr std::size_t kMaxBinaryBytes = 2048;

struct Token {
  std::string value;
  bool operator==(const Token&) const = default;
};

// An sf-decimal held exactly, as a count of thousandths: 1.5 is {1500}. The wire form has at
// most three fractional digits, so fixed point round-trips where a double would not.
struct Decimal {
  std::int64_t thousandths = 0;
  bool operator==(const Decimal&) const = default;
};

// Integer, Decimal, String, Token, Byte Sequence, Boolean.
using BareItem = std::variant<std::int64_t, Decimal, std::string, Token, Bytes, bool>;

// Ordered map of key -> bare item; keys are unique (set() replaces in place).
struct Parameters {
  std::vector<std::pair<std::string, BareItem>> entries;

  const BareItem* find(std::string_view key) const noexcept;
  // Replaces the value of an existing key, keeping its position; otherwise appends.
  void set(std::string key, BareItem value);
  bool empty() const noexcept { return entries.empty(); }
  std::size_t size() const noexcept { return entries.size(); }
  bool operator==(const Parameters&) const = default;
};

struct Item {
  BareItem value;
  Parameters params;
  bool operator==(const Item&) const = default;
};

struct InnerList {
  std::vector<Item> items;
  Parameters params;
  bool operator==(const InnerList&) const = default;
};

using Member = std::variant<Item, InnerList>;
using List = std::vector<Member>;

// Ordered map of key -> member. As RFC 8941 §4.2.2 says, a repeated key replaces the earlier
// value but keeps the earlier position.
struct Dictionary {
  std::vector<std::pair<std::string, Member>> entries;

  const Member* find(std::string_view key) const noexcept;
  void set(std::string key, Member value);
  bool empty() const noexcept { return entries.empty(); }
  std::size_t size() const noexcept { return entries.size(); }
  bool operator==(const Dictionary&) const = default;
};

// Parse a whole field value (several field lines already joined with ", ").
// An empty (or all-SP) value is an empty List / Dictionary, and an error for an Item.
List parse_list(std::string_view field);
Dictionary parse_dictionary(std::string_view field);
Item parse_item(std::string_view field);

// Canonical serialization (§4.1). Refuses values the wire form cannot carry: integers beyond
// 15 digits, decimals beyond 12 integer digits, strings with non-printable characters,
// malformed tokens or keys.
std::string serialize_bare(const BareItem& v);
std::string serialize(const Parameters& p);
std::string serialize(const Item& item);
std::string serialize(const InnerList& list);
std::string serialize(const Member& member);
std::string serialize(const List& list);
std::string serialize(const Dictionary& dict);

}  // namespace mh::sfv
