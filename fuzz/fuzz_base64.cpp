// base64 / base64url (core/base64.hpp), both alphabets and all three padding modes:
//  * base64_decode against an independent, deliberately simple reference decoder of the same
//    strict rules (alphabet only, '=' only at the end and only as asked, canonical trailing bits):
//    same accept/refuse and the same bytes; every refusal is Errc::bad_request.
//  * Base64Decoder fed the input in input-derived pieces (pointer API into exact-size buffers, so
//    ASan sees any write past max_update_output/max_finish_output, and the Bytes API) agrees.
//  * encode -> decode round trip of the input as arbitrary bytes, in every padding mode, and
//    Base64Encoder with splits (pointer and string API) equals base64_encode.
#include <cstring>
#include <memory>
#include <optional>

#include "core/base64.hpp"
#include "fuzz_common.hpp"

namespace {

using namespace mh;
using mh::fuzz::Rng;

int ref_value(char c, Alphabet a) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == (a == Alphabet::url ? '-' : '+')) return 62;
  if (c == (a == Alphabet::url ? '_' : '/')) return 63;
  return -1;
}

// RFC 4648 decoding, strict, one bit at a time: nothing shared with the code under test.
std::optional<Bytes> reference_decode(std::string_view in, Alphabet a, Padding p) {
  std::size_t pads = 0;
  while (pads < in.size() && in[in.size() - 1 - pads] == '=') ++pads;
  const std::string_view body = in.substr(0, in.size() - pads);
  if (pads > 2) return std::nullopt;
  if (pads > 0) {
    if (p == Padding::forbidden) return std::nullopt;
    if (in.size() % 4 != 0) return std::nullopt;
  } else {
    if (body.size() % 4 == 1) return std::nullopt;
    if (body.size() % 4 != 0 && p == Padding::required) return std::nullopt;
  }
  if (pads > 0 && body.size() % 4 + pads != 4) return std::nullopt;
  Bytes out;
  std::uint32_t acc = 0;  // the low nbits bits are pending, the oldest first
  int nbits = 0;
  for (char c : body) {
    const int v = ref_value(c, a);
    if (v < 0) return std::nullopt;  // includes a '=' before the end
    acc = acc << 6 | static_cast<std::uint32_t>(v);
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      out.push_back(static_cast<std::uint8_t>(acc >> nbits & 0xff));
    }
  }
  if ((acc & ((1u << nbits) - 1)) != 0) return std::nullopt;  // non-canonical trailing bits
  return out;
}

// Streaming decode through the pointer API, each piece into a buffer of exactly the advertised size.
std::optional<Bytes> stream_decode_ptr(std::string_view in, Alphabet a, Padding p, Rng& rng) {
  Base64Decoder dec(a, p);
  Bytes out;
  std::size_t off = 0;
  try {
    for (std::size_t n : rng.splits(in.size())) {
      const std::size_t room = Base64Decoder::max_update_output(n);
      auto buf = std::make_unique<std::uint8_t[]>(room ? room : 1);
      std::uint8_t* end = dec.update(in.substr(off, n), buf.get());
      MH_FUZZ_CHECK(end >= buf.get() && static_cast<std::size_t>(end - buf.get()) <= room);
      out.insert(out.end(), buf.get(), end);
      off += n;
    }
    auto tail = std::make_unique<std::uint8_t[]>(Base64Decoder::max_finish_output());
    std::uint8_t* end = dec.finish(tail.get());
    MH_FUZZ_CHECK(static_cast<std::size_t>(end - tail.get()) <= Base64Decoder::max_finish_output());
    out.insert(out.end(), tail.get(), end);
  } catch (const Error& e) {
    MH_FUZZ_CHECK(e.code() == Errc::bad_request);
    return std::nullopt;
  }
  return out;
}

std::optional<Bytes> stream_decode_bytes(std::string_view in, Alphabet a, Padding p, Rng& rng) {
  Base64Decoder dec(a, p);
  Bytes out;
  std::size_t off = 0;
  try {
    for (std::size_t n : rng.splits(in.size())) {
      dec.update(in.substr(off, n), out);
      off += n;
    }
    dec.finish(out);
  } catch (const Error& e) {
    MH_FUZZ_CHECK(e.code() == Errc::bad_request);
    return std::nullopt;
  }
  return out;
}

