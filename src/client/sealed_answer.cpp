#include "client/sealed_answer.hpp"

#include <charconv>

#include "client/parallel_reader.hpp"
#include "core/error.hpp"

namespace mh::client {
namespace {

[[noreturn]] void refuse(const std::string& why) { throw Error(Errc::integrity, why); }

// Decimal digits only, fitting 64 bits; nullopt otherwise.
std::optional<std::uint64_t> decimal(std::string_view s) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

struct Span {
  std::uint64_t first = 0, last = 0, size = 0;
};

// "bytes FIRST-LAST/SIZE" (PROTOCOL.md §5.3), nothing else.
Span parse_content_range(std::string_view v) {
  const auto bad = [&]() -> Span { refuse("response head: content-range is not bytes FIRST-LAST/SIZE"); };
  constexpr std::string_view unit = "bytes ";
  if (!v.starts_with(unit)) return bad();
  v.remove_prefix(unit.size());
  const auto dash = v.find('-'), slash = v.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || dash > slash) return bad();
  const auto first = decimal(v.substr(0, dash)), last = decimal(v.substr(dash + 1, slash - dash - 1)),
             size = decimal(v.substr(slash + 1));
  if (!first || !last || !size) return bad();
  return Span{*first, *last, *size};
}

// The chunks the head says follow, checked against everything else it says.
stream::Layout layout_of(const seal::ResponseHead& h, std::uint32_t session_chunk_size) {
  const seal::Chunks& c = *h.chunks;
  if (c.size != session_chunk_size)
    refuse("response head: chunk size " + std::to_string(c.size) + " is not the session's " +
           std::to_string(session_chunk_size));
  try {
    if (h.status == 206) {
      if (!h.content_range) refuse("response head: a 206 without content-range");
      const Span s = parse_content_range(*h.content_range);
      const auto l = stream::Layout::chunks(s.size, c.size, c.first, c.last);
      if (l.first_byte() != s.first || l.last_byte() != s.last || l.byte_count() != h.content_length)
        refuse("response head: content-range and content-length do not match the chunks sent");
      return l;
    }
    const auto l = stream::Layout::chunks(h.content_length, c.size, c.first, c.last);
    if (c.first != 0 || c.last + 1 != l.chunk_count())
      refuse("response head: a " + std::to_string(h.status) + " answer must carry every chunk");
    return l;
  } catch (const Error& e) {
    if (e.code() == Errc::integrity) throw;
    refuse(std::string("response head: ") + e.what());  // chunks outside the representation
  }
}

}  // namespace

AnswerReader::AnswerReader(const SessionSecret& secret, const Binding& binding, std::uint32_t chunk_size,
                           OnHead on_head, OnChunk on_chunk, bool upgrade)
    : secret_(secret),
      binding_(binding),
      chunk_size_(chunk_size),
      on_head_(std::move(on_head)),
      on_chunk_(std::move(on_chunk)),
      upgrade_(upgrade) {}

AnswerReader::~AnswerReader() = default;

void AnswerReader::head(const net::ClientResponse& outer) {
  have_head_ = true;
  const auto token = outer.header(seal::kSealedField);
  const auto length = outer.header("Content-Length");
  // A plain value, not an optional: GCC 12 sees an uninitialized optional<uint64_t> here.
  const auto parsed = length ? decimal(*length) : std::nullopt;
  const bool has_length = parsed.has_value();
  const std::uint64_t declared = parsed.value_or(0);
  answer_.status = outer.status;
  if (!token) {
    // Only a refusal made before verification travels in clear; it is kept to be raised, and
    // nothing in it is used but its status and (escaped) reason.
    if (outer.status < 400)
      refuse("the server answered a sealed request in clear (HTTP " + std::to_string(outer.status) + ")");
    if (has_length && declared > kMaxPlainRefusal) throw Error(Errc::network, "response too large");
    if (const auto wait = outer.header("Retry-After")) answer_.retry_after = decimal(*wait);
    return;
  }
  const bool accepted_upgrade = upgrade_ && outer.status == 101;
  if (outer.status != 200 && !accepted_upgrade)
    refuse("a sealed answer came with the outer status " + std::to_string(outer.status) + " instead of 200");
  answer_.head =
      seal::open_response_head(secret_, binding_, *token);  // "the response head is not bound to this request"
  answer_.sealed = true;
  answer_.status = answer_.head.status;
  // Back to the unsigned decimal the head carried (from_bhttp stores it signed).
  if (answer_.head.retry_after) answer_.retry_after = static_cast<std::uint64_t>(*answer_.head.retry_after);
  if (accepted_upgrade) {
    if (answer_.head.status != 200 || answer_.head.chunks)
      refuse("the upgrade was accepted with a sealed head of status " + std::to_string(answer_.head.status));
    return;
  }
  if (answer_.head.chunks) answer_.layout = layout_of(answer_.head, chunk_size_);
  const std::uint64_t expected = answer_.layout ? answer_.layout->stream_length() : 0;
  if (!has_length || declared != expected)
    refuse("the answer's Content-Length " + std::string(length.value_or("(none)")) +
           " is not the length of the stream its head announces (" + std::to_string(expected) + ")");

  const bool to_caller = on_head_ && on_head_(answer_);
  if (!answer_.layout) return;
  if (!to_caller && answer_.layout->byte_count() > kMaxBufferedBody) throw Error(Errc::network, "response too large");
  OnChunk sink = to_caller ? on_chunk_ : [this](std::uint64_t, ByteView p) { answer_.body.append(as_chars(p)); };
  const unsigned threads = to_caller ? ParallelReader::threads_for(*answer_.layout) : 0;
  if (threads > 0)
    parallel_ = std::make_unique<ParallelReader>(secret_, KeyPurpose::response_body, binding_, *answer_.layout,
                                                 std::move(sink), threads);
  else
    sequential_.emplace(secret_, KeyPurpose::response_body, binding_, *answer_.layout, std::move(sink));
}

void AnswerReader::data(std::string_view bytes) {
  if (!have_head_) throw Error(Errc::internal, "answer: data before the head");
  if (!answer_.sealed) {
    if (answer_.body.size() + bytes.size() > kMaxPlainRefusal) throw Error(Errc::network, "response too large");
    answer_.body.append(bytes);
  } else if (parallel_) {
    parallel_->update(bytes);
  } else if (sequential_) {
    sequential_->update(bytes);
  } else if (!bytes.empty()) {
    refuse("the stream continues after its last chunk");  // a head without chunks announced no body
  }
}

Answer AnswerReader::finish() {
  if (!have_head_) throw Error(Errc::internal, "answer: finish before the head");
  if (parallel_) parallel_->finish();
  if (sequential_) sequential_->finish();
  return std::move(answer_);
}

void AnswerReader::salvage() noexcept {
  if (parallel_) parallel_->salvage();
}

void AnswerReader::broke_off() {
  if (parallel_) parallel_->finish();
  if (sequential_) sequential_->finish();
}

Answer AnswerReader::read(const net::ClientResponse& outer) {
  head(outer);
  data(outer.body);
  return finish();
}

}  // namespace mh::client
