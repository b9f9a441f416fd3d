// Coordinator: the parent process of sprites-swarm. It checks that every
// relay answers on both ports (one GET /healthz per --master and --worker
// address) and keeps, of each target's resolved addresses, the one that
// answered, so a child's thousands of connections never try an address that
// refuses; then it spawns the children (this same program with --child),
// hands each its plan, and runs the run's phases:
//
//   joining   children join their nodes; each says `joined`
//   throwing  `go` with a common start time a few ms ahead; warmup, then the
//             measured window (the relay's CPU is read at both of its edges,
//             its memory at the end)
//   draining  throws have stopped; wait until every accepted throw was
//             delivered and nothing is in flight, at most --drain
//   finishing `finish`; children report, leave the grid and exit
//
// and then merges the reports and prints the result (report.h). Live progress
// goes to standard error once a second. Everything is bounded: the join phase
// by a guard derived from --join-rate, the drain by --drain, the children's
// exit by a guard after which they are killed by pid. SIGINT/SIGTERM end the
// run early (the report says so): while throwing, the window is cut short and
// the drain still runs, so lost and duplicated stay exact; the next signal
// skips the drain, and one while the children are leaving kills them.
//
// One loop: children's pipes, their exit callbacks, a few timers. The children
// are uv_process_t handles it owns, closed in their exit callbacks.
//
// Dropped alternative: children that print their own reports. The parent
// would have nothing to merge histograms with, and lost throws whose sender
// and receiver are in different children could not be found.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/histogram.h"
#include "client/http_client.h"
#include "client/swarm/child_channel.h"
#include "client/swarm/figures.h"
#include "client/swarm/plan.h"
#include "client/swarm/report.h"
#include "client/swarm/swarm_options.h"

namespace sprites::swarm {

class Coordinator {
 public:
  static constexpr uint64_t kStartLeadMs = 50;       // go: start this far ahead so every child sees it in time
  static constexpr uint64_t kExitGuardMs = 30000;    // finishing: then SIGKILL by pid
  static constexpr uint64_t kProgressEveryMs = 1000;

  Coordinator(uv_loop_t* loop, SwarmOptions options);
  ~Coordinator();
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  // Runs the whole swarm; returns the exit status: 0 all well, 1 something
  // lost or duplicated, 3 the run failed (relay unreachable, a child died,
  // interrupted).
  int run();

 private:
  enum class Phase : uint8_t { Preflight, Joining, Throwing, Draining, Finishing, Done };

  struct Child {
    Coordinator* owner = nullptr;
    uint32_t index = 0;
    uv_process_t process{};
    LineChannel::Ptr channel;
    ChildPlan plan;
    pid_t pid = 0;
    bool spawned = false;
    bool exited = false;
    bool ended = false;   // its standard output closed
    bool joined = false;
    int64_t exit_status = 0;
    int term_signal = 0;
    // The latest progress message.
    uint64_t at_ns = 0;
    uint64_t held = 0;
    uint64_t joined_nodes = 0;
    uint64_t join_failed = 0;
    uint64_t sent = 0;
    uint64_t accepted = 0;
    uint64_t refused = 0;
    uint64_t delivered = 0;
    uint64_t duplicated = 0;
    uint64_t in_flight = 0;
    bool throwing = false;
    std::optional<ChildFigures> figures;
  };

  void preflight();
  void on_health(size_t probe, client::Response&& response);
  void spawn_children();
  bool spawn(Child& child, const std::string& exe);
  void on_line(Child& child, std::string_view line);
  void on_channel_end(Child& child);
  void maybe_go();
  void go();
  void on_window_edge();
  void maybe_drained();
  void finish_run(const std::string& why);
  void check_done();
  void complete();
  void print_progress();
  void problem(const std::string& text);
  void close_handles();

  static void on_exit(uv_process_t* process, int64_t exit_status, int term_signal);
  static void on_progress_timer(uv_timer_t* timer);
  static void on_window_timer(uv_timer_t* timer);
  static void on_drain_timer(uv_timer_t* timer);
  static void on_join_guard(uv_timer_t* timer);
  static void on_exit_guard(uv_timer_t* timer);
  static void on_signal(uv_signal_t* signal, int signum);

  uv_loop_t* loop_;
  SwarmOptions options_;
  Phase phase_ = Phase::Preflight;
  std::vector<std::unique_ptr<Child>> children_;
  // The preflight: one GET /healthz per target.
  struct Probe {
    const char* what;           // "master", "worker"
    client::Endpoint* target;   // in options_.masters or options_.workers
    client::HttpClient::Ptr client;
  };
  std::vector<Probe> probes_;
  size_t health_answers_ = 0;
  bool health_ok_ = true;
  uv_timer_t progress_timer_{};
  uv_timer_t window_timer_{};
  uv_timer_t drain_timer_{};
  uv_timer_t join_guard_{};
  uv_timer_t exit_guard_{};
  uv_signal_t sigint_{};
  uv_signal_t sigterm_{};
  bool handles_closed_ = false;
  RunFacts facts_;
  uint64_t began_ns_ = 0;
  uint64_t start_ns_ = 0;
  uint64_t window_from_ns_ = 0;
  uint64_t window_to_ns_ = 0;
  bool window_opened_ = false;
  bool window_closed_ = false;
  int interrupts_ = 0;
  // Progress line: totals at the previous line and latencies since.
  uint64_t last_line_ns_ = 0;
  uint64_t last_sent_ = 0;
  uint64_t last_delivered_ = 0;
  uint64_t last_joined_ = 0;
  client::Histogram recent_;
  int exit_code_ = 0;
};

}  // namespace sprites::swarm
