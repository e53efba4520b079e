#pragma once
// The v2 body stream (docs/PROTOCOL.md §6): a representation cut into chunks of C bytes, each
// sealed as one Fernet token under its own key K(purpose, B, i, i == last) (§4), the tokens one
// after the other with nothing between them. Every length is known before the first byte is
// encrypted, and a receiver releases a chunk's plaintext only after that chunk opened, so a
// reordered, dropped, duplicated, foreign or truncated chunk is refused before any of it is used.
//
// Pure: no threads, no I/O, no clock of its own. ChunkKeys, seal_chunk*, open_chunk and
// TokenSplitter are independent one-chunk pieces, so the server and client may seal or open
// chunks on several threads; StreamWriter and StreamReader are the sequential forms and own their
// buffering, so their callers never size a buffer or know a token length.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/bytes.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/fernet.hpp"
#include "core/key_schedule.hpp"

namespace mh::stream {

inline constexpr std::uint32_t kMinChunkSize = 4096;
inline constexpr std::uint32_t kMaxChunkSize = 4194304;
inline constexpr std::uint32_t kDefaultChunkSize = 262144;
// Larger representations are refused, so that no stream length (about 4/3 of the size) overflows.
inline constexpr std::uint64_t kMaxSize = std::uint64_t{1} << 62;

// A power of two from kMinChunkSize to kMaxChunkSize (§3.3, §3.5).
bool valid_chunk_size(std::uint64_t c) noexcept;
// L(n) of §1: the length of the token of n plaintext bytes.
std::uint64_t token_length(std::uint64_t plaintext_size) noexcept;
// r == L(16·j) for some j >= 0: a length some token has.
bool is_token_length(std::uint64_t r) noexcept;

// Which chunks of a representation of size() bytes one message carries (§6.1, §7.1). Made only by
// the factories below, which refuse a chunk size that is not valid_chunk_size, a size over kMaxSize
// and chunks outside the representation (Errc::bad_request).
class Layout {
 public:
  // Chunks 0..m-1, m = max(1, ceil(size / C)): a 200 response or an upload.
  static Layout whole(std::uint64_t size, std::uint32_t chunk_size);
  // The whole chunks covering bytes [first_byte, last_byte] (§7.1), which must lie in the
  // representation (first_byte <= last_byte < size, else Errc::internal: the caller's range
  // logic is wrong). A 206 response.
  static Layout covering(std::uint64_t size, std::uint32_t chunk_size, std::uint64_t first_byte,
                         std::uint64_t last_byte);
  // Chunks first..last as a response head announces them; refuses chunks that do not exist.
  static Layout chunks(std::uint64_t size, std::uint32_t chunk_size, std::uint64_t first, std::uint64_t last);

  std::uint64_t size() const noexcept { return size_; }
  std::uint32_t chunk_size() const noexcept { return chunk_size_; }
  std::uint64_t first_chunk() const noexcept { return first_; }
  std::uint64_t last_chunk() const noexcept { return last_; }
  std::uint64_t count() const noexcept { return last_ - first_ + 1; }  // chunks this message carries

  // Of the whole representation, whatever this message carries. i < chunk_count().
  std::uint64_t chunk_count() const noexcept;
  std::uint64_t offset(std::uint64_t i) const noexcept { return i * chunk_size_; }
  std::uint64_t plaintext_size(std::uint64_t i) const noexcept;
  std::uint64_t token_length(std::uint64_t i) const noexcept { return stream::token_length(plaintext_size(i)); }

  // Of the chunks first..last: the exact Content-Length of the stream (§6.2), and the plaintext
  // bytes and byte positions the response head states (content-length, content-range).
  std::uint64_t stream_length() const noexcept;
  std::uint64_t byte_count() const noexcept;
  std::uint64_t first_byte() const noexcept { return offset(first_); }
  // first_byte() + byte_count() - 1. An empty representation has no last byte (it never gets a
  // content-range: any range of it is 416, §7.1): Errc::internal.
  std::uint64_t last_byte() const;

