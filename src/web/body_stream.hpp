#pragma once
// The body stream of an answer (docs/PROTOCOL.md §6) as the connection sends it: each chunk of
// the representation becomes one Fernet token under its own key, in index order, made while it
// is sent — nothing is computed before the first byte goes out, nor twice.
//
// A body of several chunks on a server with several threads is encrypted ahead on the whole
// pool: up to a window of chunks at once (2 per thread, at most 8), each read with its own
// positioned reads and sealed in one pass, then handed to the connection in order. Memory in
// flight is bounded server-wide (kAheadBudgetPerThread for each pool thread); a body that finds
// the budget spent, a one-chunk body and a one-thread server encode on the connection's thread in
// 48 KiB steps instead. A connection that goes away stops the work within one chunk.
// docs/ARCHITECTURE.md §6 has the picture.
#include <cstdint>
#include <memory>

#include "core/stream.hpp"
#include "net/http_types.hpp"
#include "web/answer.hpp"

namespace mh::web {

inline constexpr std::size_t kAheadBudgetPerThread = 8u << 20;

std::unique_ptr<net::BodySource> encrypted_body(stream::ChunkKeys keys, const stream::Layout& layout,
                                                std::unique_ptr<ChunkSource> source, std::int64_t now);

// Bytes of tokens the server holds for bodies encrypted ahead, now (for tests and the console).
std::size_t ahead_bytes_in_flight() noexcept;

}  // namespace mh::web
