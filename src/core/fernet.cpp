#include "core/fernet.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "core/base64.hpp"
#include "core/hash.hpp"

namespace mh {
namespace {

constexpr std::uint8_t kVersion = 0x80;
constexpr std::size_t kHeader = 1 + 8 + 16;  // version, timestamp, IV
constexpr std::size_t kBlock = 16;
constexpr std::size_t kMac = 32;
constexpr std::size_t kMinRaw = kHeader + kBlock + kMac;
// Work in slices this large: big enough to amortise calls into OpenSSL, small enough for L1/L2.
constexpr std::size_t kSlice = 16 * 1024;

[[noreturn]] void refuse(FernetFailure f) {
  switch (f) {
    case FernetFailure::malformed: throw FernetError(f, "fernet: token is not valid base64url");
    case FernetFailure::bad_version: throw FernetError(f, "fernet: unknown token version");
    case FernetFailure::too_short: throw FernetError(f, "fernet: token too short");
    case FernetFailure::bad_length: throw FernetError(f, "fernet: ciphertext is not a whole number of blocks");
    case FernetFailure::bad_mac: throw FernetError(f, "fernet: token MAC does not verify");
    case FernetFailure::bad_padding: throw FernetError(f, "fernet: bad padding");
    case FernetFailure::expired: throw FernetError(f, "fernet: token expired");
    case FernetFailure::from_future: throw FernetError(f, "fernet: token timestamp is in the future");
  }
  throw FernetError(f, "fernet: invalid token");
}

const EVP_CIPHER* aes128cbc() {
  static EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-128-CBC", nullptr);
  if (c == nullptr) throw Error(Errc::internal, "openssl: AES-128-CBC unavailable");
  return c;
}

struct CipherCtx {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  CipherCtx(const FernetKey& key, const std::uint8_t* iv, bool encrypt, bool padding) {
    if (ctx == nullptr ||
        EVP_CipherInit_ex2(ctx, aes128cbc(), key.encryption_key().data(), iv, encrypt ? 1 : 0, nullptr) != 1 ||
        EVP_CIPHER_CTX_set_padding(ctx, padding ? 1 : 0) != 1) {
      EVP_CIPHER_CTX_free(ctx);
      throw Error(Errc::internal, "openssl: cipher init");
    }
  }
  ~CipherCtx() { EVP_CIPHER_CTX_free(ctx); }
  CipherCtx(const CipherCtx&) = delete;
  CipherCtx& operator=(const CipherCtx&) = delete;
  std::size_t update(const std::uint8_t* in, std::size_t n, std::uint8_t* out) {
    int len = 0;
    if (EVP_CipherUpdate(ctx, out, &len, in, static_cast<int>(n)) != 1)
      throw Error(Errc::internal, "openssl: cipher update");
    return static_cast<std::size_t>(len);
  }
  std::size_t final(std::uint8_t* out) {
    int len = 0;
    if (EVP_CipherFinal_ex(ctx, out, &len) != 1) throw Error(Errc::internal, "openssl: cipher final");
    return static_cast<std::size_t>(len);
  }
};

std::array<std::uint8_t, kHeader> make_header(std::int64_t now, const FernetIv& iv) {
  std::array<std::uint8_t, kHeader> h{};
  h[0] = kVersion;
  const auto ts = static_cast<std::uint64_t>(now);
  for (int i = 0; i < 8; ++i) h[1 + i] = static_cast<std::uint8_t>(ts >> (56 - 8 * i));
  std::copy(iv.begin(), iv.end(), h.begin() + 9);
  return h;
}

std::uint64_t read_timestamp(const std::uint8_t* p) {
  std::uint64_t ts = 0;
  for (int i = 0; i < 8; ++i) ts = ts << 8 | p[1 + i];
  return ts;
}

void check_time(std::uint64_t ts, std::int64_t now, std::optional<std::int64_t> ttl) {
  if (!ttl) return;
  // The timestamp comes from the token: no arithmetic on it may overflow.
  if (ts > static_cast<std::uint64_t>(INT64_MAX)) refuse(FernetFailure::from_future);
  const auto t = static_cast<std::int64_t>(ts);
  std::int64_t expiry = 0;
  if (!__builtin_add_overflow(t, *ttl, &expiry) && expiry < now) refuse(FernetFailure::expired);
  std::int64_t latest = INT64_MAX;
  if (!__builtin_add_overflow(now, kFernetMaxClockSkew, &latest) && latest < t) refuse(FernetFailure::from_future);
}

// The header and MAC must be there, the ciphertext must be whole blocks, and at least one.
void check_lengths(std::uint64_t raw) {
  if (raw < kHeader + kMac) refuse(FernetFailure::too_short);
  if ((raw - kHeader - kMac) % kBlock != 0) refuse(FernetFailure::bad_length);
  if (raw < kMinRaw) refuse(FernetFailure::too_short);
}

FernetIv random_iv() {
  FernetIv iv{};
  random_fill(iv);
  return iv;
}

}  // namespace

// ---- key -------------------------------------------------------------------------------------

FernetKey FernetKey::generate() {
  FernetKey k;
  random_fill(k.key_.span());
  return k;
}

FernetKey FernetKey::from_bytes(ByteView key32) {
  if (key32.size() != 32) throw Error(Errc::bad_request, "fernet: key must be 32 bytes");
  FernetKey k;
  k.key_ = Secret<32>(key32);
  return k;
}

FernetKey FernetKey::parse(std::string_view text) {
  Bytes raw = base64_decode(text, Alphabet::url, Padding::required);
  if (raw.size() != 32) {
    secure_wipe(raw.data(), raw.size());
    throw Error(Errc::bad_request, "fernet: key must be 32 bytes of url-safe base64");
  }
  FernetKey k = from_bytes(raw);
  secure_wipe(raw.data(), raw.size());
  return k;
}

std::string FernetKey::format() const { return base64_encode(key_.view(), Alphabet::url, true); }

// ---- one-shot --------------------------------------------------------------------------------

std::size_t fernet_token_length(std::uint64_t n) noexcept {
  const std::uint64_t raw = kHeader + (n / kBlock + 1) * kBlock + kMac;
  return static_cast<std::size_t>((raw + 2) / 3 * 4);
}

std::string fernet_encrypt(const FernetKey& key, ByteView plaintext, std::int64_t now, const FernetIv& iv) {
  const auto header = make_header(now, iv);
  Bytes raw(kHeader + (plaintext.size() / kBlock + 1) * kBlock + kMac);
  std::copy(header.begin(), header.end(), raw.begin());
  CipherCtx cipher(key, iv.data(), true, true);
  std::size_t n = cipher.update(plaintext.data(), plaintext.size(), raw.data() + kHeader);
  n += cipher.final(raw.data() + kHeader + n);
  const auto mac = hmac_sha256(key.signing_key(), ByteView(raw.data(), kHeader + n));
  std::copy(mac.begin(), mac.end(), raw.begin() + static_cast<std::ptrdiff_t>(kHeader + n));
  return base64_encode(raw, Alphabet::url, true);
}

std::string fernet_encrypt(const FernetKey& key, ByteView plaintext, std::int64_t now) {
  return fernet_encrypt(key, plaintext, now, random_iv());
}

Bytes fernet_decrypt(const FernetKey& key, std::string_view token, std::int64_t now, std::optional<std::int64_t> ttl) {
  Bytes raw;
  try {
    raw = base64_decode(token, Alphabet::url, Padding::required);
  } catch (const Error&) { refuse(FernetFailure::malformed); }
  if (raw.empty() || raw[0] != kVersion) refuse(FernetFailure::bad_version);
  if (raw.size() < kHeader) refuse(FernetFailure::too_short);
  check_time(read_timestamp(raw.data()), now, ttl);
  check_lengths(raw.size());
  const std::size_t ct_len = raw.size() - kHeader - kMac;
  const auto mac = hmac_sha256(key.signing_key(), ByteView(raw.data(), raw.size() - kMac));
  if (!ct_equal(mac, ByteView(raw.data() + raw.size() - kMac, kMac))) refuse(FernetFailure::bad_mac);
  CipherCtx cipher(key, raw.data() + 9, false, false);
  Bytes plain(ct_len);
  cipher.update(raw.data() + kHeader, ct_len, plain.data());
  const std::uint8_t pad = plain.back();
  if (pad == 0 || pad > kBlock) refuse(FernetFailure::bad_padding);
  for (std::size_t i = ct_len - pad; i < ct_len; ++i)
    if (plain[i] != pad) refuse(FernetFailure::bad_padding);
  plain.resize(ct_len - pad);
  return plain;
}

// ---- streaming encoder -----------------------------------------------------------------------

struct FernetEncoder::Impl {
  CipherCtx cipher;
  HmacSha256 mac;
  Base64Encoder b64{Alphabet::url, true};
  std::array<std::uint8_t, kHeader> header;
  bool header_sent = false;
  std::uint8_t work[kSlice + kBlock];

