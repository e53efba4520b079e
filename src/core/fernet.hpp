#pragma once
// Fernet tokens (https://github.com/fernet/spec): version 0x80 | timestamp | IV |
// AES-128-CBC ciphertext | HMAC-SHA256, base64url with padding. One-shot and streaming forms;
// the streaming encoder's output is byte-identical to fernet_encrypt for the same IV and time.
//
// Time rules follow the spec and Python's `cryptography`: when a TTL is given, a token older than
// ttl seconds is expired and one stamped more than kFernetMaxClockSkew seconds in the future is
// refused; without a TTL the timestamp is not checked. The clock is the caller's `now`.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/bytes.hpp"
#include "core/error.hpp"

namespace mh {

inline constexpr std::int64_t kFernetMaxClockSkew = 60;
using FernetIv = std::array<std::uint8_t, 16>;

class FernetKey {
 public:
  static FernetKey generate();
  static FernetKey from_bytes(ByteView key32);
  // 32 bytes in url-safe base64 with padding (44 characters), as every Fernet library writes it.
  static FernetKey parse(std::string_view text);
  std::string format() const;

  ByteView signing_key() const noexcept { return ByteView(key_.data(), 16); }
  ByteView encryption_key() const noexcept { return ByteView(key_.data() + 16, 16); }

 private:
  Secret<32> key_;
};

// Why a token was refused; each has its own message too.
enum class FernetFailure {
  malformed,    // not base64url
  bad_version,  // first byte is not 0x80
  too_short,    // shorter than header + one block + MAC
  bad_length,   // ciphertext not a whole number of blocks
  bad_mac,
  bad_padding,
  expired,
  from_future,
};

class FernetError : public Error {
 public:
  FernetError(FernetFailure f, const std::string& reason) : Error(Errc::integrity, reason), failure_(f) {}
  FernetFailure failure() const noexcept { return failure_; }

 private:
  FernetFailure failure_;
};

// Exact token length for a plaintext of n bytes (so Content-Length is known before encrypting).
std::size_t fernet_token_length(std::uint64_t plaintext_length) noexcept;

std::string fernet_encrypt(const FernetKey& key, ByteView plaintext, std::int64_t now, const FernetIv& iv);
std::string fernet_encrypt(const FernetKey& key, ByteView plaintext, std::int64_t now);  // random IV

// Throws FernetError.
Bytes fernet_decrypt(const FernetKey& key, std::string_view token, std::int64_t now,
                     std::optional<std::int64_t> ttl = std::nullopt);

// Streaming encoder with constant memory. Pointer API for hot paths: the caller provides room for
// max_update_output(n) resp. max_finish_output() characters.
class FernetEncoder {
 public:
  FernetEncoder(const FernetKey& key, std::int64_t now, const FernetIv& iv);
  FernetEncoder(const FernetKey& key, std::int64_t now);  // random IV
  ~FernetEncoder();
  FernetEncoder(FernetEncoder&&) noexcept;
  FernetEncoder& operator=(FernetEncoder&&) noexcept;

  static constexpr std::size_t max_update_output(std::size_t n) noexcept { return (n + 16 + 25 + 2) / 3 * 4 + 4; }
  // Header (if update was never called), padding block and MAC, plus the base64 carry.
  static constexpr std::size_t max_finish_output() noexcept { return (25 + 16 + 32 + 2) / 3 * 4 + 4; }
  char* update(ByteView plaintext, char* out);
  char* finish(char* out);
  void update(ByteView plaintext, std::string& out);
  void finish(std::string& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Receives plaintext from FernetDecoder. Everything written is provisional until finish()
// returns: the sink must keep it aside (e.g. a temporary file) and let the caller commit it only
// after the MAC check, so a tampered or truncated token never releases anything.
class FernetSink {
 public:
  virtual ~FernetSink() = default;
  virtual void write(ByteView plaintext) = 0;
};

// Streaming decoder with constant memory. update() takes the token in any split; finish()
// checks lengths, the MAC (constant time) and the padding, in that order, and throws FernetError
// on the first failure. Time is checked as soon as the header has arrived.
class FernetDecoder {
 public:
  FernetDecoder(const FernetKey& key, std::int64_t now, std::optional<std::int64_t> ttl, FernetSink& sink);
  ~FernetDecoder();
  FernetDecoder(FernetDecoder&&) noexcept;
  FernetDecoder& operator=(FernetDecoder&&) noexcept;

  void update(std::string_view token_chars);
  void finish();
  std::uint64_t plaintext_bytes() const noexcept;  // released to the sink so far

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mh
