#include "store/redis_chat.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <tuple>
#include <utility>

#include "core/bytes.hpp"
#include "core/error.hpp"
#include "store/chat_scripts.hpp"
#include "store/token_bucket.hpp"

namespace mh::store {
namespace {

namespace cs = chat_scripts;
constexpr const char* kRooms = "mh:chat:rooms";
const std::string kRoomPrefix = "mh:chat:room:";
const std::string kNamePrefix = "mh:chat:name:";
const std::string kLifetimeMs = std::to_string(web::ChatRelay::kSeatLifetime * 1000);
// Entries one XREAD hands over at most; seats one keep script takes at most, so that a big
// instance does not hold Redis up for long at a time.
constexpr std::size_t kReadBatch = 256, kKeepBatch = 256;

// A stream entry id "MS-SEQ" as a pair that orders like the ids; {0, 0} if it is not one.
std::pair<std::uint64_t, std::uint64_t> entry_id(const std::string& id) {
  std::pair<std::uint64_t, std::uint64_t> out{0, 0};
  const auto dash = id.find('-');
  if (dash == std::string::npos) return out;
  std::from_chars(id.data(), id.data() + dash, out.first);
  std::from_chars(id.data() + dash + 1, id.data() + id.size(), out.second);
  return out;
}

// A script's reply that is not what it always returns: Redis refused it (e.g. out of memory).
[[noreturn]] void refused(const char* what, const Reply& r) {
  throw Error(Errc::unavailable,
              std::string("store: chat ") + what + " failed" + (r.is_error() ? ": " + r.str : ": unexpected reply"));
}

long long integer_of(const char* what, const Reply& r) {
  if (r.type != Reply::Type::integer) refused(what, r);
  return r.integer;
}

// The value of `field` in a flat reply [field, value, field, value, ...] (XINFO STREAM).
const Reply* field_of(const Reply& r, const std::string& field) {
  for (std::size_t i = 0; i + 1 < r.elements.size(); i += 2)
    if (r.elements[i].str == field) return &r.elements[i + 1];
  return nullptr;
}

}  // namespace

RedisChat::RedisChat(RedisClient& redis, std::chrono::milliseconds timeout)
    : redis_(redis), instance_(to_hex(random_bytes(8))) {
  reader_options_.address = redis.address();
  reader_options_.timeout = timeout + kBlock;
  reader_options_.pool_size = 1;
}

RedisChat::~RedisChat() { stop(); }

void RedisChat::start(Handlers handlers) {
  handlers_ = std::move(handlers);
  reader_ = std::thread([this] { read_loop(); });
}

void RedisChat::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (reader_.joinable()) reader_.join();
  reading_ = false;
}

// The log's last entry id ("0-0": no log yet) and how many entries it has ever taken.
std::pair<std::string, std::uint64_t> RedisChat::log_end(RedisClient& reader) {
  const Reply info = reader.command({"XINFO", "STREAM", kLog});
  if (info.is_error()) return {"0-0", 0};  // no such key: nothing posted yet
  const Reply* last = field_of(info, "last-generated-id");
  const Reply* added = field_of(info, "entries-added");
  if (!last || !added) refused("log", info);
  return {last->str, static_cast<std::uint64_t>(added->integer)};
}

// Trimming takes entries from the head of the log only. So if its first entry is at or before
// `last`, nothing after `last` is gone; if not, everything left is unread, and entries are gone
// iff fewer are left than were added since `last` (`taken`: the entries the log had ever taken up
// to `last`, which this then sets right for what is left).
bool RedisChat::lost_since(RedisClient& reader, const std::string& last, std::uint64_t& taken) {
  const Reply info = reader.command({"XINFO", "STREAM", kLog});
  if (info.is_error()) {  // no log (Redis restarted empty): a new one counts from 0
    taken = 0;
    return false;
  }
  const Reply* added = field_of(info, "entries-added");
  const Reply* length = field_of(info, "length");
  const Reply* first = field_of(info, "first-entry");
  if (!added || !length) refused("log", info);
  const auto a = static_cast<std::uint64_t>(added->integer), len = static_cast<std::uint64_t>(length->integer);
  if (first && first->elements.size() == 2 && !(entry_id(first->elements[0].str) > entry_id(last))) return false;
  const bool lost = a > taken + len;
  taken = a - len;
  return lost;
}

