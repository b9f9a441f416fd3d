// See coordinator.h.
#include "client/swarm/coordinator.h"

#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "common/callback_guard.h"
#include "client/protocol.h"
#include "client/swarm/server_probe.h"

namespace sprites::swarm {
namespace {

double seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; }

uint64_t ms_until(uint64_t target_ns, uint64_t now_ns) {
  return target_ns > now_ns ? (target_ns - now_ns + 999999) / 1000000 : 0;
}

uint64_t number(const nlohmann::json& message, const char* key) {
  auto it = message.find(key);
  return it != message.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

}  // namespace

Coordinator::Coordinator(uv_loop_t* loop, SwarmOptions options) : loop_(loop), options_(std::move(options)) {
  for (uv_timer_t* t : {&progress_timer_, &window_timer_, &drain_timer_, &join_guard_, &exit_guard_}) {
    uv_timer_init(loop_, t);
    t->data = this;
  }
  uv_signal_init(loop_, &sigint_);
  uv_signal_init(loop_, &sigterm_);
  sigint_.data = sigterm_.data = this;
}

Coordinator::~Coordinator() = default;

int Coordinator::run() {
  ::signal(SIGPIPE, SIG_IGN);
  began_ns_ = uv_hrtime();
  uv_signal_start(&sigint_, &Coordinator::on_signal, SIGINT);
  uv_signal_start(&sigterm_, &Coordinator::on_signal, SIGTERM);
  preflight();
  uv_run(loop_, UV_RUN_DEFAULT);
  return exit_code_;
}

void Coordinator::problem(const std::string& text) {
  facts_.problems.push_back(text);
  std::fprintf(stderr, "sprites-swarm: %s\n", text.c_str());
}

// ---- preflight: every relay answers on both ports -----------------------------

void Coordinator::preflight() {
  for (auto [what, list] : {std::pair{"master", &options_.masters}, std::pair{"worker", &options_.workers}}) {
    for (client::Endpoint& target : *list) {
      probes_.push_back(Probe{what, &target,
                              client::HttpClient::create(loop_, client::HttpClientOptions{
                                  target, std::nullopt, 1, 1u << 20, client::tls_for(target, options_.tls)})});
    }
  }
  for (size_t i = 0; i < probes_.size(); ++i) {
    probes_[i].client->send(client::Request{"GET", "/healthz", {}, {}},
                            [this, i](client::Response&& r) { on_health(i, std::move(r)); });
  }
}

void Coordinator::on_health(size_t probe, client::Response&& response) {
  Probe& p = probes_[probe];
  if (response.status != 200) {
    health_ok_ = false;
    std::fprintf(stderr, "sprites-swarm: the %s at %s is not serving: %s\n", p.what, p.target->text.c_str(),
                 client::describe(response).c_str());
  } else {
    // The children connect where the probe did (make_plans takes the first).
    p.target->addresses = {p.client->address()};
  }
  if (++health_answers_ < probes_.size()) return;
  probes_.clear();  // allowed from inside their own handlers
  options_.master = options_.masters[0];
  options_.worker = options_.workers[0];
  if (!health_ok_ || interrupts_ > 0) {
    exit_code_ = 3;
    phase_ = Phase::Done;
    close_handles();
    return;
  }
  facts_.pids.master = options_.master_pid;
  facts_.pids.workers = options_.worker_pids;
  if (!facts_.pids.known()) facts_.pids = find_server_pids(options_.master.port);
  facts_.before = sample_server(facts_.pids);
  spawn_children();
}

// ---- children ----------------------------------------------------------------

void Coordinator::spawn_children() {
  char exe[4096];
  size_t size = sizeof exe;
  if (uv_exepath(exe, &size) != 0) {
    problem("cannot find this program's own path to start the children");
    exit_code_ = 3;
    phase_ = Phase::Done;
    close_handles();
    return;
  }
  phase_ = Phase::Joining;
  std::vector<ChildPlan> plans = make_plans(options_);
  for (ChildPlan& plan : plans) {
    auto child = std::make_unique<Child>();
    child->owner = this;
    child->index = plan.index;
    child->plan = std::move(plan);
    children_.push_back(std::move(child));
  }
  for (auto& child : children_) {
    if (!spawn(*child, exe)) {
      finish_run("a child could not be started");
      return;
    }
  }
  // Joining is bounded: twice the time the join rate needs, plus half a minute.
  double need_s = static_cast<double>(options_.nodes) / options_.join_rate;
  uv_timer_start(&join_guard_, &Coordinator::on_join_guard, static_cast<uint64_t>(need_s * 2000) + 30000, 0);
  last_line_ns_ = uv_hrtime();
  if (!options_.quiet) uv_timer_start(&progress_timer_, &Coordinator::on_progress_timer, kProgressEveryMs, kProgressEveryMs);
}

bool Coordinator::spawn(Child& child, const std::string& exe) {
  child.channel = LineChannel::for_spawn(loop_);
  std::string child_flag = "--child";
  char* args[] = {const_cast<char*>(exe.c_str()), child_flag.data(), nullptr};
  uv_stdio_container_t stdio[3];
  stdio[0].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_READABLE_PIPE);
  stdio[0].data.stream = reinterpret_cast<uv_stream_t*>(child.channel->write_pipe());
  stdio[1].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[1].data.stream = reinterpret_cast<uv_stream_t*>(child.channel->read_pipe());
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = 2;
  uv_process_options_t o{};
  o.file = exe.c_str();
  o.args = args;
  o.exit_cb = &Coordinator::on_exit;
  o.stdio_count = 3;
  o.stdio = stdio;
  child.process.data = &child;
  int rc = uv_spawn(loop_, &child.process, &o);
  if (rc != 0) {
    problem("cannot start child " + std::to_string(child.index) + ": " + uv_strerror(rc));
    uv_close(reinterpret_cast<uv_handle_t*>(&child.process), nullptr);
    child.exited = child.ended = true;
    child.channel.reset();
    return false;
  }
  child.spawned = true;
  child.pid = child.process.pid;
  Child* c = &child;
  child.channel->start([this, c](std::string_view line) { on_line(*c, line); }, [this, c] { on_channel_end(*c); });
  nlohmann::json plan = to_json(child.plan);
  plan["type"] = "plan";
  child.channel->send(plan.dump());
  return true;
}

