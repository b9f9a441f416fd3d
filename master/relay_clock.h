// RelayClock: what the relay needs from the event loop around it. The time;
// a call back at a moment (the deadlines of held polls and idle nodes); and a
// call back once the current loop turn's callbacks have all run (so that the
// events of one turn leave in one answer per node).
//
// The master gives the relay libuv (uv_relay_clock.h). The unit tests give it
// a clock they move by hand and turns they end by hand, so every rule of the
// relay that involves time (poll timeouts, node TTLs, the rate limit, wake
// batching) is tested without a loop or a sleep.
#pragma once

#include <cstdint>

namespace sprites::master {

class RelayClock {
 public:
  // What the clock calls; the Relay.
  class Sleeper {
   public:
    virtual ~Sleeper() = default;
    virtual void on_deadline() = 0;
    virtual void on_turn_end() = 0;
  };

  static constexpr uint64_t kNever = UINT64_MAX;

  virtual ~RelayClock() = default;
  // The one sleeper to wake (the relay sets itself when it is made).
  virtual void set_sleeper(Sleeper* sleeper) = 0;
  // Milliseconds on a monotonic clock.
  virtual uint64_t now_ms() const = 0;
  // Calls on_deadline() by `due_ms` (possibly earlier, when an earlier
  // request is still armed: the sleeper acts only on what is due); kNever
  // cancels every request.
  virtual void wake_at(uint64_t due_ms) = 0;
  // Calls on_turn_end() once the callbacks of this loop turn have run.
  virtual void wake_after_turn() = 0;
};

}  // namespace sprites::master