void RedisChat::read_loop() {
  RedisClient reader(reader_options_);
  std::string last;         // the last entry handed over; empty until the end of the log is known
  std::uint64_t taken = 0;  // entries the log had ever taken up to `last`
  bool check = false, reported = false;
  auto backoff = std::chrono::milliseconds(50);
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    try {
      if (last.empty()) std::tie(last, taken) = log_end(reader);
      if (check && lost_since(reader, last, taken) && handlers_.on_lost) handlers_.on_lost();
      check = false;
      if (!reading_) {
        reading_ = true;
        if (handlers_.on_state) handlers_.on_state(true, reported ? "the store is back" : "");
        reported = false;
        backoff = std::chrono::milliseconds(50);
      }
      const Reply r = reader.command({"XREAD", "COUNT", std::to_string(kReadBatch), "BLOCK",
                                      std::to_string(kBlock.count()), "STREAMS", kLog, last});
      if (r.is_error()) throw Error(Errc::unavailable, "store: reading the chat log failed: " + r.str);
      if (r.is_nil() || r.elements.empty()) continue;    // nothing new within kBlock
      if (r.elements[0].elements.size() != 2) continue;  // [[log, entries]]
      const Reply& entries = r.elements[0].elements[1];
      for (const Reply& entry : entries.elements) {
        if (entry.elements.size() != 2) continue;
        last = entry.elements[0].str;
        ++taken;
        if (const Reply* e = field_of(entry.elements[1], "e"); e && handlers_.on_event) handlers_.on_event(e->str);
      }
      // A full batch: this instance is behind, and the log may be trimmed past it.
      check = entries.elements.size() == kReadBatch;
    } catch (const Error& e) {
      check = true;
      if (reading_ || !reported) {
        reading_ = false;
        reported = true;
        if (handlers_.on_state) handlers_.on_state(false, e.what());
      }
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, backoff, [this] { return stopping_; });
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    }
  }
}

bool RedisChat::sit(const web::ChatSeat& seat, std::size_t max, const std::string& join_event,
                    const web::ChatSeat* from, const std::string& leave_event) {
  const std::string room_key = kRoomPrefix + seat.room;
  const Reply r = redis_.eval(
      cs::kSit, {kLog, kRooms, room_key, kNamePrefix + seat.name, from ? kRoomPrefix + from->room : room_key},
      {cs::kLogLength, kLifetimeMs, std::to_string(max), seat.room, seat.name, seat.id, join_event,
       from ? from->room : "", leave_event});
  return integer_of("join", r) == 1;
}

void RedisChat::stand(const web::ChatSeat& seat, const std::string& leave_event) {
  const Reply r = redis_.eval(cs::kStand, {kLog, kRooms, kRoomPrefix + seat.room, kNamePrefix + seat.name},
                              {cs::kLogLength, seat.room, seat.name, seat.id, leave_event});
  integer_of("leave", r);
}

void RedisChat::keep(const std::vector<web::ChatSeat>& seats) {
  for (std::size_t at = 0; at < seats.size(); at += kKeepBatch) {
    std::vector<std::string> keys{kRooms}, args{kLifetimeMs};
    for (std::size_t i = at; i < std::min(seats.size(), at + kKeepBatch); ++i) {
      keys.push_back(kRoomPrefix + seats[i].room);
      keys.push_back(kNamePrefix + seats[i].name);
      args.insert(args.end(), {seats[i].room, seats[i].name, seats[i].id});
    }
    integer_of("keep", redis_.eval(cs::kKeep, keys, args));
  }
}

bool RedisChat::post(const std::string& event, const std::string& to, const std::string& except) {
  const Reply r = redis_.eval(cs::kPost, {kLog, to.empty() ? std::string(kLog) : kNamePrefix + to},
                              {cs::kLogLength, event, to, except});
  return integer_of("message", r) == 1;
}

double RedisChat::take(const std::string& bucket, const std::string& client, double rate, double burst) {
  const Reply r = redis_.eval(kTakeToken, {"mh:chat:" + bucket + ":" + client}, {exact(rate), exact(burst)});
  if (r.type != Reply::Type::string) refused("rate limit", r);
  return std::strtod(r.str.c_str(), nullptr);
}

std::size_t RedisChat::seated(const std::string& room) {
  return static_cast<std::size_t>(integer_of("room", redis_.eval(cs::kSeated, {kRoomPrefix + room}, {})));
}

std::vector<std::string> RedisChat::names_in(const std::string& room) {
  const Reply r = redis_.eval(cs::kNames, {kRoomPrefix + room}, {});
  if (r.type != Reply::Type::array) refused("who", r);
  std::vector<std::string> out;
  for (const Reply& n : r.elements) out.push_back(n.str);
  return out;
}

std::vector<std::pair<std::string, std::size_t>> RedisChat::rooms() {
  const Reply r = redis_.eval(cs::kRooms, {kRooms}, {kRoomPrefix});
  if (r.type != Reply::Type::array) refused("rooms", r);
  std::vector<std::pair<std::string, std::size_t>> out;
  for (std::size_t i = 0; i + 1 < r.elements.size(); i += 2)
    out.emplace_back(r.elements[i].str, static_cast<std::size_t>(r.elements[i + 1].integer));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace mh::store