void Coordinator::on_exit(uv_process_t* process, int64_t exit_status, int term_signal) {
  guarded("swarm: child exit", [&] {
    auto* child = static_cast<Child*>(process->data);
    Coordinator* self = child->owner;
    child->exited = true;
    child->exit_status = exit_status;
    child->term_signal = term_signal;
    uv_close(reinterpret_cast<uv_handle_t*>(process), nullptr);
    if (!child->figures && self->phase_ != Phase::Done) {
      std::string how = term_signal != 0 ? "was killed by signal " + std::to_string(term_signal)
                                         : "exited with status " + std::to_string(exit_status);
      self->problem("child " + std::to_string(child->index) + " " + how + " before its report");
      if (self->phase_ < Phase::Finishing) self->finish_run("a child ended early");
    }
    self->check_done();
  });
}

void Coordinator::on_channel_end(Child& child) {
  child.ended = true;
  child.channel.reset();
  check_done();
}

void Coordinator::on_line(Child& child, std::string_view line) {
  nlohmann::json m = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!m.is_object() || !m.contains("type") || !m["type"].is_string()) {
    problem("child " + std::to_string(child.index) + " sent a line that is not a message");
    return;
  }
  std::string type = m["type"].get<std::string>();
  if (type == "progress") {
    child.at_ns = number(m, "at_ns");
    child.held = number(m, "held");
    child.joined_nodes = number(m, "joined");
    child.join_failed = number(m, "join_failed");
    child.sent = number(m, "sent");
    child.accepted = number(m, "accepted");
    child.refused = number(m, "refused");
    child.delivered = number(m, "delivered");
    child.duplicated = number(m, "duplicated");
    child.in_flight = number(m, "in_flight");
    child.throwing = m.value("throwing", false);
    if (auto h = client::Histogram::from_json(m["latency_ns"])) recent_.merge(*h);
    if (phase_ == Phase::Draining) maybe_drained();
  } else if (type == "joined") {
    child.joined = true;
    child.joined_nodes = number(m, "joined");
    child.join_failed = number(m, "failed");
    child.held = number(m, "held");
    maybe_go();
  } else if (type == "report") {
    child.figures = ChildFigures::from_json(m);
    if (!child.figures) problem("child " + std::to_string(child.index) + " sent a report that could not be read");
    check_done();
  } else if (type == "fatal") {
    std::string message = m.contains("message") && m["message"].is_string() ? m["message"].get<std::string>() : "";
    problem("child " + std::to_string(child.index) + " failed: " + message);
    if (phase_ < Phase::Finishing) finish_run("a child failed");
  }
}

