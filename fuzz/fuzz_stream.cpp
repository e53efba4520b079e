// The v2 body stream (core/stream.hpp, docs/PROTOCOL.md §6) under a fixed session secret (bytes
// 0xc0..0xdf), binding (bytes 0x60..0x7f) and purpose "request body" (the server reading an
// upload is where stream bytes come from a peer), chunk size 4096 (the smallest, so that a few
// chunks make a short input). The seeds are valid streams under these (tools/seed_corpus.cpp).
// The input is tried three ways, always in input-derived pieces:
//  1. As an upload of unknown size: split_stream_length(input size) refuses only with bad_request;
//     if it splits, StreamReader accepts or refuses with integrity only, hands out chunks 0, 1, ...
//     in order, each of C bytes but the final one, which is within the split's bounds, and on
//     acceptance all of them. TokenSplitter + open_chunk per token, fed other pieces, agree
//     exactly: same chunks, same plaintext, same reason (the length is the split's own, so where
//     the pieces fall cannot matter).
//  2. As a response of a known layout: whole(n) for the n accepted in 1 accepts the same plaintext,
//     and an accepted whole(n) means 1 accepted it too. A random layout (whole or a range of a
//     random size) refuses with integrity only, releases chunks first, first+1, ... of exactly
//     their sizes, accepts only a stream of exactly stream_length() bytes, and never says
//     "continues after its last chunk" of a shorter one nor "ended" of a longer one.
//  3. As plaintext: StreamWriter in pieces appends only whole tokens and exactly stream_length()
//     bytes; both readers read it back; one character changed in chunk k is refused as "chunk k
//     does not verify" after exactly the chunks before k.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "core/stream.hpp"
#include "fuzz_common.hpp"

namespace {

using namespace mh;
using namespace mh::stream;
using mh::fuzz::Rng;

constexpr std::uint32_t kC = kMinChunkSize;
constexpr std::int64_t kNow = 1700000000;
constexpr KeyPurpose kPurpose = KeyPurpose::request_body;

const SessionSecret& secret() {
  static const SessionSecret s = [] {
    Bytes b(32);
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(0xc0 + i);
    return SessionSecret(b);
  }();
  return s;
}

const Binding& binding() {
  static const Binding b = [] {
    Binding x{};
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<std::uint8_t>(0x60 + i);
    return x;
  }();
  return b;
}

// What a plan (a Layout or an UnknownSizeSplit) says of its chunks.
std::uint64_t first_of(const Layout& l) { return l.first_chunk(); }
std::uint64_t first_of(const UnknownSizeSplit&) { return 0; }
std::uint64_t last_of(const Layout& l) { return l.last_chunk(); }
std::uint64_t last_of(const UnknownSizeSplit& s) { return s.tokens - 1; }
std::uint64_t length_of(const Layout& l) { return l.stream_length(); }
std::uint64_t length_of(const UnknownSizeSplit& s) {
  return (s.tokens - 1) * token_length(s.chunk_size) + s.final_token_length;
}
bool size_fits(const Layout& l, std::uint64_t i, std::uint64_t n) { return n == l.plaintext_size(i); }
bool size_fits(const UnknownSizeSplit& s, std::uint64_t i, std::uint64_t n) {
  if (i + 1 < s.tokens) return n == s.chunk_size;
  return n >= s.final_min_size && n <= s.final_max_size && (s.tokens == 1 || n > 0);
}

struct Outcome {
  std::vector<std::uint64_t> chunks;
  Bytes plain;
  std::optional<std::string> refusal;
  bool operator==(const Outcome&) const = default;
};

template <class Plan>
void take_chunk(const Plan& plan, Outcome& o, std::uint64_t i, ByteView p) {
  MH_FUZZ_CHECK(i == first_of(plan) + o.chunks.size());
  MH_FUZZ_CHECK(i <= last_of(plan));
  MH_FUZZ_CHECK(size_fits(plan, i, p.size()));
  o.chunks.push_back(i);
  o.plain.insert(o.plain.end(), p.begin(), p.end());
}

template <class Fn>
void record_refusal(Outcome& o, Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    MH_FUZZ_CHECK(e.code() == Errc::integrity);
    o.refusal = e.what();
  }
}

template <class Fn>
void in_pieces(std::string_view in, Rng& rng, Fn&& fn) {
  std::size_t off = 0;
  for (std::size_t n : rng.splits(in.size())) {
    fn(in.substr(off, n));
    off += n;
  }
}

template <class Plan>
void check_complete(const Plan& plan, const Outcome& o, std::string_view in) {
  if (o.refusal) return;
  MH_FUZZ_CHECK(in.size() == length_of(plan));
  MH_FUZZ_CHECK(!o.chunks.empty() && o.chunks.back() == last_of(plan));
}

template <class Plan>
Outcome with_reader(const Plan& plan, std::string_view in, Rng& rng) {
  Outcome o;
  StreamReader reader(secret(), kPurpose, binding(), plan,
                      [&](std::uint64_t i, ByteView p) { take_chunk(plan, o, i, p); });
  record_refusal(o, [&] {
    in_pieces(in, rng, [&](std::string_view piece) { reader.update(piece); });
    reader.finish();
  });
  MH_FUZZ_CHECK(reader.chunks_opened() == o.chunks.size());
  MH_FUZZ_CHECK(reader.plaintext_bytes() == o.plain.size());
  MH_FUZZ_CHECK(reader.done() == !o.refusal);
  if (o.refusal) {  // a refusal is final
    const bool again = fuzz::refuses([&] { reader.finish(); });
    MH_FUZZ_CHECK(again);
    MH_FUZZ_CHECK(reader.chunks_opened() == o.chunks.size());
  }
  check_complete(plan, o, in);
  return o;
}

