#include "store/redis_events.hpp"

#include <nlohmann/json.hpp>

#include "core/bytes.hpp"
#include "core/error.hpp"

namespace mh::store {

using nlohmann::json;

EventBus::EventBus(RedisClient& redis, std::chrono::milliseconds timeout, Handlers handlers)
    : redis_(redis), instance_(to_hex(random_bytes(8))), handlers_(std::move(handlers)) {
  RedisOptions o;
  o.address = redis.address();
  o.timeout = timeout;
  subscriber_ = std::make_unique<RedisSubscriber>(
      std::move(o), std::vector<std::string>{kChannel},
      [this](const std::string&, const std::string& payload) { receive(payload); }, handlers_.link);
}

EventBus::~EventBus() = default;

void EventBus::kick(const Uuid& client, const std::string& reason) {
  publish(json{{"from", instance_}, {"kick", client.to_string()}, {"reason", reason}}.dump());
}

void EventBus::ban(const std::string& fingerprint) { publish(json{{"from", instance_}, {"ban", fingerprint}}.dump()); }

bool EventBus::subscribed() const noexcept { return subscriber_->subscribed(); }

void EventBus::publish(const std::string& payload) {
  const Reply r = redis_.command({"PUBLISH", kChannel, payload});
  if (r.type != Reply::Type::integer)
    throw Error(Errc::unavailable, "store: publishing an event failed" + (r.is_error() ? ": " + r.str : ""));
}

// Anything malformed is ignored: only instances of this server publish here, and a future one
// may add events this one does not know.
void EventBus::receive(const std::string& payload) const {
  const json j = json::parse(payload, nullptr, false);
  if (!j.is_object() || j.value("from", "") == instance_) return;
  if (j.contains("kick") && j["kick"].is_string() && handlers_.kick) {
    if (const auto uuid = Uuid::parse(j["kick"].get<std::string>())) handlers_.kick(*uuid, j.value("reason", ""));
  } else if (j.contains("ban") && j["ban"].is_string() && handlers_.ban) {
    handlers_.ban(j["ban"].get<std::string>());
  }
}

}  // namespace mh::store