// ---- phases ------------------------------------------------------------------

void Coordinator::maybe_go() {
  if (phase_ != Phase::Joining) return;
  for (const auto& c : children_) {
    if (!c->joined) return;
  }
  go();
}

void Coordinator::on_join_guard(uv_timer_t* timer) {
  guarded("swarm: join guard", [&] {
    auto* self = static_cast<Coordinator*>(timer->data);
    if (self->phase_ != Phase::Joining) return;
    self->problem("joining took longer than the guard; starting with the nodes joined so far");
    self->go();
  });
}

void Coordinator::go() {
  uv_timer_stop(&join_guard_);
  uint64_t now = uv_hrtime();
  start_ns_ = now + kStartLeadMs * 1000000ull;
  window_from_ns_ = start_ns_ + options_.warmup_ms * 1000000ull;
  window_to_ns_ = window_from_ns_ + options_.duration_ms * 1000000ull;
  phase_ = Phase::Throwing;
  for (auto& c : children_) {
    if (c->channel) c->channel->send(nlohmann::json{{"type", "go"}, {"start_ns", start_ns_}}.dump());
  }
  uv_timer_start(&window_timer_, &Coordinator::on_window_timer, ms_until(window_from_ns_, now), 0);
}

// The window's two edges: the relay's CPU at both, its memory at the end.
void Coordinator::on_window_timer(uv_timer_t* timer) {
  guarded("swarm: window", [&] {
    auto* self = static_cast<Coordinator*>(timer->data);
    uint64_t now = uv_hrtime();
    if (!self->window_opened_) {
      if (now < self->window_from_ns_) {  // the timer's millisecond grain
        uv_timer_start(timer, &Coordinator::on_window_timer, ms_until(self->window_from_ns_, now), 0);
        return;
      }
      self->window_opened_ = true;
      self->facts_.window_start = sample_server(self->facts_.pids);
      uv_timer_start(timer, &Coordinator::on_window_timer, ms_until(self->window_to_ns_, now), 0);
      return;
    }
    if (now < self->window_to_ns_) {
      uv_timer_start(timer, &Coordinator::on_window_timer, ms_until(self->window_to_ns_, now), 0);
      return;
    }
    self->on_window_edge();
  });
}

void Coordinator::on_window_edge() {
  if (window_closed_) return;
  window_closed_ = true;
  if (!window_opened_) {
    window_opened_ = true;
    facts_.window_start = sample_server(facts_.pids);
  }
  facts_.window_end = sample_server(facts_.pids);
  uint64_t now = uv_hrtime();
  uint64_t to = std::min(now, window_to_ns_);
  facts_.window_s = to > window_from_ns_ ? static_cast<double>(to - window_from_ns_) / 1e9 : 0;
  if (phase_ == Phase::Throwing) {
    phase_ = Phase::Draining;
    uv_timer_start(&drain_timer_, &Coordinator::on_drain_timer, options_.drain_ms, 0);
    maybe_drained();
  }
}

void Coordinator::maybe_drained() {
  uint64_t accepted = 0, delivered = 0, in_flight = 0;
  for (const auto& c : children_) {
    if (c->at_ns < window_to_ns_ || c->throwing) return;  // not heard from since the window closed
    accepted += c->accepted;
    delivered += c->delivered;
    in_flight += c->in_flight;
  }
  if (in_flight == 0 && delivered >= accepted) {
    facts_.drained = true;
    finish_run("");
  }
}

