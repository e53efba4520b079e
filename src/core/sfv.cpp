#include "core/sfv.hpp"

#include "core/base64.hpp"
#include "core/error.hpp"

namespace mh::sfv {
namespace {

[[noreturn]] void fail(const char* why) { throw Error(Errc::bad_request, std::string("structured field: ") + why); }

// Integers are at most 15 digits (§3.3.1); decimals at most 12 integer digits (§3.3.2).
constexpr std::int64_t kMaxInteger = 999'999'999'999'999;
constexpr std::int64_t kMaxDecimalInteger = 999'999'999'999;

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_lcalpha(char c) noexcept { return c >= 'a' && c <= 'z'; }
constexpr bool is_alpha(char c) noexcept { return is_lcalpha(c) || (c >= 'A' && c <= 'Z'); }
// tchar of RFC 9110 §5.6.2.
constexpr bool is_tchar(char c) noexcept {
  if (is_alpha(c) || is_digit(c)) return true;
  for (char t : std::string_view("!#$%&'*+-.^_`|~"))
    if (c == t) return true;
  return false;
}
constexpr bool is_token_char(char c) noexcept { return is_tchar(c) || c == ':' || c == '/'; }
constexpr bool is_key_start(char c) noexcept { return is_lcalpha(c) || c == '*'; }
constexpr bool is_key_char(char c) noexcept {
  return is_lcalpha(c) || is_digit(c) || c == '_' || c == '-' || c == '.' || c == '*';
}
constexpr bool is_printable(char c) noexcept { return c >= 0x20 && c <= 0x7e; }

// ---- parsing (RFC 8941 §4.2) -----------------------------------------------------------------

// A cursor over the field value; each method is one algorithm of §4.2 and consumes what it reads.
class Parser {
 public:
  explicit Parser(std::string_view in) noexcept : in_(in) {}

  bool done() const noexcept { return pos_ >= in_.size(); }
  char peek() const noexcept { return in_[pos_]; }
  void skip_sp() noexcept {
    while (!done() && peek() == ' ') ++pos_;
  }
  // OWS only appears around the commas of Lists and Dictionaries.
  void skip_ows() noexcept {
    while (!done() && (peek() == ' ' || peek() == '\t')) ++pos_;
  }

  List list() {
    List out;
    while (!done()) {
      if (peek() == ',') fail("empty list member");
      if (out.size() == kMaxMembers) fail("too many members");
      out.push_back(member());
      if (!next_member()) return out;
      if (done()) fail("empty list member");
    }
    return out;
  }

  Dictionary dictionary() {
    Dictionary out;
    std::size_t seen = 0;  // duplicates count against the limit too
    while (!done()) {
      if (peek() == ',') fail("empty dictionary member");
      if (seen++ == kMaxMembers) fail("too many members");
      std::string k = key();
      if (!done() && peek() == '=') {
        ++pos_;
        out.set(std::move(k), member());
      } else {
        out.set(std::move(k), Item{true, parameters()});
      }
      if (!next_member()) return out;
      if (done()) fail("empty dictionary member");
    }
    return out;
  }

  Item item() {
    BareItem v = bare_item();
    return Item{std::move(v), parameters()};
  }

 private:
  // After a List or Dictionary member: false at the end of input, true after a comma.
  bool next_member() {
    skip_ows();
    if (done()) return false;
    if (peek() != ',') fail("expected a comma");
    ++pos_;
    skip_ows();
    return true;
  }

  Member member() {
    if (!done() && peek() == '(') return inner_list();
    return item();
  }

  InnerList inner_list() {
    ++pos_;  // '('
    InnerList out;
    while (!done()) {
      skip_sp();
      if (done()) break;
      if (peek() == ')') {
        ++pos_;
        out.params = parameters();
        return out;
      }
      if (out.items.size() == kMaxInnerItems) fail("too many inner list items");
      out.items.push_back(item());
      if (done()) break;
      if (peek() != ' ' && peek() != ')') fail("bad inner list");
    }
    fail("unterminated inner list");
  }

  Parameters parameters() {
    Parameters out;
    std::size_t seen = 0;
    while (!done() && peek() == ';') {
      ++pos_;
      skip_sp();
      std::string k = key();
      BareItem v = true;
      if (!done() && peek() == '=') {
        ++pos_;
        v = bare_item();
      }
      if (seen++ == kMaxParams) fail("too many parameters");
      out.set(std::move(k), std::move(v));
    }
    return out;
  }

  std::string key() {
    if (done() || !is_key_start(peek())) fail("bad key");
    const std::size_t start = pos_;
    while (!done() && is_key_char(peek())) ++pos_;
    return std::string(in_.substr(start, pos_ - start));
  }

