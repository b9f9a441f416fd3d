// Membership: which relays of the cluster are alive, as this relay hears
// them (docs/API.md "Clusters"). Pure bookkeeping on times it is given, so
// the rules are unit-tested without NATS or a loop (tests/unit/cluster/).
//
// Every relay announces itself (a Heartbeat) every kHeartbeatIntervalMs. A
// relay not heard from for the relay timeout is gone. A relay is an id and an
// incarnation: a relay that restarts with the same --relay-id after a crash,
// or that comes back after it was declared gone, announces a new incarnation
// and is a new relay; the old incarnation is gone (its nodes with it) and its
// late heartbeats are ignored, so nothing comes back from the dead.
//
// This relay hears its own heartbeats too (NATS echoes them): the last echo
// is the proof that the others hear it. Silent to itself for the timeout, it
// must assume the others declared it gone (cut off from NATS, or frozen): the
// owner drops its nodes and starts a new incarnation (self_cut_off()).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace sprites::cluster {

inline constexpr uint64_t kHeartbeatIntervalMs = 250;

struct Heartbeat {
  std::string id;          // relay id (options.h valid_relay_id)
  uint64_t incarnation = 0;  // grows with each (re)start of the relay id
  std::string master;      // public master URL
  std::string worker;      // public worker URL
  uint64_t nodes = 0;      // nodes whose home it is
};

struct RelayInfo {
  Heartbeat last;             // its latest heartbeat
  uint64_t last_seen_ms = 0;  // when it arrived
};

class Membership {
 public:
  Membership(std::string self_id, uint64_t incarnation, uint64_t timeout_ms, uint64_t now_ms);

  const std::string& self_id() const { return self_id_; }
  uint64_t incarnation() const { return incarnation_; }

  enum class Heard : uint8_t {
    New,       // a relay (or a new incarnation of one) is alive
    Refreshed, // a live relay spoke again
    Ignored,   // a dead incarnation, an older one, or another relay posing as us
    Self,      // our own echo
  };
  // A heartbeat that arrived at `now`. `replaced` receives the incarnation a
  // newer one of the same id displaced (it is gone, like an expired one).
  Heard heard(const Heartbeat& hb, uint64_t now, std::vector<Heartbeat>* replaced = nullptr);

  // Relays silent for longer than the timeout leave; returns them. While
  // this relay is deaf() it judges no one: their silence may be its own.
  std::vector<Heartbeat> expire(uint64_t now);
  // Its own echo missing for a second (or half the timeout, if shorter):
  // the cluster cannot be reached now, whatever the NATS client says.
  bool deaf(uint64_t now) const { return now - self_seen_ms_ > deaf_after_ms(); }
  uint64_t deaf_after_ms() const { return timeout_ms_ / 2 < 1000 ? timeout_ms_ / 2 : 1000; }

  // True once this relay, heard by the cluster in its current incarnation,
  // has not heard its own echo for the timeout. It then holds a new
  // incarnation (larger than any before), not yet heard, so it reports once
  // per cut-off. (An incarnation never heard was never known to the others:
  // there is nothing they could have declared gone.) It forgets every other
  // relay and every tombstone too: what it judged while cut off is void, and
  // it learns the cluster again from the heartbeats.
  bool self_cut_off(uint64_t now, uint64_t new_incarnation);
  // A planned restart of this relay: it goes on as the incarnation it was.
  void resume(uint64_t incarnation) { incarnation_ = incarnation; }
  bool self_heard_recently(uint64_t now) const { return now - self_seen_ms_ <= timeout_ms_; }

  // The live relays other than this one, by id.
  const std::map<std::string, RelayInfo, std::less<>>& others() const { return others_; }
  const RelayInfo* find(std::string_view id) const;
  // A relay id whose last incarnation heard was declared gone, and no newer
  // one has spoken since: its frames are not to be acted on.
  bool gone(std::string_view id) const { return !find(id) && gone_.find(id) != gone_.end(); }
  uint64_t timeout_ms() const { return timeout_ms_; }

 private:
  std::string self_id_;
  uint64_t incarnation_;
  uint64_t timeout_ms_;
  uint64_t self_seen_ms_;
  bool self_heard_ = false;  // in this incarnation
  std::map<std::string, RelayInfo, std::less<>> others_;
  // The newest incarnation of each id that was declared gone: it never
  // comes back. Bounded by the number of distinct relay ids ever seen, and
  // entries older than an hour are forgotten (kept as long as any of their
  // heartbeats could still be in flight many times over).
  struct Tombstone {
    uint64_t incarnation;
    uint64_t at_ms;
  };
  std::map<std::string, Tombstone, std::less<>> gone_;
};

}  // namespace sprites::cluster
