// See uv_relay_clock.h.
#include "master/uv_relay_clock.h"

#include "common/callback_guard.h"

namespace sprites::master {

UvRelayClock::UvRelayClock(uv_loop_t* loop)
    : loop_(loop), timer_(make_timer(loop, this)), idle_(make_idle(loop, this)) {}

void UvRelayClock::close() {
  timer_.close();
  idle_.close();
}

void UvRelayClock::wake_at(uint64_t due_ms) {
  if (!timer_) return;  // closed
  if (due_ms == kNever) {
    uv_timer_stop(timer_.get());
    armed_for_ = kNever;
    return;
  }
  // An earlier or equal request already armed covers this one.
  if (due_ms >= armed_for_ && uv_is_active(timer_.handle())) return;
  const uint64_t now = uv_now(loop_);
  uv_timer_start(timer_.get(), &UvRelayClock::on_timer, due_ms > now ? due_ms - now : 0, 0);
  armed_for_ = due_ms;
}

void UvRelayClock::wake_after_turn() {
  if (idle_ && !uv_is_active(idle_.handle())) uv_idle_start(idle_.get(), &UvRelayClock::on_idle);
}

void UvRelayClock::on_timer(uv_timer_t* timer) {
  auto* self = static_cast<UvRelayClock*>(timer->data);
  self->armed_for_ = kNever;
  // The timer fires late when the loop was busy: read the time afresh.
  uv_update_time(self->loop_);
  guarded("relay deadline", [&] {
    if (self->sleeper_) self->sleeper_->on_deadline();
  });
}

void UvRelayClock::on_idle(uv_idle_t* idle) {
  auto* self = static_cast<UvRelayClock*>(idle->data);
  uv_idle_stop(idle);
  guarded("relay turn end", [&] {
    if (self->sleeper_) self->sleeper_->on_turn_end();
  });
}

}  // namespace sprites::master
