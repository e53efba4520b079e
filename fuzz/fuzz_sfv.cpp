// RFC 8941 structured fields (core/sfv.hpp). The first input byte picks the top-level type
// (byte % 3: 0 = List, 1 = Dictionary, 2 = Item; the seeds use '0', '1', '2'), the rest is the
// field value. On acceptance:
//  * serialize() must succeed (a parsed value is always serializable),
//  * the serialization reparses to an equal value, and serializing that gives the same text
//    (canonical form is a fixed point),
//  * the limits of the header comment hold on the parsed value.
// Every refusal is Errc::bad_request with a "structured field: " reason.
// Known, documented exception: canonical form can be longer than the input (padding added to
// byte sequences, ", " between members), so when it exceeds kMaxFieldBytes the reparse is
// allowed to refuse with "structured field: too long" and nothing else.
#include <optional>

#include "core/sfv.hpp"
#include "fuzz_common.hpp"

namespace {

using namespace mh;
using namespace mh::sfv;

void check_bare(const BareItem& v) {
  if (const auto* s = std::get_if<std::string>(&v)) MH_FUZZ_CHECK(s->size() <= kMaxStringChars);
  if (const auto* t = std::get_if<Token>(&v)) MH_FUZZ_CHECK(!t->value.empty() && t->value.size() <= kMaxStringChars);
  if (const auto* b = std::get_if<Bytes>(&v)) MH_FUZZ_CHECK(b->size() <= kMaxBinaryBytes);
  if (const auto* i = std::get_if<std::int64_t>(&v))
    MH_FUZZ_CHECK(*i <= 999'999'999'999'999 && *i >= -999'999'999'999'999);
  if (const auto* d = std::get_if<Decimal>(&v))
    MH_FUZZ_CHECK(d->thousandths <= 999'999'999'999'999 && d->thousandths >= -999'999'999'999'999);
}

void check_params(const Parameters& p) {
  MH_FUZZ_CHECK(p.size() <= kMaxParams);
  for (std::size_t i = 0; i < p.entries.size(); ++i) {
    check_bare(p.entries[i].second);
    for (std::size_t j = 0; j < i; ++j) MH_FUZZ_CHECK(p.entries[i].first != p.entries[j].first);
  }
}

void check_item(const Item& i) {
  check_bare(i.value);
  check_params(i.params);
}

void check_member(const Member& m) {
  if (const auto* i = std::get_if<Item>(&m)) return check_item(*i);
  const auto& l = std::get<InnerList>(m);
  MH_FUZZ_CHECK(l.items.size() <= kMaxInnerItems);
  for (const Item& i : l.items) check_item(i);
  check_params(l.params);
}

void check_limits(const List& l) {
  MH_FUZZ_CHECK(l.size() <= kMaxMembers);
  for (const Member& m : l) check_member(m);
}
void check_limits(const Dictionary& d) {
  MH_FUZZ_CHECK(d.size() <= kMaxMembers);
  for (std::size_t i = 0; i < d.entries.size(); ++i) {
    check_member(d.entries[i].second);
    for (std::size_t j = 0; j < i; ++j) MH_FUZZ_CHECK(d.entries[i].first != d.entries[j].first);
  }
}
void check_limits(const Item& i) { check_item(i); }

template <class T, class Parse>
void round_trip(std::string_view field, Parse parse) {
  std::optional<T> value;
  try {
    value = parse(field);
  } catch (const Error& e) {
    MH_FUZZ_CHECK(e.code() == Errc::bad_request);
    MH_FUZZ_CHECK(std::string_view(e.what()).starts_with("structured field: "));
    return;
  }
  check_limits(*value);
  const std::string once = serialize(*value);  // may not throw: guarded() would report it
  std::optional<T> again;
  try {
    again = parse(once);
  } catch (const Error& e) {
    MH_FUZZ_CHECK(once.size() > kMaxFieldBytes && std::string_view(e.what()) == "structured field: too long");
    return;
  }
  MH_FUZZ_CHECK(*again == *value);
  MH_FUZZ_CHECK(serialize(*again) == once);
  // The canonical form has no leading/trailing space and no tab (OWS is written as one SP).
  if (!once.empty()) MH_FUZZ_CHECK(once.front() != ' ' && once.back() != ' ');
  MH_FUZZ_CHECK(once.find('\t') == std::string::npos);
}

void run(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  const std::string_view field = fuzz::text(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: round_trip<List>(field, [](std::string_view f) { return parse_list(f); }); break;
    case 1: round_trip<Dictionary>(field, [](std::string_view f) { return parse_dictionary(f); }); break;
    default: round_trip<Item>(field, [](std::string_view f) { return parse_item(f); }); break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return mh::fuzz::guarded([&] { run(data, size); });
}