  Impl(const FernetKey& key, std::int64_t now, const FernetIv& iv)
      : cipher(key, iv.data(), true, true), mac(key.signing_key()), header(make_header(now, iv)) {}

  char* emit(const std::uint8_t* p, std::size_t n, char* out) {
    mac.update(ByteView(p, n));
    return b64.update(ByteView(p, n), out);
  }
  char* ensure_header(char* out) {
    if (!header_sent) {
      header_sent = true;
      out = emit(header.data(), header.size(), out);
    }
    return out;
  }
};

FernetEncoder::FernetEncoder(const FernetKey& key, std::int64_t now, const FernetIv& iv)
    : impl_(std::make_unique<Impl>(key, now, iv)) {}
FernetEncoder::FernetEncoder(const FernetKey& key, std::int64_t now) : FernetEncoder(key, now, random_iv()) {}
FernetEncoder::~FernetEncoder() = default;
FernetEncoder::FernetEncoder(FernetEncoder&&) noexcept = default;
FernetEncoder& FernetEncoder::operator=(FernetEncoder&&) noexcept = default;

char* FernetEncoder::update(ByteView plaintext, char* out) {
  Impl& s = *impl_;
  out = s.ensure_header(out);
  for (std::size_t off = 0; off < plaintext.size(); off += kSlice) {
    const std::size_t n = std::min(kSlice, plaintext.size() - off);
    const std::size_t c = s.cipher.update(plaintext.data() + off, n, s.work);
    out = s.emit(s.work, c, out);
  }
  return out;
}

char* FernetEncoder::finish(char* out) {
  Impl& s = *impl_;
  out = s.ensure_header(out);
  const std::size_t c = s.cipher.final(s.work);
  out = s.emit(s.work, c, out);
  const auto tag = s.mac.finish();
  out = s.b64.update(tag, out);
  return s.b64.finish(out);
}

void FernetEncoder::update(ByteView plaintext, std::string& out) {
  const std::size_t old = out.size();
  out.resize(old + max_update_output(plaintext.size()));
  char* end = update(plaintext, out.data() + old);
  out.resize(static_cast<std::size_t>(end - out.data()));
}

void FernetEncoder::finish(std::string& out) {
  const std::size_t old = out.size();
  out.resize(old + max_finish_output());
  char* end = finish(out.data() + old);
  out.resize(static_cast<std::size_t>(end - out.data()));
}

// ---- streaming decoder -----------------------------------------------------------------------

struct FernetDecoder::Impl {
  FernetKey key;
  std::int64_t now;
  std::optional<std::int64_t> ttl;
  FernetSink& sink;
  Base64Decoder b64{Alphabet::url, Padding::required};
  HmacSha256 mac;
  std::optional<CipherCtx> cipher;
  // Decoded bytes not yet processed. After the header, the last kMac + kBlock bytes stay here
  // until finish(): they may be the MAC and the padded block.
  Bytes pending;
  std::uint64_t raw_total = 0;
  std::uint64_t released = 0;
  Bytes decoded;
  Bytes plain;

