#include "core/base64.hpp"

#include <array>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define MH_BASE64_AVX2 1
#endif

#include "core/error.hpp"

namespace mh {
namespace {

constexpr char kStd[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::uint32_t kInvalid = 0x80000000u;

// Encoding table: 12 input bits -> two output characters, stored in memory order.
struct PairTable {
  std::array<std::uint16_t, 4096> v{};
  explicit PairTable(const char* alpha) {
    for (unsigned i = 0; i < 4096; ++i) {
      const char two[2] = {alpha[i >> 6], alpha[i & 63]};
      std::memcpy(&v[i], two, 2);
    }
  }
};

// Decoding tables: table k maps a character in position k of a quantum to its 6 bits already
// shifted into place, so a quantum decodes with four loads and three ORs.
struct DecodeTables {
  std::array<std::uint32_t, 4 * 256> v{};
  explicit DecodeTables(const char* alpha) {
    v.fill(kInvalid);
    for (unsigned i = 0; i < 64; ++i) {
      const auto c = static_cast<unsigned char>(alpha[i]);
      for (unsigned k = 0; k < 4; ++k) v[k * 256 + c] = i << (18 - 6 * k);
    }
  }
};

const PairTable& pairs(Alphabet a) {
  static const PairTable s(kStd), u(kUrl);
  return a == Alphabet::url ? u : s;
}
const DecodeTables& decode_tables(Alphabet a) {
  static const DecodeTables s(kStd), u(kUrl);
  return a == Alphabet::url ? u : s;
}

[[noreturn]] void fail(const char* why) { throw Error(Errc::bad_request, std::string("base64: ") + why); }

inline char* encode_triple(const std::uint16_t* pairs, const std::uint8_t* in, char* out) noexcept {
  const std::uint32_t v = std::uint32_t{in[0]} << 16 | std::uint32_t{in[1]} << 8 | in[2];
  std::memcpy(out, &pairs[v >> 12], 2);
  std::memcpy(out + 2, &pairs[v & 0xfff], 2);
  return out + 4;
}

#ifdef MH_BASE64_AVX2
// AVX2 encoding of 24 input bytes into 32 characters per step (the method of Muła and Lemire,
// "Faster Base64 Encoding and Decoding Using AVX2 Instructions", 2018): spread each 3-byte group
// over a 32-bit word, cut out the four 6-bit indices with two multiplies, then map indices to
// characters by adding a per-range offset looked up with a byte shuffle. Base64 is not a
// cryptographic primitive; at the server's Fernet speeds it would otherwise cost a third of the time.
__attribute__((target("avx2"))) std::size_t encode_avx2(const std::uint8_t* in, std::size_t n, char* out, bool url) {
  const __m256i spread = _mm256_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10,  //
                                          1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
  const std::int8_t c62 = url ? '-' - 62 : '+' - 62, c63 = url ? '_' - 63 : '/' - 63;
  // Offsets: [0] 'A'.. for 0-25, [1] 'a'.. for 26-51, [2..11] '0'.. for 52-61, [12] 62, [13] 63.
  const __m256i offsets = _mm256_setr_epi8(65, 71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, c62, c63, 0, 0,  //
                                           65, 71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, c62, c63, 0, 0);
  std::size_t done = 0;
  // Each step reads 28 bytes (two 16-byte loads 12 bytes apart) and consumes 24.
  for (; n - done >= 28; done += 24, out += 32) {
    const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + done));
    const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + done + 12));
    const __m256i v = _mm256_shuffle_epi8(_mm256_set_m128i(hi, lo), spread);
    const __m256i t0 =
        _mm256_mulhi_epu16(_mm256_and_si256(v, _mm256_set1_epi32(0x0fc0fc00)), _mm256_set1_epi32(0x04000040));
    const __m256i t1 =
        _mm256_mullo_epi16(_mm256_and_si256(v, _mm256_set1_epi32(0x003f03f0)), _mm256_set1_epi32(0x01000010));
    const __m256i idx = _mm256_or_si256(t0, t1);
    __m256i sel = _mm256_subs_epu8(idx, _mm256_set1_epi8(51));
    sel = _mm256_sub_epi8(sel, _mm256_cmpgt_epi8(idx, _mm256_set1_epi8(25)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_add_epi8(idx, _mm256_shuffle_epi8(offsets, sel)));
  }
  return done;
}

// AVX2 decoding of 32 characters into 24 bytes per step (the same paper): map each character to
// its 6-bit value by range (A-Z, a-z, 0-9 and the two alphabet-specific ones), then join four
// values into three bytes with two multiply-adds and a byte shuffle. A step whose 32 characters are
// not all in the alphabet ('=' included) is left to the scalar path, which reports the error
// exactly as before. Returns the characters consumed (a multiple of 32).
__attribute__((target("avx2"))) inline __m256i set(int v) { return _mm256_set1_epi8(static_cast<char>(v)); }
// Signed compares: bytes >= 0x80 are never in range.
__attribute__((target("avx2"))) inline __m256i in_range(__m256i c, int lo, int hi) {
  return _mm256_and_si256(_mm256_cmpgt_epi8(c, set(lo - 1)), _mm256_cmpgt_epi8(set(hi + 1), c));
}