void Coordinator::on_drain_timer(uv_timer_t* timer) {
  guarded("swarm: drain", [&] {
    auto* self = static_cast<Coordinator*>(timer->data);
    if (self->phase_ == Phase::Draining) self->finish_run("");
  });
}

void Coordinator::finish_run(const std::string& why) {
  if (phase_ >= Phase::Finishing) return;
  if (!why.empty()) facts_.problems.push_back(why);
  if (phase_ == Phase::Throwing || phase_ == Phase::Draining) on_window_edge();
  uint64_t now = uv_hrtime();
  facts_.drain_s = window_closed_ && now > window_to_ns_ ? static_cast<double>(now - window_to_ns_) / 1e9 : 0;
  phase_ = Phase::Finishing;
  for (uv_timer_t* t : {&window_timer_, &drain_timer_, &join_guard_}) uv_timer_stop(t);
  for (auto& c : children_) {
    if (c->channel) c->channel->send(R"({"type":"finish"})");
  }
  uv_timer_start(&exit_guard_, &Coordinator::on_exit_guard, kExitGuardMs, 0);
  check_done();
}

void Coordinator::on_exit_guard(uv_timer_t* timer) {
  guarded("swarm: exit guard", [&] {
    auto* self = static_cast<Coordinator*>(timer->data);
    for (auto& c : self->children_) {
      if (c->spawned && !c->exited) {
        self->problem("child " + std::to_string(c->index) + " (pid " + std::to_string(c->pid) +
                      ") did not exit in time; killing it");
        uv_process_kill(&c->process, SIGKILL);
      }
    }
  });
}

void Coordinator::check_done() {
  if (phase_ != Phase::Finishing) return;
  for (const auto& c : children_) {
    if (!c->exited || !c->ended) return;
  }
  complete();
}

void Coordinator::complete() {
  phase_ = Phase::Done;
  rusage self{}, kids{};
  ::getrusage(RUSAGE_SELF, &self);
  ::getrusage(RUSAGE_CHILDREN, &kids);
  facts_.swarm_user_s = seconds(self.ru_utime) + seconds(kids.ru_utime);
  facts_.swarm_system_s = seconds(self.ru_stime) + seconds(kids.ru_stime);
  std::vector<ChildFigures> figures;
  for (auto& c : children_) {
    if (c->figures) figures.push_back(std::move(*c->figures));
  }
  if (figures.size() != children_.size() && facts_.problems.empty()) facts_.problems.push_back("a child sent no report");
  uint64_t held = 0;
  for (const ChildFigures& f : figures) held += f.held;
  if (figures.size() == children_.size() && held < options_.nodes) {
    facts_.problems.push_back("only " + std::to_string(held) + " of the " + std::to_string(options_.nodes) +
                              " nodes asked for were held");
  }
  exit_code_ = 3;  // unless the report below says otherwise
  guarded("swarm: report", [&] {
    nlohmann::ordered_json report = build_report(options_, figures, facts_);
    std::string text = options_.json ? report.dump(2) + "\n" : render_text(report);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    exit_code_ = !facts_.problems.empty() ? 3 : report["ok"].get<bool>() ? 0 : 1;
  });
  close_handles();
}

void Coordinator::close_handles() {
  if (handles_closed_) return;
  handles_closed_ = true;
  for (uv_timer_t* t : {&progress_timer_, &window_timer_, &drain_timer_, &join_guard_, &exit_guard_}) {
    uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), nullptr);
}