  bool operator==(const Layout&) const = default;

 private:
  Layout(std::uint64_t size, std::uint32_t chunk_size, std::uint64_t first, std::uint64_t last) noexcept
      : size_(size), chunk_size_(chunk_size), first_(first), last_(last) {}

  std::uint64_t size_;
  std::uint32_t chunk_size_;
  std::uint64_t first_, last_;
};

// What a receiver that does not know the size (the server reading an upload) learns from the
// stream's length alone (§6.2): tokens 0..tokens-1, all of L(C) characters and C bytes but the
// final one, whose token length gives its size to within one AES block.
struct UnknownSizeSplit {
  std::uint32_t chunk_size = kDefaultChunkSize;
  std::uint64_t tokens = 0;
  std::uint64_t final_token_length = 0;
  std::uint64_t final_min_size = 0;  // at least 1 when tokens > 1: only an empty file has an empty chunk
  std::uint64_t final_max_size = 0;
  std::uint64_t max_plaintext = 0;  // (tokens - 1)·C + final_max_size: for --max-upload-size at once
  bool operator==(const UnknownSizeSplit&) const = default;
};
// Error(bad_request, "stream: length T is not a stream of chunk size C"); an invalid chunk size too.
UnknownSizeSplit split_stream_length(std::uint64_t total_length, std::uint32_t chunk_size);

// The keys of one message: K(purpose, binding, i, i == last_index). A copy of the secret, so it
// may be shared by threads (key() is const and keeps no state).
class ChunkKeys {
 public:
  ChunkKeys(const SessionSecret& secret, KeyPurpose purpose, const Binding& binding, std::uint64_t last_index)
      : secret_(secret), purpose_(purpose), binding_(binding), last_(last_index) {}
  FernetKey key(std::uint64_t i) const { return secret_.derive(purpose_, binding_, i, i == last_); }
  std::uint64_t last_index() const noexcept { return last_; }

 private:
  SessionSecret secret_;
  KeyPurpose purpose_;
  Binding binding_;
  std::uint64_t last_;
};

// One token of a stream, as TokenSplitter hands it out, before it is opened.
struct Token {
  std::uint64_t index = 0;
  std::string_view text;                     // exactly the token's characters; valid only while the callback runs
  std::uint64_t min_size = 0, max_size = 0;  // what its plaintext may hold: equal but for an upload's final chunk
};

// Seals chunk i: a fresh random IV, `now` as the Fernet timestamp.
std::string seal_chunk(const ChunkKeys& keys, std::uint64_t i, ByteView plaintext, std::int64_t now);
// The same into out[0, token_length(plaintext.size())), encrypting and encoding in one pass with
// no copy of the chunk: the server's hot path.
void seal_chunk_into(const ChunkKeys& keys, std::uint64_t i, ByteView plaintext, std::int64_t now, char* out);
// Opens chunk i (MAC, padding; never its age) and checks its plaintext size. Error(integrity)
// with the reasons of §6.3.
Bytes open_chunk(const ChunkKeys& keys, std::uint64_t i, std::string_view token, std::uint64_t expected_size);
Bytes open_chunk(const ChunkKeys& keys, const Token& token);

// Cuts stream bytes, in any split, into whole tokens without opening them, so that a caller can
// open them elsewhere (other threads). Knows every token length in advance from the layout.
class TokenSplitter {
 public:
  using OnToken = std::function<void(const Token&)>;
  explicit TokenSplitter(const Layout& layout);
  // Only a split that split_stream_length made (else Errc::internal).
  explicit TokenSplitter(const UnknownSizeSplit& split);

