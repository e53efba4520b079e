#include "core/strict_json.hpp"

#include <climits>

#include "core/base64.hpp"
#include "core/error.hpp"

namespace mh {

std::string b64u(ByteView b) { return base64_encode(b, Alphabet::url, false); }

void StrictJson::malformed(const std::string& why) const { throw Error(Errc::bad_request, area_ + ": " + why); }

StrictJson::json StrictJson::parse_object(std::string_view text, std::size_t max_bytes) const {
  if (text.size() > max_bytes) malformed("message too large");
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) malformed("message is not a JSON object");
  return j;
}

void StrictJson::only_fields(const json& j, std::initializer_list<const char*> allowed) const {
  for (const auto& [k, v] : j.items()) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || k == a;
    if (!ok) malformed("unknown field '" + k + "'");
  }
}

const StrictJson::json& StrictJson::need(const json& j, const char* name) const {
  const auto it = j.find(name);
  if (it == j.end()) malformed(std::string("missing field '") + name + "'");
  return *it;
}

std::int64_t StrictJson::need_int(const json& j, const char* name) const {
  const json& v = need(j, name);
  if (!v.is_number_integer()) malformed(std::string("field '") + name + "' must be an integer");
  // JSON integers above INT64_MAX arrive as unsigned: refuse them rather than let them wrap.
  if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
    malformed(std::string("field '") + name + "' is out of range");
  return v.get<std::int64_t>();
}

std::string StrictJson::need_string(const json& j, const char* name, std::size_t max_len) const {
  const json& v = need(j, name);
  if (!v.is_string()) malformed(std::string("field '") + name + "' must be a string");
  const auto& s = v.get_ref<const std::string&>();
  if (s.size() > max_len) malformed(std::string("field '") + name + "' too long");
  return s;
}

Bytes StrictJson::need_b64u(const json& j, const char* name, std::size_t min_len, std::size_t max_len) const {
  const std::string s = need_string(j, name, (max_len + 2) / 3 * 4);
  Bytes b;
  try {
    b = base64_decode(s, Alphabet::url, Padding::forbidden);
  } catch (const Error&) { malformed(std::string("field '") + name + "' is not unpadded base64url"); }
  if (b.size() < min_len || b.size() > max_len) malformed(std::string("field '") + name + "' has the wrong length");
  return b;
}

Uuid StrictJson::need_uuid(const json& j, const char* name) const {
  const auto u = Uuid::parse(need_string(j, name, 36));
  if (!u) malformed(std::string("field '") + name + "' is not a UUID");
  return *u;
}

std::optional<Uuid> StrictJson::maybe_uuid(const json& j, const char* name) const {
  if (!j.contains(name) || j[name].is_null()) return std::nullopt;
  return need_uuid(j, name);
}

}  // namespace mh