std::optional<Bytes> oneshot_decode(std::string_view in, Alphabet a, Padding p) {
  try {
    return base64_decode(in, a, p);
  } catch (const Error& e) {
    MH_FUZZ_CHECK(e.code() == Errc::bad_request);
    MH_FUZZ_CHECK(std::string_view(e.what()).starts_with("base64: "));
    return std::nullopt;
  }
}

std::string stream_encode_ptr(ByteView in, Alphabet a, bool pad, Rng& rng) {
  Base64Encoder enc(a, pad);
  std::string out;
  std::size_t off = 0;
  for (std::size_t n : rng.splits(in.size())) {
    const std::size_t room = enc.max_update_output(n);
    auto buf = std::make_unique<char[]>(room ? room : 1);
    char* end = enc.update(in.subspan(off, n), buf.get());
    MH_FUZZ_CHECK(end >= buf.get() && static_cast<std::size_t>(end - buf.get()) <= room);
    out.append(buf.get(), end);
    off += n;
  }
  auto tail = std::make_unique<char[]>(Base64Encoder::max_finish_output());
  char* end = enc.finish(tail.get());
  MH_FUZZ_CHECK(static_cast<std::size_t>(end - tail.get()) <= Base64Encoder::max_finish_output());
  out.append(tail.get(), end);
  return out;
}

std::string stream_encode_string(ByteView in, Alphabet a, bool pad, Rng& rng) {
  Base64Encoder enc(a, pad);
  std::string out;
  std::size_t off = 0;
  for (std::size_t n : rng.splits(in.size())) {
    enc.update(in.subspan(off, n), out);
    off += n;
  }
  enc.finish(out);
  return out;
}

void run(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = fuzz::text(data, size);
  const ByteView bytes(data, size);
  Rng rng(data, size);

  for (Alphabet a : {Alphabet::standard, Alphabet::url}) {
    // Decoding the input as base64 text.
    for (Padding p : {Padding::required, Padding::optional, Padding::forbidden}) {
      const std::optional<Bytes> want = reference_decode(in, a, p);
      const std::optional<Bytes> got = oneshot_decode(in, a, p);
      MH_FUZZ_CHECK(got == want);
      // One streaming API per mode and run (refusals throw, and exceptions are slow under ASan).
      MH_FUZZ_CHECK((rng.coin() ? stream_decode_ptr(in, a, p, rng) : stream_decode_bytes(in, a, p, rng)) == want);
      if (want) {
        // Strict decoding means one encoding per byte string: re-encoding gives the input back
        // (padded or not, as the input was).
        const bool padded = p == Padding::required || in.find('=') != std::string_view::npos;
        MH_FUZZ_CHECK(base64_encode(*want, a, padded) == in);
      }
    }

    // Encoding the input as arbitrary bytes, then decoding it back.
    for (bool pad : {true, false}) {
      if (rng.range(0, 3) != 0) continue;  // each alphabet/padding pair in about one run in four
      const std::string enc = base64_encode(bytes, a, pad);
      MH_FUZZ_CHECK(enc.size() == base64_encoded_length(size, pad));
      MH_FUZZ_CHECK(stream_encode_ptr(bytes, a, pad, rng) == enc);
      MH_FUZZ_CHECK(stream_encode_string(bytes, a, pad, rng) == enc);
      const bool has_pad_chars = pad && size % 3 != 0;
      for (Padding p : {Padding::required, Padding::optional, Padding::forbidden}) {
        const bool should_accept = p == Padding::optional || (p == Padding::required && (pad || size % 3 == 0)) ||
                                   (p == Padding::forbidden && !has_pad_chars);
        const std::optional<Bytes> back = oneshot_decode(enc, a, p);
        MH_FUZZ_CHECK(back.has_value() == should_accept);
        if (back) MH_FUZZ_CHECK(*back == Bytes(bytes.begin(), bytes.end()));
        MH_FUZZ_CHECK(stream_decode_ptr(enc, a, p, rng) == back);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return mh::fuzz::guarded([&] { run(data, size); });
}