template <class Plan>
Outcome with_splitter(const Plan& plan, std::string_view in, Rng& rng) {
  Outcome o;
  TokenSplitter splitter(plan);
  const ChunkKeys keys(secret(), kPurpose, binding(), last_of(plan));
  record_refusal(o, [&] {
    in_pieces(in, rng, [&](std::string_view piece) {
      splitter.update(piece, [&](const Token& t) { take_chunk(plan, o, t.index, open_chunk(keys, t)); });
    });
    splitter.finish();
  });
  check_complete(plan, o, in);
  return o;
}

// 2: any layout against any input.
Outcome check_layout(const Layout& layout, std::string_view in, Rng& rng) {
  const Outcome o = with_reader(layout, in, rng);
  if (!o.refusal) {
    MH_FUZZ_CHECK(o.plain.size() == layout.byte_count());
    return o;
  }
  const bool continues = *o.refusal == "the stream continues after its last chunk";
  const bool ended = o.refusal->rfind("the stream ended ", 0) == 0;
  if (in.size() < layout.stream_length()) MH_FUZZ_CHECK(!continues);
  if (in.size() > layout.stream_length()) MH_FUZZ_CHECK(!ended);
  if (in.size() == layout.stream_length()) MH_FUZZ_CHECK(!continues && !ended);
  return o;
}

Layout random_layout(std::uint64_t size, Rng& rng) {
  if (size == 0 || rng.coin()) return Layout::whole(size, kC);
  std::uint64_t a = rng.range(0, size - 1), b = rng.range(0, size - 1);
  if (a > b) std::swap(a, b);
  return Layout::covering(size, kC, a, b);
}

// 3: the input as plaintext of a random layout, written, read back, and tampered with.
void round_trip(ByteView file, Rng& rng) {
  const Layout layout = random_layout(file.size(), rng);
  const ByteView plain = file.subspan(layout.first_byte(), layout.byte_count());
  const FixedClock clock(kNow);
  StreamWriter writer(secret(), kPurpose, binding(), layout, clock);
  std::vector<std::uint64_t> edges = {0};  // where tokens end
  for (std::uint64_t i = layout.first_chunk(); i <= layout.last_chunk(); ++i)
    edges.push_back(edges.back() + layout.token_length(i));
  std::string stream;
  std::size_t off = 0;
  for (std::size_t n : rng.splits(plain.size())) {
    writer.write(plain.subspan(off, n), stream);
    off += n;
    MH_FUZZ_CHECK(std::binary_search(edges.begin(), edges.end(), stream.size()));
  }
  writer.finish(stream);
  MH_FUZZ_CHECK(stream.size() == layout.stream_length());

  const Outcome back = with_reader(layout, stream, rng);
  MH_FUZZ_CHECK(!back.refusal);
  MH_FUZZ_CHECK(back.plain == Bytes(plain.begin(), plain.end()));
  if (layout.first_chunk() == 0 && layout.last_chunk() + 1 == layout.chunk_count()) {
    const Outcome upload = with_reader(split_stream_length(stream.size(), kC), stream, rng);
    MH_FUZZ_CHECK(upload == back);
  }

  static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/!";
  const std::size_t pos = rng.range(0, stream.size() - 1);
  char c;
  do c = kChars[rng.range(0, sizeof kChars - 2)];
  while (c == stream[pos]);
  stream[pos] = c;
  const auto k = static_cast<std::uint64_t>(std::upper_bound(edges.begin(), edges.end(), pos) - edges.begin()) - 1;
  const std::uint64_t index = layout.first_chunk() + k;
  const Outcome bad = with_reader(layout, stream, rng);
  MH_FUZZ_CHECK(bad.refusal == "chunk " + std::to_string(index) +
                                   " does not verify (tampered, reordered, duplicated, or from another response)");
  MH_FUZZ_CHECK(bad.chunks.size() == k);
}

void run(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = fuzz::text(data, size);
  Rng rng(data, size);

  // 1. An upload of unknown size.
  std::optional<UnknownSizeSplit> split;
  const bool splits = fuzz::accepts([&] { split = split_stream_length(size, kC); }, {Errc::bad_request});
  std::optional<Outcome> upload;
  if (splits) {
    upload = with_reader(*split, in, rng);
    MH_FUZZ_CHECK(with_splitter(*split, in, rng) == *upload);
    if (!upload->refusal) MH_FUZZ_CHECK(upload->plain.size() <= split->max_plaintext);
  }

  // 2. A response of a known layout.
  if (upload && !upload->refusal) {
    const Outcome whole = with_reader(Layout::whole(upload->plain.size(), kC), in, rng);
    MH_FUZZ_CHECK(whole == *upload);
  }
  const Layout layout = random_layout(rng.range(0, 4 * kC), rng);
  const Outcome response = check_layout(layout, in, rng);
  const bool whole = layout.first_chunk() == 0 && layout.last_chunk() + 1 == layout.chunk_count();
  if (whole && !response.refusal) MH_FUZZ_CHECK(upload && response == *upload);

  // 3. The input as plaintext.
  round_trip(ByteView(data, size), rng);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return mh::fuzz::guarded([&] { run(data, size); });
}
