#pragma once
// The client's reading of an answer to a sealed request (docs/PROTOCOL.md §5.3, §6.3), before
// any of its bytes is used:
//  - an answer without a sealed head can only be a refusal the server made before it verified
//    the request (400, 401, 403, 429, 503, framing): kept as a plain refusal. A plain 1xx, 2xx or
//    3xx is refused: the server never answers a sealed request in clear.
//  - otherwise the head is opened under K("response head", B), its real status and fields taken
//    from it, the chunk layout it announces checked (the session's chunk size; whole for 200, the
//    content-range for 206) and the outer Content-Length compared with that layout's stream length;
//  - then each chunk is opened under K("response body", B, i, i == last) as it arrives and its
//    plaintext released in order: to the caller as it opens (downloads), or into memory (JSON).
// Every refusal is Errc::integrity (exit 5) with its reason.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/bytes.hpp"
#include "core/key_schedule.hpp"
#include "core/seal.hpp"
#include "core/stream.hpp"
#include "net/http_client.hpp"

namespace mh::client {

class ParallelReader;

// The most plaintext buffered in memory: a listing holds at most 10000 entries of names up to
// 255 bytes (PROTOCOL.md §5.1). Nothing else the client buffers comes near this.
inline constexpr std::uint64_t kMaxBufferedBody = 16 << 20;
// A plain refusal is a short JSON object.
inline constexpr std::uint64_t kMaxPlainRefusal = 64 << 10;

struct Answer {
  int status = 0;                        // the real status: from the sealed head, or of a plain refusal
  bool sealed = false;                   // false: a refusal made before the server verified the request
  seal::ResponseHead head;               // sealed answers
  std::optional<stream::Layout> layout;  // the chunks of the body stream, when one follows
  std::string body;                      // the plaintext (or a plain refusal's JSON) when it was buffered
  // The seconds a busy server (429, 503) asks the client to wait: the sealed head's retry-after,
  // or a plain refusal's Retry-After field (delta-seconds; a date is not understood: absent).
  std::optional<std::uint64_t> retry_after;
  // Of the representation: content-length for 200, the total of content-range for 206.
  std::uint64_t representation_size() const noexcept { return layout ? layout->size() : head.content_length; }
};

class AnswerReader {
 public:
  // Runs once a sealed head opened and was checked; true sends the body's chunks to on_chunk as
  // each opens, false buffers the plaintext into Answer::body (at most kMaxBufferedBody bytes,
  // refused by the head's length before a byte is read). Either may throw to refuse the answer.
  using OnHead = std::function<bool(const Answer&)>;
  using OnChunk = std::function<void(std::uint64_t index, ByteView plaintext)>;

  // `upgrade`: the request asked for a WebSocket, so an outer 101 with a sealed head of status
  // 200 is the acceptance.
  AnswerReader(const SessionSecret& secret, const Binding& binding, std::uint32_t chunk_size, OnHead on_head = {},
               OnChunk on_chunk = {}, bool upgrade = false);
  ~AnswerReader();
  AnswerReader(const AnswerReader&) = delete;
  AnswerReader& operator=(const AnswerReader&) = delete;

  void head(const net::ClientResponse& outer);
  void data(std::string_view bytes);
  // Throws if the body stream ended before its last chunk.
  Answer finish();
  // After the transfer failed: hands on the chunks that were being opened, as far as they open.
  void salvage() noexcept;
  // Then, if the body stream did not end where its head said, throws the stream's own reason:
  // the chunk that did not open, or "the stream ended after chunk i, before its last chunk".
  void broke_off();

  // The three at once, for an answer read whole (an upload's reply, a refused upgrade).
  Answer read(const net::ClientResponse& outer_with_body);

 private:
  SessionSecret secret_;  // a copy: a handshake during the answer cannot pull it away
  Binding binding_;
  std::uint32_t chunk_size_;
  OnHead on_head_;
  OnChunk on_chunk_;
  bool upgrade_;
  Answer answer_;
  bool have_head_ = false;
  std::optional<stream::StreamReader> sequential_;
  std::unique_ptr<ParallelReader> parallel_;
};

}  // namespace mh::client
