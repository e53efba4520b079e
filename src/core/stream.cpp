#include "core/stream.hpp"

#include <algorithm>
#include <cstring>

namespace mh::stream {
namespace {

constexpr std::uint64_t kBlock = 16;  // AES: a token's length fixes its plaintext to within a block

std::string num(std::uint64_t v) { return std::to_string(v); }

void check_chunk_size(std::uint64_t c) {
  if (!valid_chunk_size(c))
    throw Error(Errc::bad_request, "stream: chunk size " + num(c) + " is not a power of two from " +
                                       num(kMinChunkSize) + " to " + num(kMaxChunkSize));
}

void check_size(std::uint64_t size) {
  if (size > kMaxSize)
    throw Error(Errc::bad_request, "stream: a representation of " + num(size) + " bytes is too large");
}

// j with r == L(16·j), if there is one. L(16·j) = 4·ceil((73 + 16·j) / 3), so the raw token
// (73 + 16·j bytes) is one of the three lengths that r / 4 base64 quanta can hold.
std::optional<std::uint64_t> token_blocks(std::uint64_t r) noexcept {
  if (r % 4 != 0 || r < token_length(0)) return std::nullopt;
  const std::uint64_t quanta = r / 4;
  for (std::uint64_t raw = 3 * quanta - 2; raw <= 3 * quanta; ++raw)
    if (raw >= 73 && (raw - 73) % kBlock == 0) return (raw - 73) / kBlock;
  return std::nullopt;
}

[[noreturn]] void continues_after_last() { throw Error(Errc::integrity, "the stream continues after its last chunk"); }

}  // namespace

bool valid_chunk_size(std::uint64_t c) noexcept {
  return c >= kMinChunkSize && c <= kMaxChunkSize && (c & (c - 1)) == 0;
}

std::uint64_t token_length(std::uint64_t plaintext_size) noexcept { return fernet_token_length(plaintext_size); }

bool is_token_length(std::uint64_t r) noexcept { return token_blocks(r).has_value(); }

// ---- layout ----------------------------------------------------------------------------------

Layout Layout::whole(std::uint64_t size, std::uint32_t chunk_size) {
  check_chunk_size(chunk_size);
  check_size(size);
  const Layout all(size, chunk_size, 0, 0);
  return Layout(size, chunk_size, 0, all.chunk_count() - 1);
}

Layout Layout::covering(std::uint64_t size, std::uint32_t chunk_size, std::uint64_t first_byte,
                        std::uint64_t last_byte) {
  check_chunk_size(chunk_size);
  check_size(size);
  if (first_byte > last_byte || last_byte >= size)
    throw Error(Errc::internal, "stream: bytes " + num(first_byte) + "-" + num(last_byte) +
                                    " are not within a representation of " + num(size) + " bytes");
  return Layout(size, chunk_size, first_byte / chunk_size, last_byte / chunk_size);
}

Layout Layout::chunks(std::uint64_t size, std::uint32_t chunk_size, std::uint64_t first, std::uint64_t last) {
  check_chunk_size(chunk_size);
  check_size(size);
  const Layout l(size, chunk_size, first, last);
  if (first > last || last >= l.chunk_count())
    throw Error(Errc::bad_request, "stream: chunks " + num(first) + ".." + num(last) +
                                       " are not chunks of a representation of " + num(size) + " bytes");
  return l;
}

std::uint64_t Layout::chunk_count() const noexcept { return size_ == 0 ? 1 : (size_ - 1) / chunk_size_ + 1; }

std::uint64_t Layout::plaintext_size(std::uint64_t i) const noexcept {
  const std::uint64_t m = chunk_count();
  if (i >= m) return 0;
  return i + 1 < m ? chunk_size_ : size_ - (m - 1) * chunk_size_;
}

std::uint64_t Layout::stream_length() const noexcept {
  // All chunks but the representation's final one hold C bytes (§6.2).
  const bool has_final = last_ + 1 == chunk_count();
  const std::uint64_t full = count() - (has_final ? 1 : 0);
  return full * stream::token_length(chunk_size_) + (has_final ? token_length(last_) : 0);
}

std::uint64_t Layout::byte_count() const noexcept { return std::min(offset(last_ + 1), size_) - first_byte(); }

std::uint64_t Layout::last_byte() const {
  const std::uint64_t n = byte_count();
  if (n == 0) throw Error(Errc::internal, "stream: an empty representation has no last byte");
  return first_byte() + n - 1;
}

UnknownSizeSplit split_stream_length(std::uint64_t total_length, std::uint32_t chunk_size) {
  check_chunk_size(chunk_size);
  const std::uint64_t full = token_length(chunk_size);
  // Every token is at least L(0) characters, so no stream is empty; m = ceil(T / L(C)).
  const std::uint64_t m = total_length == 0 ? 0 : (total_length - 1) / full + 1;
  const std::uint64_t r = m == 0 ? 0 : total_length - (m - 1) * full;
  const std::optional<std::uint64_t> j = token_blocks(r);
  if (!j)
    throw Error(Errc::bad_request,
                "stream: length " + num(total_length) + " is not a stream of chunk size " + num(chunk_size));
  UnknownSizeSplit s;
  s.chunk_size = chunk_size;
  s.tokens = m;
  s.final_token_length = r;
  s.final_min_size = std::max<std::uint64_t>(*j * kBlock, m > 1 ? 1 : 0);
  s.final_max_size = std::min<std::uint64_t>(*j * kBlock + kBlock - 1, chunk_size);  // r <= L(C)
  s.max_plaintext = (m - 1) * chunk_size + s.final_max_size;
  return s;
}

// ---- one chunk -------------------------------------------------------------------------------

std::string seal_chunk(const ChunkKeys& keys, std::uint64_t i, ByteView plaintext, std::int64_t now) {
  std::string out(token_length(plaintext.size()), '\0');
  seal_chunk_into(keys, i, plaintext, now, out.data());
  return out;
}

void seal_chunk_into(const ChunkKeys& keys, std::uint64_t i, ByteView plaintext, std::int64_t now, char* out) {
  // FernetEncoder encrypts, MACs and encodes slice by slice straight into `out`. update() needs
  // room for max_update_output(n) < L(n) characters, which `out` has; finish() needs a little more
  // room than what is left, so its few characters go through the stack.
  FernetEncoder enc(keys.key(i), now);
  char* end = enc.update(plaintext, out);
  char tail[FernetEncoder::max_finish_output()];
  const auto tail_len = static_cast<std::size_t>(enc.finish(tail) - tail);
  if (static_cast<std::uint64_t>(end - out) + tail_len != token_length(plaintext.size()))
    throw Error(Errc::internal, "stream: token length differs from L(n)");
  std::memcpy(end, tail, tail_len);
}

Bytes open_chunk(const ChunkKeys& keys, const Token& token) {
  Bytes plain;
  try {
    // No TTL: v2 tokens are never checked for age (§1), so the clock does not matter.
    plain = fernet_decrypt(keys.key(token.index), token.text, 0, std::nullopt);
  } catch (const FernetError&) {
    throw Error(Errc::integrity, "chunk " + num(token.index) +
                                     " does not verify (tampered, reordered, duplicated, or from another response)");
  }
  if (plain.size() < token.min_size || plain.size() > token.max_size) {
    const std::string expected =
        token.min_size == token.max_size ? num(token.min_size) : num(token.min_size) + " to " + num(token.max_size);
    throw Error(Errc::integrity,
                "chunk " + num(token.index) + " holds " + num(plain.size()) + " bytes, expected " + expected);
  }
  return plain;
}

Bytes open_chunk(const ChunkKeys& keys, std::uint64_t i, std::string_view token, std::uint64_t expected_size) {
  return open_chunk(keys, Token{i, token, expected_size, expected_size});
}

// ---- token splitter --------------------------------------------------------------------------

TokenSplitter::TokenSplitter(const Layout& layout)
    : first_(layout.first_chunk()),
      last_(layout.last_chunk()),
      final_(layout.chunk_count() - 1),
      full_size_(layout.chunk_size()),
      final_min_(layout.plaintext_size(final_)),
      final_max_(final_min_),
      full_token_(token_length(layout.chunk_size())),
      final_token_(layout.token_length(final_)),
      total_(layout.stream_length()),
      next_(first_) {}

TokenSplitter::TokenSplitter(const UnknownSizeSplit& split)
    : first_(0),
      last_(split.tokens - 1),
      final_(last_),
      full_size_(split.chunk_size),
      final_min_(split.final_min_size),
      final_max_(split.final_max_size),
      full_token_(token_length(split.chunk_size)),
      final_token_(split.final_token_length),
      total_((split.tokens - 1) * full_token_ + final_token_),
      next_(first_) {
  // A split made by hand could promise sizes its tokens cannot hold, or no token at all.
  bool made = false;
  try {
    made = split.tokens > 0 && split_stream_length(total_, split.chunk_size) == split;
  } catch (const Error&) {}
  if (!made) throw Error(Errc::internal, "stream: a split that split_stream_length did not make");
}

void TokenSplitter::update(std::string_view bytes, const OnToken& on_token) {
  // The total is known, so extra bytes are refused before any token of this piece is released.
  if (bytes.size() > total_ - fed_) continues_after_last();
  fed_ += bytes.size();
  while (!bytes.empty()) {
    const std::uint64_t want = length_of(next_);
    if (pending_.empty() && bytes.size() >= want) {  // a whole token in the caller's bytes: no copy
      hand_out(bytes.substr(0, want), on_token);
      bytes.remove_prefix(want);
      continue;
    }
    const std::size_t take = std::min<std::uint64_t>(want - pending_.size(), bytes.size());
    pending_.reserve(want);
    pending_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (pending_.size() < want) break;
    hand_out(pending_, on_token);
    pending_.clear();
  }
}

void TokenSplitter::hand_out(std::string_view text, const OnToken& on_token) {
  const bool is_final = next_ == final_;
  on_token(Token{next_, text, is_final ? final_min_ : full_size_, is_final ? final_max_ : full_size_});
  ++next_;
}

void TokenSplitter::finish() const {
  if (done()) return;
  if (next_ == first_)
    throw Error(Errc::integrity, "the stream ended before its first chunk: the output is incomplete");
  throw Error(Errc::integrity,
              "the stream ended after chunk " + num(next_ - 1) + ", before its last chunk: the output is incomplete");
}

// ---- sequential writer -----------------------------------------------------------------------

StreamWriter::StreamWriter(const SessionSecret& secret, KeyPurpose purpose, const Binding& binding,
                           const Layout& layout, const Clock& clock)
    : keys_(secret, purpose, binding, layout.last_chunk()),
      layout_(layout),
      clock_(clock),
      next_(layout.first_chunk()) {}

void StreamWriter::write(ByteView plaintext, std::string& out) {
  if (plaintext.size() > layout_.byte_count() - written_)
    throw Error(Errc::internal, "stream: more plaintext than the layout's " + num(layout_.byte_count()) + " bytes");
  written_ += plaintext.size();
  // Runs with no plaintext too: an empty representation is one empty chunk.
  while (next_ <= layout_.last_chunk()) {
    const std::uint64_t want = layout_.plaintext_size(next_);
    if (buffer_.empty() && plaintext.size() >= want) {
      seal(plaintext.first(want), out);
      plaintext = plaintext.subspan(want);
      continue;
    }
    const std::size_t take = std::min<std::uint64_t>(want - buffer_.size(), plaintext.size());
    buffer_.reserve(want);
    buffer_.insert(buffer_.end(), plaintext.begin(), plaintext.begin() + static_cast<std::ptrdiff_t>(take));
    plaintext = plaintext.subspan(take);
    if (buffer_.size() < want) break;
    seal(buffer_, out);
    buffer_.clear();
  }
}

void StreamWriter::finish(std::string& out) {
  write({}, out);
  if (written_ != layout_.byte_count())
    throw Error(Errc::internal,
                "stream: finished after " + num(written_) + " of the layout's " + num(layout_.byte_count()) + " bytes");
}

void StreamWriter::seal(ByteView chunk, std::string& out) {
  const std::size_t old = out.size();
  out.resize(old + token_length(chunk.size()));
  seal_chunk_into(keys_, next_, chunk, clock_.now(), out.data() + old);
  ++next_;
}

// ---- sequential reader -----------------------------------------------------------------------

StreamReader::StreamReader(const SessionSecret& secret, KeyPurpose purpose, const Binding& binding,
                           const Layout& layout, OnChunk on_chunk)
    : keys_(secret, purpose, binding, layout.last_chunk()), splitter_(layout), on_chunk_(std::move(on_chunk)) {}

StreamReader::StreamReader(const SessionSecret& secret, KeyPurpose purpose, const Binding& binding,
                           const UnknownSizeSplit& split, OnChunk on_chunk)
    : keys_(secret, purpose, binding, split.tokens - 1), splitter_(split), on_chunk_(std::move(on_chunk)) {}

template <class Fn>
void StreamReader::guarded(Fn&& fn) {
  if (failure_) throw *failure_;
  try {
    fn();
  } catch (const Error& e) {
    failure_ = e;
    throw;
  } catch (...) {  // on_chunk failed in its own way: still nothing more may come out
    failure_ = Error(Errc::internal, "stream: the reader stopped at an earlier failure");
    throw;
  }
}

void StreamReader::update(std::string_view stream_bytes) {
  guarded([&] {
    splitter_.update(stream_bytes, [&](const Token& token) {
      const Bytes plain = open_chunk(keys_, token);
      ++opened_;
      released_ += plain.size();
      on_chunk_(token.index, plain);
    });
  });
}

void StreamReader::finish() {
  guarded([&] { splitter_.finish(); });
}

}  // namespace mh::stream
