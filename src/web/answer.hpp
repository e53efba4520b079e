#pragma once
// What a route answers, and the one place where that becomes an HTTP response
// (docs/PROTOCOL.md §5.3, §5.4): the real status, fields and body of an answer go into the
// sealed response head and the chunked body stream, bound to the request by its binding B; a
// sealed request gets an outer 200 that says nothing, an unsealed one the real status and plain
// copies of the fields (and an Ed25519 response signature when it sent Accept-Signature).
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "core/ed25519.hpp"
#include "core/error.hpp"
#include "core/stream.hpp"
#include "net/http_types.hpp"
#include "web/request_verifier.hpp"

namespace mh::web {

// The plaintext of an answer's body, read only as the stream is sent.
class ChunkSource {
 public:
  virtual ~ChunkSource() = default;
  // Fills `out` with the representation's bytes from `offset` on (never past its end). Reads come
  // in order within a chunk; an Error aborts the response (its head is already sent).
  virtual void read(std::uint64_t offset, std::span<std::uint8_t> out) = 0;
  // Runs before the chunk marked last is sealed: throws if the representation changed since the
  // answer was made (a file written during the transfer), so two versions are never joined.
  virtual void check_unchanged() {}
};

struct Answer {
  int status = 200;
  std::optional<std::string> content_type;
  std::optional<std::string> etag;
  std::optional<std::int64_t> retry_after;
  std::optional<std::string> content_range;  // 416: "bytes */N"; 206 is filled in from the layout
  std::uint64_t size = 0;                    // of the representation (HEAD, 200)
  // The chunks to send (nullopt: no body). source reads them; without a source, `body` holds
  // the whole representation (small answers: listings, JSON).
  std::optional<stream::Layout> layout;
  std::unique_ptr<ChunkSource> source;
  std::string body;
};

// A request body taken by a route (an upload), which then answers.
class AnswerSink {
 public:
  virtual ~AnswerSink() = default;
  virtual void write(std::string_view bytes) = 0;
  virtual Answer finish() = 0;      // after the last byte
  virtual void abort() noexcept {}  // the body broke off (timeout, disconnect, over the limit)
};
struct BodyIntake {
  std::unique_ptr<AnswerSink> sink;
  std::uint64_t max_bytes = 0;
};

// A small answer with its whole body in memory, as chunks of the session's size.
Answer body_answer(int status, std::string content_type, std::string body, std::uint32_t chunk_size);
// The JSON error answer {"error": name, "reason": text} with the status of e's Errc.
Answer error_answer(const Error& e, std::uint32_t chunk_size);

// The response for `a` to the verified request `v`.
net::Response respond(const VerifiedRequest& v, Answer a, const Ed25519KeyPair& server_key, std::int64_t now);

}  // namespace mh::web
