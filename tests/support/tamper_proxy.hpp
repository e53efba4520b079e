#pragma once
// A man in the middle for tests: a TCP proxy between the real client and the real server that
// damages answers on their way back, to show that the client refuses each and uses nothing it
// did not verify, and that can record every byte of a session both ways (what an observer sees).
//
// Under minihttps/2 every sealed request line is "POST /.well-known/minihttps/sealed", so a
// request prefix no longer tells files apart: a Match also picks the Nth sealed answer, or the
// answers whose Content-Length is at least K bytes (big downloads). The chunk modes work on the
// body stream's tokens (docs/PROTOCOL.md §6), all of L(C) = stream::token_length(C) characters but
// the final one; the proxy is told C (the test server runs with --chunk-size C). After an answer
// with status 101 (a chat upgrade) the connection is piped through untouched.
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace mh::test {

class TamperProxy {
 public:
  // On a matching answer (token i = the i-th Fernet token of its body stream):
  //   flip_body_bit: one character in the middle of the body changed.
  //   truncate_body: the head as sent, then half of the body, then the connection closes.
  //   replay_recorded: the whole answer replaced by the recorded one.
  //   chunked_junk: the genuine head, its Content-Length swapped for "Transfer-Encoding:
  //     chunked", then chunks of junk until the client closes (at most kJunkCap bytes;
  //     junk_sent() says how many went out).
  //   bytes_after_body: the genuine answer followed, in the same write, by a forged second
  //     response the client never asked for.
  //   rewrite: replaced by what the rewriter makes of it (a hostile server that holds the keys).
  //   reorder_chunks: tokens 0 and 1 swapped.
  //   drop_chunk: token 1 removed, Content-Length fixed to the bytes that remain.
  //   duplicate_chunk: token 0 sent again in place of token 1.
  //   truncate_at_chunk: only token 0 sent, the real Content-Length kept, then the connection
  //     closes: a stream that breaks off after its first chunk. (With a fixed Content-Length the
  //     client would refuse the head's length, as for drop_chunk.)
  //   splice_recorded_chunk: token 1 replaced by token 1 of the recorded answer (another request).
  //   swap_head: the MiniHTTPS-Sealed head replaced by the recorded answer's.
  //   stretch_body: one more token (a copy of token 0) after the body, the real Content-Length
  //     kept: bytes past the declared end, sent in the same write as the body's last bytes.
  enum class Mode {
    pass,
    flip_body_bit,
    truncate_body,
    replay_recorded,
    chunked_junk,
    bytes_after_body,
    rewrite,
    reorder_chunks,
    drop_chunk,
    duplicate_chunk,
    truncate_at_chunk,
    splice_recorded_chunk,
    swap_head,
    stretch_body
  };
  static constexpr std::uint64_t kJunkCap = 256ull << 20;
  static constexpr std::string_view kSealedRequest = "POST /.well-known/minihttps/sealed";
  using Rewriter = std::function<std::string(const std::string& request, const std::string& response)>;

  // Which answers a mode or a recording applies to: every condition must hold. `nth` counts,
  // from 1, the sealed answers (those with a MiniHTTPS-Sealed head) that meet the other two,
  // since set_mode / record_next; the mode and the recording count separately.
  struct Match {
    std::string prefix;            // the request line starts with this ("" : any request)
    int nth = 0;                   // 0: any; N: only the Nth sealed answer
    std::uint64_t min_length = 0;  // only answers whose Content-Length is at least this
    static Match request(std::string prefix) { return Match{std::move(prefix), 0, 0}; }
    static Match sealed(int n) { return Match{std::string(kSealedRequest), n, 0}; }
    static Match at_least(std::uint64_t bytes) { return Match{"", 0, bytes}; }
  };

  // chunk_size: C of the server's sessions, for the chunk modes.
  explicit TamperProxy(std::uint16_t server_port, std::uint32_t chunk_size = 4096);
  ~TamperProxy();
  TamperProxy(const TamperProxy&) = delete;
  TamperProxy& operator=(const TamperProxy&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Resets the Nth-answer count and the chunked_junk counters below.
  void set_mode(Mode m, Match match);
  void set_mode(Mode m, std::string request_prefix = "GET ") { set_mode(m, Match::request(std::move(request_prefix))); }
  // Remember the next matching answer, passed on untouched (for the modes that use a recording).
  void record_next(Match match);
  void record_next(std::string request_prefix) { record_next(Match::request(std::move(request_prefix))); }
  // Mode::pass, no recording, nothing captured.
  void reset();
  int tampered() const noexcept { return tampered_.load(); }
  // For Mode::rewrite: the function applied to matching (whole) requests and responses.
  void set_rewriter(Rewriter r);
  // Mode::chunked_junk: junk bytes written to the client, the genuine response's Content-Length,
  // and whether the client closed the connection before the junk ran out.
  std::uint64_t junk_sent() const noexcept { return junk_sent_.load(); }
  std::uint64_t declared_length() const noexcept { return declared_length_.load(); }
  bool client_closed_early() const noexcept { return client_closed_early_.load(); }

  // Every byte of one proxied connection, each way, as it traveled (before any tampering).
  struct Conversation {
    std::string from_client, from_server;
  };
  // Keep every byte of the connections accepted from now on; captured() has them in the order
  // they were accepted.
  void record_all();
  std::vector<Conversation> captured() const;

 private:
  struct Out {
    std::string bytes;
    std::size_t split = 0;  // > 0: write bytes[0, split) first, then the rest in one write
    bool cut = false;       // close the connection after writing
    bool junk = false;      // then stream chunked junk
  };
  void accept_loop();
  void serve(int client_fd, std::size_t conversation);
  void tunnel(int client_fd, int server_fd, std::size_t conversation, std::string from_client, std::string from_server);
  bool matches(const Match& m, int& count, const std::string& line, const std::string& response, bool sealed) const;
  Out tamper(const std::string& request, std::string response);
  void stream_junk(int client_fd);
  // recv() from fd into buf, keeping a copy in captured_[conversation] (if it is one); false at
  // EOF or an error.
  bool receive(int fd, std::string& buf, std::size_t conversation, bool from_client);
  std::string read_message(int fd, std::string& buf, std::size_t conversation, bool from_client,
                           bool is_response_to_head);

  std::uint16_t server_port_;
  std::uint64_t token_;  // L(C)
  std::uint16_t port_ = 0;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::vector<std::thread> workers_;
  Mode mode_ = Mode::pass;
  Match match_ = Match::request("GET ");
  int mode_count_ = 0;
  bool recording_ = false;
  Match record_match_;
  int record_count_ = 0;
  std::string recorded_;
  bool capture_ = false;
  std::vector<Conversation> captured_;
  std::atomic<int> tampered_{0};
  Rewriter rewriter_;
  std::atomic<std::uint64_t> junk_sent_{0}, declared_length_{0};
  std::atomic<bool> client_closed_early_{false};
};

}  // namespace mh::test