  BareItem bare_item() {
    if (done()) fail("expected an item");
    const char c = peek();
    if (c == '-' || is_digit(c)) return number();
    if (c == '"') return string();
    if (is_alpha(c) || c == '*') return token();
    if (c == ':') return binary();
    if (c == '?') return boolean();
    fail("expected an item");
  }

  // §4.2.4: digits are counted exactly as the RFC counts its input_number.
  BareItem number() {
    const bool negative = peek() == '-';
    if (negative) ++pos_;
    if (done() || !is_digit(peek())) fail("bad number");
    std::int64_t int_part = 0, frac_part = 0;
    std::size_t int_digits = 0, frac_digits = 0;
    bool decimal = false;
    while (!done()) {
      const char c = peek();
      if (is_digit(c)) {
        if (decimal) {
          frac_part = frac_part * 10 + (c - '0');
          ++frac_digits;
        } else {
          int_part = int_part * 10 + (c - '0');
          ++int_digits;
        }
      } else if (c == '.' && !decimal) {
        if (int_digits > 12) fail("bad decimal");
        decimal = true;
      } else {
        break;
      }
      ++pos_;
      if (!decimal && int_digits > 15) fail("integer too long");
      if (decimal && int_digits + 1 + frac_digits > 16) fail("bad decimal");
    }
    if (!decimal) return negative ? -int_part : int_part;
    if (frac_digits == 0 || frac_digits > 3) fail("bad decimal");
    for (std::size_t i = frac_digits; i < 3; ++i) frac_part *= 10;
    const std::int64_t t = int_part * 1000 + frac_part;
    return Decimal{negative ? -t : t};
  }

  std::string string() {
    ++pos_;  // '"'
    std::string out;
    while (!done()) {
      const char c = in_[pos_++];
      if (c == '"') return out;
      if (c == '\\') {
        if (done()) break;
        const char e = in_[pos_++];
        if (e != '"' && e != '\\') fail("bad string escape");
        out += e;
      } else if (!is_printable(c)) {
        fail("bad character in string");
      } else {
        out += c;
      }
      if (out.size() > kMaxStringChars) fail("string too long");
    }
    fail("unterminated string");
  }

  Token token() {
    const std::size_t start = pos_++;  // first character checked by bare_item()
    while (!done() && is_token_char(peek())) ++pos_;
    if (pos_ - start > kMaxStringChars) fail("token too long");
    return Token{std::string(in_.substr(start, pos_ - start))};
  }

  Bytes binary() {
    ++pos_;  // ':'
    const std::size_t end = in_.find(':', pos_);
    if (end == std::string_view::npos) fail("unterminated byte sequence");
    const std::string_view b64 = in_.substr(pos_, end - pos_);
    pos_ = end + 1;
    // Refuse before decoding anything obviously too big.
    if (b64.size() > base64_encoded_length(kMaxBinaryBytes)) fail("byte sequence too long");
    Bytes out;
    try {
      // §4.2.7: padding SHOULD NOT be required. Non-zero pad bits are refused (the RFC allows it).
      out = base64_decode(b64, Alphabet::standard, Padding::optional);
    } catch (const Error&) { fail("bad byte sequence"); }
    if (out.size() > kMaxBinaryBytes) fail("byte sequence too long");
    return out;
  }

  bool boolean() {
    ++pos_;  // '?'
    if (!done() && (peek() == '0' || peek() == '1')) return in_[pos_++] == '1';
    fail("bad boolean");
  }

