// UvRelayClock: the relay's clock on a libuv loop. One timer for the relay's
// earliest deadline (the relay keeps all of them in one heap), and one idle
// handle that runs the end of a loop turn: an idle callback runs after the
// current turn's callbacks, and while it is active the loop polls without
// blocking, so a wake-up requested during a turn is served right after it.
#pragma once

#include <uv.h>

#include "common/uv_handle.h"
#include "master/relay_clock.h"

namespace sprites::master {

class UvRelayClock final : public RelayClock {
 public:
  explicit UvRelayClock(uv_loop_t* loop);

  void set_sleeper(Sleeper* sleeper) override { sleeper_ = sleeper; }
  uint64_t now_ms() const override { return uv_now(loop_); }
  void wake_at(uint64_t due_ms) override;
  void wake_after_turn() override;
  // Closes its handles: a stopping master has nothing left to time, and its
  // loop may end. Later requests are ignored.
  void close();

 private:
  static void on_timer(uv_timer_t* timer);
  static void on_idle(uv_idle_t* idle);

  uv_loop_t* loop_;
  Sleeper* sleeper_ = nullptr;
  UvHandle<uv_timer_t> timer_;
  UvHandle<uv_idle_t> idle_;
  uint64_t armed_for_ = kNever;
};

}  // namespace sprites::master