  Impl(const FernetKey& k, std::int64_t n, std::optional<std::int64_t> t, FernetSink& s)
      : key(k), now(n), ttl(t), sink(s), mac(k.signing_key()) {}

  void take(const std::uint8_t* p, std::size_t n) {
    raw_total += n;
    pending.insert(pending.end(), p, p + n);
    if (!cipher) {
      if (!pending.empty() && pending[0] != kVersion) refuse(FernetFailure::bad_version);
      if (pending.size() < kHeader) return;
      check_time(read_timestamp(pending.data()), now, ttl);
      cipher.emplace(key, pending.data() + 9, false, false);
      mac.update(ByteView(pending.data(), kHeader));
      pending.erase(pending.begin(), pending.begin() + kHeader);
    }
    if (pending.size() <= kMac + kBlock) return;
    const std::size_t ready = (pending.size() - kMac - kBlock) / kBlock * kBlock;
    if (ready == 0) return;
    mac.update(ByteView(pending.data(), ready));
    plain.resize(ready);
    const std::size_t out = cipher->update(pending.data(), ready, plain.data());
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(ready));
    released += out;
    sink.write(ByteView(plain.data(), out));
  }
};

FernetDecoder::FernetDecoder(const FernetKey& key, std::int64_t now, std::optional<std::int64_t> ttl, FernetSink& sink)
    : impl_(std::make_unique<Impl>(key, now, ttl, sink)) {}
