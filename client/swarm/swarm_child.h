// SwarmChild: one child process of sprites-swarm. It reads its ChildPlan from
// standard input, joins its nodes at its share of the join rate, says
// `joined`, waits for `go`, throws on the pacer's schedule until the window
// closes, keeps holding polls while the parent waits for the drain, and on
// `finish` sends its report, leaves the grid and exits.
//
// One loop, one 1 ms tick for the whole child (joins, throws, retries,
// progress messages: every 250 ms so the parent's once-a-second line is
// fresh, every 100 ms once throwing is over so the parent sees the drain end
// quickly), one signal handle. If standard input closes or SIGTERM arrives
// before `finish` (the parent died or gave up), it leaves and exits without a
// report. SIGINT is ignored: a Ctrl-C reaches the whole process group, and
// the parent decides how the run ends.
//
// Dropped alternative: threads in one process instead of children. The socket
// limit is per process, and a child per ~8000 nodes also gives each its own
// source address and its own core.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "client/swarm/child_channel.h"
#include "client/swarm/fleet.h"
#include "client/swarm/ledger.h"
#include "client/swarm/pacer.h"
#include "client/swarm/plan.h"

namespace sprites::swarm {

class SwarmChild {
 public:
  // The pacer's tick. An open-loop rate is sent in one burst per tick, and a
  // burst queues in the relay: a 5 ms tick sent bursts of rate/200 and
  // roughly tripled the median send-to-delivery time against 1 ms (libuv's
  // timer resolution), which keeps bursts to rate/1000 (figures in
  // docs/bench/history.md).
  static constexpr uint64_t kTickMs = 1;
  static constexpr uint64_t kProgressMs = 250;
  static constexpr uint64_t kDrainProgressMs = 100;
  static constexpr uint64_t kLeaveGuardMs = 10000;

  explicit SwarmChild(uv_loop_t* loop);
  ~SwarmChild();
  SwarmChild(const SwarmChild&) = delete;
  SwarmChild& operator=(const SwarmChild&) = delete;

  // Runs the loop until the child is done; returns the exit status.
  int run();

 private:
  enum class Phase : uint8_t { WaitingPlan, Joining, Joined, Throwing, Draining, Leaving, Done };

  void on_line(std::string_view line);
  void on_input_closed();
  void begin(const ChildPlan& plan);
  void go(uint64_t start_ns);
  void finish(bool with_report);
  void close_all();
  void send_progress(uint64_t now_ns);
  void fatal(const std::string& message);
  bool fire(std::optional<size_t> node, uint64_t now_ns);
  void tick();

  static void on_tick(uv_timer_t* timer);
  static void on_guard(uv_timer_t* timer);
  static void on_teardown(uv_timer_t* timer);
  static void on_signal(uv_signal_t* signal, int signum);

  uv_loop_t* loop_;
  LineChannel::Ptr channel_;
  uv_timer_t tick_{};
  uv_timer_t guard_{};
  uv_signal_t sigterm_{};
  std::optional<ChildPlan> plan_;
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<Fleet> fleet_;
  std::unique_ptr<Pacer> pacer_;
  Pacer::Fire fire_;
  Phase phase_ = Phase::WaitingPlan;
  uint64_t join_began_ms_ = 0;
  uint64_t joins_started_ = 0;
  uint64_t last_progress_ms_ = 0;
  uint64_t held_at_end_ = 0;
  bool held_recorded_ = false;
  bool closed_ = false;
  int exit_code_ = 0;
};

}  // namespace sprites::swarm