__attribute__((target("avx2"))) std::size_t decode_avx2(const unsigned char* in, std::size_t n, std::uint8_t* out,
                                                        bool url) {
  const int c62 = url ? '-' : '+', c63 = url ? '_' : '/';
  const __m256i pack = _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,  //
                                        2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7);
  std::size_t done = 0;
  for (; n - done >= 32; done += 32, out += 24) {
    const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + done));
    const __m256i upper = in_range(c, 'A', 'Z'), lower = in_range(c, 'a', 'z'), digit = in_range(c, '0', '9');
    const __m256i is62 = _mm256_cmpeq_epi8(c, set(c62)), is63 = _mm256_cmpeq_epi8(c, set(c63));
    const __m256i valid =
        _mm256_or_si256(_mm256_or_si256(upper, lower), _mm256_or_si256(digit, _mm256_or_si256(is62, is63)));
    if (_mm256_movemask_epi8(valid) != -1) break;
    __m256i offset = _mm256_and_si256(upper, set(-'A'));
    offset = _mm256_or_si256(offset, _mm256_and_si256(lower, set(26 - 'a')));
    offset = _mm256_or_si256(offset, _mm256_and_si256(digit, set(52 - '0')));
    offset = _mm256_or_si256(offset, _mm256_and_si256(is62, set(62 - c62)));
    offset = _mm256_or_si256(offset, _mm256_and_si256(is63, set(63 - c63)));
    const __m256i v = _mm256_add_epi8(c, offset);
    const __m256i pairs = _mm256_maddubs_epi16(v, _mm256_set1_epi32(0x01400140));   // (a << 6) | b
    const __m256i quads = _mm256_madd_epi16(pairs, _mm256_set1_epi32(0x00011000));  // (ab << 12) | cd
    const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(quads, pack), lanes);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm256_castsi256_si128(bytes));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out + 16), _mm256_extracti128_si256(bytes, 1));
  }
  return done;
}

const bool kHaveAvx2 = __builtin_cpu_supports("avx2");
#endif

}  // namespace

