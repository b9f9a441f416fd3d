// See swarm_child.h.
#include "client/swarm/swarm_child.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>

#include "common/callback_guard.h"
#include "common/log.h"

namespace sprites::swarm {
namespace {

double seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; }

}  // namespace

SwarmChild::SwarmChild(uv_loop_t* loop) : loop_(loop) {
  uv_timer_init(loop_, &tick_);
  uv_timer_init(loop_, &guard_);
  uv_signal_init(loop_, &sigterm_);
  tick_.data = guard_.data = sigterm_.data = this;
  fire_ = [this](std::optional<size_t> node, uint64_t now_ns) { return fire(node, now_ns); };
}

SwarmChild::~SwarmChild() = default;

int SwarmChild::run() {
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
  // Every node costs two descriptors: take all the hard limit allows.
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
  uv_signal_start(&sigterm_, &SwarmChild::on_signal, SIGTERM);
  channel_ = LineChannel::for_fds(loop_, STDIN_FILENO, STDOUT_FILENO);
  if (!channel_->open()) {
    LOG_ERROR("swarm child: standard input/output are not pipes");
    exit_code_ = 1;
    close_all();
    uv_run(loop_, UV_RUN_DEFAULT);
    return exit_code_;
  }
  channel_->start([this](std::string_view line) { on_line(line); }, [this] { on_input_closed(); });
  uv_run(loop_, UV_RUN_DEFAULT);
  return exit_code_;
}

void SwarmChild::on_line(std::string_view line) {
  nlohmann::json message = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!message.is_object() || !message.contains("type") || !message["type"].is_string()) {
    return fatal("a message from the parent that is not a JSON object with a type");
  }
  std::string type = message["type"].get<std::string>();
  if (type == "plan" && phase_ == Phase::WaitingPlan) {
    std::optional<ChildPlan> plan = plan_from_json(message);
    if (!plan) return fatal("an invalid plan");
    begin(*plan);
  } else if (type == "go" && (phase_ == Phase::Joining || phase_ == Phase::Joined)) {
    if (!message.contains("start_ns") || !message["start_ns"].is_number_unsigned()) return fatal("go without start_ns");
    go(message["start_ns"].get<uint64_t>());
  } else if (type == "stop" && phase_ == Phase::Throwing) {
    uint64_t now = uv_hrtime();
    pacer_->cut(now);
    ledger_->cut_window(now);
  } else if (type == "finish") {
    finish(/*with_report=*/true);
  }
}

void SwarmChild::on_input_closed() {
  if (phase_ == Phase::Leaving || phase_ == Phase::Done) return;
  finish(/*with_report=*/false);
}

void SwarmChild::begin(const ChildPlan& plan) {
  plan_ = plan;
  std::string error;
  // The parent resolved the names: the plan holds addresses, and the names
  // only for the Host header and the certificate check.
  auto master = planned_endpoint(plan.master, plan.master_host, error);
  auto worker = planned_endpoint(plan.worker, plan.worker_host, error);
  if (!master || !worker) return fatal("bad address in the plan: " + error);
  if (!master->resolved() || !worker->resolved()) return fatal("a name in the plan where an address belongs");
  FleetConfig config;
  if (master->tls || worker->tls) {
    // One context for every connection of this child (swarm_options.h).
    config.tls = tls::TlsContext::client(plan.ca_file, error);
    if (!config.tls) return fatal(error);
  }
  config.master = *master;
  config.worker = *worker;
  if (!plan.source.empty()) {
    config.source = client::parse_ipv4(plan.source);
    if (!config.source) return fatal("bad source address in the plan: " + plan.source);
  }
  config.first_node = plan.first_node;
  config.nodes = plan.nodes;
  config.groups = plan.groups;
  config.group_prefix = plan.group_prefix;
  config.poll_timeout_ms = plan.poll_timeout_ms;
  ledger_ = std::make_unique<Ledger>(plan.procs, plan.index);
  fleet_ = std::make_unique<Fleet>(loop_, std::move(config), *ledger_, plan.seed);
  pacer_ = std::make_unique<Pacer>(plan.mode, plan.interval_ms, plan.rate, plan.closed, plan.nodes, plan.seed ^ 0x5bd1e995u);
  phase_ = Phase::Joining;
  join_began_ms_ = uv_now(loop_);
  last_progress_ms_ = join_began_ms_;
  uv_timer_start(&tick_, &SwarmChild::on_tick, 0, kTickMs);
}

void SwarmChild::go(uint64_t start_ns) {
  const ChildPlan& p = *plan_;
  uint64_t window_from = start_ns + p.warmup_ms * 1000000ull;
  uint64_t window_to = window_from + p.duration_ms * 1000000ull;
  ledger_->set_window(window_from, window_to);
  pacer_->start(start_ns, window_to);
  phase_ = Phase::Throwing;
}

bool SwarmChild::fire(std::optional<size_t> node, uint64_t now_ns) {
  bool sent = fleet_->throw_from(node, now_ns, [this] {
    if (pacer_ && phase_ == Phase::Throwing) pacer_->on_answer(uv_hrtime(), fire_);
  });
  if (!sent) ledger_->skipped(now_ns);
  return sent;
}

