#pragma once
// Base64 and base64url (RFC 4648 §4 and §5), one-shot and streaming.
// Decoding is strict: only alphabet characters, canonical trailing bits, and padding as asked.
// Every failure is Error(Errc::bad_request, "base64: ...").
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/bytes.hpp"

namespace mh {

enum class Alphabet { standard, url };
enum class Padding { required, optional, forbidden };

std::size_t base64_encoded_length(std::size_t n, bool pad = true) noexcept;
std::string base64_encode(ByteView in, Alphabet a = Alphabet::standard, bool pad = true);
Bytes base64_decode(std::string_view in, Alphabet a = Alphabet::standard, Padding p = Padding::required);
// Every character of `s` is one of the alphabet's 64 (no padding, no whitespace). Says nothing of
// the length or the trailing bits: base64_decode decides those.
bool is_base64_text(std::string_view s, Alphabet a) noexcept;

// Streaming encoder: update() may be called with any split of the input; the concatenated
// output equals base64_encode of the concatenated input. Pointer API for hot paths: the caller
// provides room for max_update_output(n) (resp. max_finish_output()) characters.
class Base64Encoder {
 public:
  explicit Base64Encoder(Alphabet a = Alphabet::standard, bool pad = true) noexcept;
  std::size_t max_update_output(std::size_t n) const noexcept { return (carry_len_ + n) / 3 * 4; }
  static constexpr std::size_t max_finish_output() noexcept { return 4; }
  char* update(ByteView in, char* out) noexcept;
  char* finish(char* out) noexcept;
  void update(ByteView in, std::string& out);
  void finish(std::string& out);

 private:
  const std::uint16_t* pairs_;
  const char* alphabet_;
  bool pad_;
  std::uint8_t carry_[3] = {};
  std::size_t carry_len_ = 0;
};

// Streaming decoder; same strictness as base64_decode. Throws on the first bad character.
class Base64Decoder {
 public:
  explicit Base64Decoder(Alphabet a = Alphabet::standard, Padding p = Padding::required) noexcept;
  static constexpr std::size_t max_update_output(std::size_t n) noexcept { return (n + 3) / 4 * 3; }
  static constexpr std::size_t max_finish_output() noexcept { return 3; }
  std::uint8_t* update(std::string_view in, std::uint8_t* out);
  std::uint8_t* finish(std::uint8_t* out);
  void update(std::string_view in, Bytes& out);
  void finish(Bytes& out);

 private:
  std::uint8_t* flush_quantum(std::uint8_t* out, bool final);

  const std::uint32_t* tables_;  // 4 tables of 256, pre-shifted; bit 31 marks "not in alphabet"
  bool url_;
  Padding padding_;
  char quantum_[4] = {};
  std::size_t quantum_len_ = 0;
  bool ended_ = false;  // a padded (final) quantum was seen
};

}  // namespace mh