FernetDecoder::~FernetDecoder() = default;
FernetDecoder::FernetDecoder(FernetDecoder&&) noexcept = default;
FernetDecoder& FernetDecoder::operator=(FernetDecoder&&) noexcept = default;

void FernetDecoder::update(std::string_view token_chars) {
  Impl& s = *impl_;
  for (std::size_t off = 0; off < token_chars.size(); off += kSlice) {
    const std::string_view part = token_chars.substr(off, kSlice);
    s.decoded.resize(Base64Decoder::max_update_output(part.size()));
    std::uint8_t* end;
    try {
      end = s.b64.update(part, s.decoded.data());
    } catch (const Error&) { refuse(FernetFailure::malformed); }
    s.take(s.decoded.data(), static_cast<std::size_t>(end - s.decoded.data()));
  }
}

void FernetDecoder::finish() {
  Impl& s = *impl_;
  std::uint8_t tail[Base64Decoder::max_finish_output()];
  std::uint8_t* end;
  try {
    end = s.b64.finish(tail);
  } catch (const Error&) { refuse(FernetFailure::malformed); }
  s.take(tail, static_cast<std::size_t>(end - tail));
  if (s.raw_total == 0) refuse(FernetFailure::bad_version);
  check_lengths(s.raw_total);
  // pending = last ciphertext block(s) || MAC
  const std::size_t ct = s.pending.size() - kMac;
  s.mac.update(ByteView(s.pending.data(), ct));
  const auto tag = s.mac.finish();
  if (!ct_equal(tag, ByteView(s.pending.data() + ct, kMac))) refuse(FernetFailure::bad_mac);
  std::uint8_t last[2 * kBlock];
  const std::size_t n = s.cipher->update(s.pending.data(), ct, last);
  const std::uint8_t pad = last[n - 1];
  if (pad == 0 || pad > kBlock) refuse(FernetFailure::bad_padding);
  for (std::size_t i = n - pad; i < n; ++i)
    if (last[i] != pad) refuse(FernetFailure::bad_padding);
  s.released += n - pad;
  s.sink.write(ByteView(last, n - pad));
  secure_wipe(last, sizeof last);
}

std::uint64_t FernetDecoder::plaintext_bytes() const noexcept { return impl_->released; }

}  // namespace mh