void SwarmChild::on_tick(uv_timer_t* timer) {
  auto* c = static_cast<SwarmChild*>(timer->data);
  guarded("swarm child: tick", [c] { c->tick(); });
}

void SwarmChild::tick() {
  uint64_t now_ms = uv_now(loop_);
  uint64_t now_ns = uv_hrtime();
  fleet_->retry(now_ms);
  if (phase_ == Phase::Joining) {
    // Joins allowed so far at the plan's rate; the first goes at once.
    double allowed = std::floor(static_cast<double>(now_ms - join_began_ms_) / 1000.0 * plan_->join_rate) + 1;
    auto target = static_cast<uint64_t>(std::min(allowed, static_cast<double>(plan_->nodes)));
    if (target > joins_started_) joins_started_ += fleet_->join_some(target - joins_started_);
    if (fleet_->joining_done()) {
      phase_ = Phase::Joined;
      channel_->send(nlohmann::json{{"type", "joined"},
                                    {"joined", fleet_->joined()},
                                    {"failed", fleet_->join_failed()},
                                    {"held", fleet_->held()}}
                         .dump());
    }
  }
  if (phase_ == Phase::Throwing) {
    pacer_->tick(now_ns, fire_);
    if (pacer_->over(now_ns)) {
      held_at_end_ = fleet_->held();
      held_recorded_ = true;
      phase_ = Phase::Draining;
    }
  }
  uint64_t every = phase_ == Phase::Draining ? kDrainProgressMs : kProgressMs;
  if (now_ms - last_progress_ms_ >= every) {
    last_progress_ms_ = now_ms;
    send_progress(now_ns);
  }
}

void SwarmChild::send_progress(uint64_t now_ns) {
  nlohmann::json p = ledger_->progress();
  p["type"] = "progress";
  p["at_ns"] = now_ns;
  p["held"] = fleet_->held();
  p["joined"] = fleet_->joined();
  p["join_failed"] = fleet_->join_failed();
  p["throwing"] = phase_ == Phase::Throwing;
  channel_->send(p.dump());
}

void SwarmChild::finish(bool with_report) {
  if (phase_ == Phase::Leaving || phase_ == Phase::Done) return;
  Phase was = phase_;
  phase_ = Phase::Leaving;
  uv_timer_stop(&tick_);
  if (with_report && ledger_) {
    ChildFigures& f = ledger_->figures();
    fleet_->fill(f);
    f.held = held_recorded_ ? held_at_end_ : fleet_->held();
    rusage self{};
    ::getrusage(RUSAGE_SELF, &self);
    f.cpu_user_s = seconds(self.ru_utime);
    f.cpu_system_s = seconds(self.ru_stime);
    channel_->send(f.to_json().dump());
  }
  if (!fleet_ || was == Phase::WaitingPlan) return close_all();
  uv_timer_start(&guard_, &SwarmChild::on_guard, kLeaveGuardMs, 0);
  fleet_->leave_all([this] { close_all(); });
}

void SwarmChild::on_guard(uv_timer_t* timer) {
  guarded("swarm child: leave guard", [&] {
    auto* c = static_cast<SwarmChild*>(timer->data);
    LOG_WARN("swarm child: not every node could leave within %llu s", static_cast<unsigned long long>(kLeaveGuardMs / 1000));
    c->close_all();
  });
}

void SwarmChild::on_signal(uv_signal_t* signal, int) {
  guarded("swarm child: signal", [&] {
    auto* c = static_cast<SwarmChild*>(signal->data);
    c->finish(/*with_report=*/false);
  });
}

void SwarmChild::fatal(const std::string& message) {
  LOG_ERROR("swarm child: %s", message.c_str());
  exit_code_ = 1;
  if (channel_) channel_->send(nlohmann::json{{"type", "fatal"}, {"message", message}}.dump());
  phase_ = Phase::Leaving;
  if (fleet_) {
    uv_timer_stop(&tick_);
    uv_timer_start(&guard_, &SwarmChild::on_guard, kLeaveGuardMs, 0);
    fleet_->leave_all([this] { close_all(); });
    return;
  }
  close_all();
}

// Often called from inside a session's callback (the last leave's answer),
// where the fleet must not be destroyed: the teardown runs on the next loop
// turn, from a timer.
void SwarmChild::close_all() {
  if (closed_) return;
  closed_ = true;
  phase_ = Phase::Done;
  uv_timer_stop(&tick_);
  uv_timer_start(&guard_, &SwarmChild::on_teardown, 0, 0);
}

// Releases the fleet's connections, lets the channel flush its last lines and
// close, and closes the child's own handles; the loop then ends by itself.
void SwarmChild::on_teardown(uv_timer_t* timer) {
  guarded("swarm child: teardown", [&] {
    auto* c = static_cast<SwarmChild*>(timer->data);
    c->fleet_.reset();
    c->pacer_.reset();
    c->channel_.reset();
    for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(&c->tick_), reinterpret_cast<uv_handle_t*>(&c->guard_),
                           reinterpret_cast<uv_handle_t*>(&c->sigterm_)}) {
      if (!uv_is_closing(h)) uv_close(h, nullptr);
    }
  });
}

}  // namespace sprites::swarm