  // Calls on_token for each token completed, in order. Bytes beyond the message's last token are
  // refused before anything of `bytes` is handed out ("the stream continues after its last
  // chunk"). If on_token throws, the splitter is spent.
  void update(std::string_view bytes, const OnToken& on_token);
  // Throws unless every token was handed out ("the stream ended after chunk i, ...").
  void finish() const;

  bool done() const noexcept { return next_ > last_; }
  std::uint64_t next_index() const noexcept { return next_; }
  std::uint64_t first_index() const noexcept { return first_; }
  std::uint64_t last_index() const noexcept { return last_; }
  std::uint64_t stream_length() const noexcept { return total_; }

 private:
  std::uint64_t length_of(std::uint64_t i) const noexcept { return i == final_ ? final_token_ : full_token_; }
  void hand_out(std::string_view text, const OnToken& on_token);

  std::uint64_t first_, last_;
  std::uint64_t final_;  // the representation's final chunk, which may lie beyond last_ (a range)
  std::uint64_t full_size_, final_min_, final_max_;
  std::uint64_t full_token_, final_token_;
  std::uint64_t total_;
  std::uint64_t fed_ = 0;
  std::uint64_t next_;
  std::string pending_;  // a token's characters split across update() calls
};

// Sequential writer: plaintext of the layout's chunks (byte_count() bytes from first_byte()) in any
// split; each chunk is sealed as soon as all its bytes are in, and only complete tokens are
// appended to `out`, so `out` always ends on a token boundary. Pieces that hold whole chunks are
// sealed in place, without a copy. Each token is stamped with clock.now(), which must outlive the
// writer. More bytes than the layout holds, or finish() before all of them: Errc::internal (the
// caller read its file wrongly, or the file changed under it).
class StreamWriter {
 public:
  StreamWriter(const SessionSecret& secret, KeyPurpose purpose, const Binding& binding, const Layout& layout,
               const Clock& clock);
  void write(ByteView plaintext, std::string& out);
  void finish(std::string& out);

  const Layout& layout() const noexcept { return layout_; }
  std::uint64_t written() const noexcept { return written_; }  // plaintext bytes taken so far

 private:
  void seal(ByteView chunk, std::string& out);

  ChunkKeys keys_;
  Layout layout_;
  const Clock& clock_;
  Bytes buffer_;  // plaintext of the chunk being filled, when the caller's pieces split it
  std::uint64_t next_;
  std::uint64_t written_ = 0;
};

// Sequential reader: stream bytes in any split; each chunk is opened as soon as its token is
// complete and its plaintext handed to on_chunk, in index order, only after it opened. The first
// failure (Errc::integrity, §6.3, or whatever on_chunk throws) is thrown, and every later call
// throws too: nothing more is released. With a Layout (the client: every size known) each chunk must hold exactly its
// size; with an UnknownSizeSplit (the server reading an upload) all but the final chunk must hold C bytes and the final
// one what its token allows, and plaintext_bytes() is the size.
class StreamReader {
 public:
  using OnChunk = std::function<void(std::uint64_t index, ByteView plaintext)>;
  StreamReader(const SessionSecret& secret, KeyPurpose purpose, const Binding& binding, const Layout& layout,
               OnChunk on_chunk);
  StreamReader(const SessionSecret& secret, KeyPurpose purpose, const Binding& binding, const UnknownSizeSplit& split,
               OnChunk on_chunk);

  void update(std::string_view stream_bytes);
  // Throws if the stream ended before the last chunk opened.
  void finish();

  bool done() const noexcept { return splitter_.done() && !failure_; }
  std::uint64_t chunks_opened() const noexcept { return opened_; }
  std::uint64_t plaintext_bytes() const noexcept { return released_; }

 private:
  template <class Fn>
  void guarded(Fn&& fn);

  ChunkKeys keys_;
  TokenSplitter splitter_;
  OnChunk on_chunk_;
  std::uint64_t opened_ = 0;
  std::uint64_t released_ = 0;
  std::optional<Error> failure_;
};

}  // namespace mh::stream