std::size_t base64_encoded_length(std::size_t n, bool pad) noexcept {
  return pad ? (n + 2) / 3 * 4 : n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

std::string base64_encode(ByteView in, Alphabet a, bool pad) {
  std::string out(base64_encoded_length(in.size(), pad), '\0');
  Base64Encoder enc(a, pad);
  char* end = enc.update(in, out.data());
  enc.finish(end);
  return out;
}

Bytes base64_decode(std::string_view in, Alphabet a, Padding p) {
  Bytes out(Base64Decoder::max_update_output(in.size()) + Base64Decoder::max_finish_output());
  Base64Decoder dec(a, p);
  std::uint8_t* end = dec.update(in, out.data());
  end = dec.finish(end);
  out.resize(static_cast<std::size_t>(end - out.data()));
  return out;
}

// ---- encoder ---------------------------------------------------------------------------------

Base64Encoder::Base64Encoder(Alphabet a, bool pad) noexcept
    : pairs_(pairs(a).v.data()), alphabet_(a == Alphabet::url ? kUrl : kStd), pad_(pad) {}

char* Base64Encoder::update(ByteView in, char* out) noexcept {
  const std::uint8_t* p = in.data();
  std::size_t n = in.size();
  // Complete a triple left over from the previous call first.
  while (carry_len_ > 0 && carry_len_ < 3 && n > 0) carry_[carry_len_++] = *p++, --n;
  if (carry_len_ == 3) {
    out = encode_triple(pairs_, carry_, out);
    carry_len_ = 0;
  }
  if (carry_len_ > 0) return out;
#ifdef MH_BASE64_AVX2
  if (kHaveAvx2 && n >= 28) {
    const std::size_t done = encode_avx2(p, n, out, alphabet_ == kUrl);
    p += done, n -= done, out += done / 3 * 4;
  }
#endif
  for (; n >= 3; p += 3, n -= 3) out = encode_triple(pairs_, p, out);
  for (std::size_t i = 0; i < n; ++i) carry_[carry_len_++] = p[i];
  return out;
}

char* Base64Encoder::finish(char* out) noexcept {
  if (carry_len_ == 1) {
    *out++ = alphabet_[carry_[0] >> 2];
    *out++ = alphabet_[(carry_[0] & 0x03) << 4];
    if (pad_) *out++ = '=', *out++ = '=';
  } else if (carry_len_ == 2) {
    *out++ = alphabet_[carry_[0] >> 2];
    *out++ = alphabet_[(carry_[0] & 0x03) << 4 | carry_[1] >> 4];
    *out++ = alphabet_[(carry_[1] & 0x0f) << 2];
    if (pad_) *out++ = '=';
  }
  carry_len_ = 0;
  return out;
}

void Base64Encoder::update(ByteView in, std::string& out) {
  const std::size_t old = out.size();
  out.resize(old + max_update_output(in.size()));
  char* end = update(in, out.data() + old);
  out.resize(static_cast<std::size_t>(end - out.data()));
}

void Base64Encoder::finish(std::string& out) {
  const std::size_t old = out.size();
  out.resize(old + max_finish_output());
  char* end = finish(out.data() + old);
  out.resize(static_cast<std::size_t>(end - out.data()));
}

// ---- decoder ---------------------------------------------------------------------------------

Base64Decoder::Base64Decoder(Alphabet a, Padding p) noexcept
    : tables_(decode_tables(a).v.data()), url_(a == Alphabet::url), padding_(p) {}

std::uint8_t* Base64Decoder::update(std::string_view in, std::uint8_t* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  std::size_t n = in.size();
  while (n > 0) {
    if (ended_) fail("data after padding");
    if (quantum_len_ == 0) {
      // Fast path: whole quanta straight from the input.
#ifdef MH_BASE64_AVX2
      if (kHaveAvx2 && n >= 32) {
        const std::size_t done = decode_avx2(p, n, out, url_);
        p += done, n -= done, out += done / 4 * 3;
      }
#endif
      while (n >= 4) {
        const std::uint32_t v = tables_[p[0]] | tables_[256 + p[1]] | tables_[512 + p[2]] | tables_[768 + p[3]];
        if (v & kInvalid) break;  // padding or a bad character: take the careful path
        out[0] = static_cast<std::uint8_t>(v >> 16);
        out[1] = static_cast<std::uint8_t>(v >> 8);
        out[2] = static_cast<std::uint8_t>(v);
        out += 3, p += 4, n -= 4;
      }
      if (n == 0) break;
    }
    if (*p != '=' && (tables_[*p] & kInvalid)) fail("invalid character");
    quantum_[quantum_len_++] = static_cast<char>(*p++);
    --n;
    if (quantum_len_ == 4) out = flush_quantum(out, false);
  }
  return out;
}

std::uint8_t* Base64Decoder::flush_quantum(std::uint8_t* out, bool final) {
  // Count characters before any '=' and validate both parts.
  std::size_t data = 0;
  while (data < quantum_len_ && quantum_[data] != '=') ++data;
  for (std::size_t i = data; i < quantum_len_; ++i)
    if (quantum_[i] != '=') fail("data after padding");
  const std::size_t pads = quantum_len_ - data;
  if (pads > 0 && padding_ == Padding::forbidden) fail("unexpected padding");
  if (pads > 0 && quantum_len_ != 4) fail("incomplete padding");
  if (pads == 0 && quantum_len_ < 4) {
    if (!final) return out;
    if (padding_ == Padding::required) fail("missing padding");
  }
  if (data < 2 && (pads > 0 || quantum_len_ > 0)) fail("truncated input");
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < data; ++i) {
    const std::uint32_t t = tables_[i * 256 + static_cast<unsigned char>(quantum_[i])];
    if (t & kInvalid) fail("invalid character");
    v |= t;
  }
  const std::size_t bytes = data == 4 ? 3 : data - 1;
  // Canonical encodings only: the bits below the last output byte must be zero.
  if (bytes < 3 && (v & (0xffffffu >> (8 * bytes))) != 0) fail("non-canonical trailing bits");
  for (std::size_t i = 0; i < bytes; ++i) *out++ = static_cast<std::uint8_t>(v >> (16 - 8 * i));
  if (bytes < 3) ended_ = true;
  quantum_len_ = 0;
  return out;
}

std::uint8_t* Base64Decoder::finish(std::uint8_t* out) {
  if (quantum_len_ > 0) out = flush_quantum(out, true);
  return out;
}

void Base64Decoder::update(std::string_view in, Bytes& out) {
  const std::size_t old = out.size();
  out.resize(old + max_update_output(in.size()));
  std::uint8_t* end = update(in, out.data() + old);
  out.resize(static_cast<std::size_t>(end - out.data()));
}

void Base64Decoder::finish(Bytes& out) {
  const std::size_t old = out.size();
  out.resize(old + max_finish_output());
  std::uint8_t* end = finish(out.data() + old);
  out.resize(static_cast<std::size_t>(end - out.data()));
}

bool is_base64_text(std::string_view s, Alphabet a) noexcept {
  return s.find_first_not_of(a == Alphabet::url ? kUrl : kStd) == std::string_view::npos;
}

}  // namespace mh