  std::string_view in_;
  std::size_t pos_ = 0;
};

// §4.2 top level: the input must be ASCII, leading and trailing SP are discarded, nothing
// else may follow the value.
template <class Fn>
auto parse_field(std::string_view field, Fn fn) {
  if (field.size() > kMaxFieldBytes) fail("too long");
  for (char c : field)
    if (static_cast<unsigned char>(c) >= 0x80) fail("non-ASCII character");
  Parser p(field);
  p.skip_sp();
  auto out = fn(p);
  p.skip_sp();
  if (!p.done()) fail("trailing characters");
  return out;
}

// ---- serialization (RFC 8941 §4.1) -----------------------------------------------------------

void put_key(std::string_view key, std::string& out) {
  if (key.empty() || !is_key_start(key.front())) fail("bad key");
  for (char c : key)
    if (!is_key_char(c)) fail("bad key");
  out += key;
}

void put_integer(std::int64_t v, std::string& out) {
  if (v > kMaxInteger || v < -kMaxInteger) fail("integer out of range");
  out += std::to_string(v);
}

// Fixed point makes §4.1.5's rounding unnecessary: at most three fractional digits exist.
void put_decimal(Decimal d, std::string& out) {
  const std::int64_t limit = kMaxDecimalInteger * 1000 + 999;
  if (d.thousandths > limit || d.thousandths < -limit) fail("decimal out of range");
  const std::int64_t magnitude = d.thousandths < 0 ? -d.thousandths : d.thousandths;
  if (d.thousandths < 0) out += '-';
  out += std::to_string(magnitude / 1000);
  out += '.';
  std::int64_t frac = magnitude % 1000;
  if (frac == 0) {
    out += '0';
    return;
  }
  char digits[3] = {static_cast<char>('0' + frac / 100), static_cast<char>('0' + frac / 10 % 10),
                    static_cast<char>('0' + frac % 10)};
  std::size_t n = 3;
  while (digits[n - 1] == '0') --n;  // frac != 0, so this stops at a non-zero digit
  out.append(digits, n);
}

void put_string(std::string_view s, std::string& out) {
  out += '"';
  for (char c : s) {
    if (!is_printable(c)) fail("bad character in string");
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

void put_token(std::string_view t, std::string& out) {
  if (t.empty() || !(is_alpha(t.front()) || t.front() == '*')) fail("bad token");
  for (char c : t)
    if (!is_token_char(c)) fail("bad token");
  out += t;
}

void put_bare(const BareItem& v, std::string& out) {
  struct Visitor {
    std::string& out;
    void operator()(std::int64_t i) const { put_integer(i, out); }
    void operator()(Decimal d) const { put_decimal(d, out); }
    void operator()(const std::string& s) const { put_string(s, out); }
    void operator()(const Token& t) const { put_token(t.value, out); }
    void operator()(const Bytes& b) const {
      out += ':';
      out += base64_encode(b);
      out += ':';
    }
    void operator()(bool b) const { out += b ? "?1" : "?0"; }
  };
  std::visit(Visitor{out}, v);
}

void put_params(const Parameters& p, std::string& out) {
  for (const auto& [key, value] : p.entries) {
    out += ';';
    put_key(key, out);
    // A true Boolean is written as the bare key (§4.1.1.2).
    if (const bool* b = std::get_if<bool>(&value); b && *b) continue;
    out += '=';
    put_bare(value, out);
  }
}

void put_item(const Item& item, std::string& out) {
  put_bare(item.value, out);
  put_params(item.params, out);
}

void put_inner_list(const InnerList& list, std::string& out) {
  out += '(';
  for (std::size_t i = 0; i < list.items.size(); ++i) {
    if (i) out += ' ';
    put_item(list.items[i], out);
  }
  out += ')';
  put_params(list.params, out);
}

void put_member(const Member& m, std::string& out) {
  if (const auto* item = std::get_if<Item>(&m))
    put_item(*item, out);
  else
    put_inner_list(std::get<InnerList>(m), out);
}

}  // namespace

const BareItem* Parameters::find(std::string_view key) const noexcept {
  for (const auto& [k, v] : entries)
    if (k == key) return &v;
  return nullptr;
}

void Parameters::set(std::string key, BareItem value) {
  for (auto& [k, v] : entries) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  entries.emplace_back(std::move(key), std::move(value));
}

const Member* Dictionary::find(std::string_view key) const noexcept {
  for (const auto& [k, v] : entries)
    if (k == key) return &v;
  return nullptr;
}

void Dictionary::set(std::string key, Member value) {
  for (auto& [k, v] : entries) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  entries.emplace_back(std::move(key), std::move(value));
}

List parse_list(std::string_view field) {
  return parse_field(field, [](Parser& p) { return p.list(); });
}

Dictionary parse_dictionary(std::string_view field) {
  return parse_field(field, [](Parser& p) { return p.dictionary(); });
}

Item parse_item(std::string_view field) {
  return parse_field(field, [](Parser& p) { return p.item(); });
}

std::string serialize_bare(const BareItem& v) {
  std::string out;
  put_bare(v, out);
  return out;
}

std::string serialize(const Parameters& p) {
  std::string out;
  put_params(p, out);
  return out;
}

std::string serialize(const Item& item) {
  std::string out;
  put_item(item, out);
  return out;
}

std::string serialize(const InnerList& list) {
  std::string out;
  put_inner_list(list, out);
  return out;
}

std::string serialize(const Member& member) {
  std::string out;
  put_member(member, out);
  return out;
}

std::string serialize(const List& list) {
  std::string out;
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (i) out += ", ";
    put_member(list[i], out);
  }
  return out;
}

std::string serialize(const Dictionary& dict) {
  std::string out;
  for (std::size_t i = 0; i < dict.entries.size(); ++i) {
    if (i) out += ", ";
    const auto& [key, member] = dict.entries[i];
    put_key(key, out);
    // A member whose value is a true Boolean is written as its key and parameters (§4.1.2).
    if (const auto* item = std::get_if<Item>(&member)) {
      if (const bool* b = std::get_if<bool>(&item->value); b && *b) {
        put_params(item->params, out);
        continue;
      }
    }
    out += '=';
    put_member(member, out);
  }
  return out;
}

}  // namespace mh::sfv
