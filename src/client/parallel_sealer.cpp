#include "client/parallel_sealer.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "core/error.hpp"
#include "io/unique_fd.hpp"

namespace mh::client {

ParallelSealer::ParallelSealer(int fd, const SessionSecret& secret, KeyPurpose purpose, const Binding& binding,
                               const stream::Layout& layout, const Clock& clock, unsigned threads)
    : fd_(fd),
      keys_(secret, purpose, binding, layout.last_chunk()),
      layout_(layout),
      clock_(clock),
      window_(std::max(threads, 1u) + 2),  // every worker busy while the caller sends
      next_start_(layout.first_chunk()),
      next_out_(layout.first_chunk()) {
  if (threads == 0) return;
  pool_ =
      std::make_unique<OrderedPool<std::uint64_t, SealedChunk>>(threads, [this](std::uint64_t& i) { return seal(i); });
  top_up();  // sealing starts before the connection asks for the first byte
}

ParallelSealer::~ParallelSealer() = default;

SealedChunk ParallelSealer::seal(std::uint64_t i) const {
  SealedChunk c{i, Bytes(layout_.plaintext_size(i)), {}};
  std::size_t got = 0;
  while (got < c.plaintext.size()) {
    const auto at = static_cast<off_t>(layout_.offset(i) + got);
    const ssize_t n = ::pread(fd_, c.plaintext.data() + got, c.plaintext.size() - got, at);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(Errc::io, "cannot read the file: " + io::errno_text(errno));
    if (n == 0) throw Error(Errc::io, "the file shrank while it was being sent");
    got += static_cast<std::size_t>(n);
  }
  c.token.resize(layout_.token_length(i));
  stream::seal_chunk_into(keys_, i, c.plaintext, clock_.now(), c.token.data());
  return c;
}

void ParallelSealer::top_up() {
  while (next_start_ <= layout_.last_chunk() && pool_->size() < window_) pool_->push(next_start_++);
}

std::optional<SealedChunk> ParallelSealer::next() {
  if (failure_) std::rethrow_exception(failure_);
  if (next_out_ > layout_.last_chunk()) return std::nullopt;
  try {
    std::optional<SealedChunk> c;
    if (pool_) {
      top_up();
      c = pool_->pop(true);
      top_up();  // the chunk just taken freed a place
    } else {
      c = seal(next_out_);
    }
    ++next_out_;
    return c;
  } catch (...) {
    failure_ = std::current_exception();
    throw;
  }
}

}  // namespace mh::client