void Coordinator::on_signal(uv_signal_t* signal, int signum) {
  guarded("swarm: signal", [&] {
    auto* self = static_cast<Coordinator*>(signal->data);
    const char* name = signum == SIGINT ? "SIGINT" : "SIGTERM";
    ++self->interrupts_;
    switch (self->phase_) {
      case Phase::Preflight:
        return;  // ends when the health checks answer
      case Phase::Throwing: {
        // Cut the window short but still drain, so lost and duplicated stay exact.
        std::fprintf(stderr, "sprites-swarm: %s: stopping the throws and draining (again to skip the drain)\n", name);
        self->facts_.problems.push_back("interrupted before the end of the run");
        uint64_t now = uv_hrtime();
        self->window_to_ns_ = std::min(self->window_to_ns_, now);
        self->window_from_ns_ = std::min(self->window_from_ns_, self->window_to_ns_);
        for (auto& c : self->children_) {
          if (c->channel) c->channel->send(R"({"type":"stop"})");
        }
        self->on_window_edge();
        return;
      }
      case Phase::Joining:
      case Phase::Draining:
        std::fprintf(stderr, "sprites-swarm: %s: finishing now (again to kill the children)\n", name);
        self->finish_run(self->phase_ == Phase::Joining ? "interrupted while joining" : "interrupted while draining");
        return;
      case Phase::Finishing:
      case Phase::Done:
        if (self->interrupts_ == 1) {
          std::fprintf(stderr, "sprites-swarm: %s: waiting for the children to leave (again to kill them)\n", name);
          return;
        }
        for (auto& c : self->children_) {
          if (c->spawned && !c->exited) uv_process_kill(&c->process, SIGKILL);
        }
        return;
    }
  });
}

// ---- progress ----------------------------------------------------------------

void Coordinator::on_progress_timer(uv_timer_t* timer) {
  auto* self = static_cast<Coordinator*>(timer->data);
  guarded("swarm: progress", [self] { self->print_progress(); });
}

void Coordinator::print_progress() {
  uint64_t now = uv_hrtime();
  double dt = static_cast<double>(now - last_line_ns_) / 1e9;
  last_line_ns_ = now;
  uint64_t held = 0, joined = 0, failed = 0, sent = 0, accepted = 0, refused = 0, delivered = 0, in_flight = 0, dup = 0;
  for (const auto& c : children_) {
    held += c->held;
    joined += c->joined_nodes;
    failed += c->join_failed;
    sent += c->sent;
    accepted += c->accepted;
    refused += c->refused;
    delivered += c->delivered;
    in_flight += c->in_flight;
    dup += c->duplicated;
  }
  double t = static_cast<double>(now - began_ns_) / 1e9;
  char line[512];
  switch (phase_) {
    case Phase::Joining:
      std::snprintf(line, sizeof line, "[%6.1fs] joining    held %" PRIu64 "/%" PRIu64 "  joins/s %.0f  join failures %" PRIu64,
                    t, held, options_.nodes, dt > 0 ? static_cast<double>(joined - last_joined_) / dt : 0.0, failed);
      break;
    case Phase::Throwing:
    case Phase::Draining: {
      const char* what = phase_ == Phase::Draining ? "draining " : now < window_from_ns_ ? "warmup   " : "measuring";
      std::snprintf(line, sizeof line,
                    "[%6.1fs] %s  held %" PRIu64 "/%" PRIu64 "  throws/s %.0f  deliveries/s %.0f  p99 %.2f ms  refused %" PRIu64
                    "  in flight %" PRIu64 "  undelivered %" PRId64 "%s",
                    t, what, held, options_.nodes, dt > 0 ? static_cast<double>(sent - last_sent_) / dt : 0.0,
                    dt > 0 ? static_cast<double>(delivered - last_delivered_) / dt : 0.0,
                    static_cast<double>(recent_.percentile(99)) / 1e6, refused, in_flight,
                    // Deliveries can overtake their 202 on the way back to the thrower.
                    accepted > delivered ? static_cast<int64_t>(accepted - delivered) : int64_t{0},
                    dup != 0 ? "  DUPLICATES" : "");
      break;
    }
    default:
      std::snprintf(line, sizeof line, "[%6.1fs] finishing  waiting for %zu children", t,
                    static_cast<size_t>(std::count_if(children_.begin(), children_.end(),
                                                      [](const auto& c) { return !c->exited; })));
      break;
  }
  last_sent_ = sent;
  last_delivered_ = delivered;
  last_joined_ = joined;
  recent_.clear();
  std::fprintf(stderr, "%s\n", line);
}

}  // namespace sprites::swarm
