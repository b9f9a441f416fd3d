// See swarm_options.h.
#include "common/version.h"
#include "client/swarm/swarm_options.h"

#include <arpa/inet.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <random>
#include <sstream>

namespace sprites::swarm {
namespace {

int usage_error(const std::string& text) {
  std::fprintf(stderr, "sprites-swarm: %s\n", text.c_str());
  return 2;
}

uint64_t descriptor_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_max == RLIM_INFINITY) return 1u << 20;
  return lim.rlim_max;
}

std::optional<std::vector<pid_t>> parse_pid_list(const std::string& text) {
  std::vector<pid_t> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    long pid = 0;
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), pid);
    if (ec != std::errc() || end != item.data() + item.size() || pid <= 0) return std::nullopt;
    out.push_back(static_cast<pid_t>(pid));
  }
  return out;
}

}  // namespace

std::optional<uint64_t> parse_duration_ms(std::string_view text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || !(value >= 0) || !std::isfinite(value)) return std::nullopt;
  std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
  double ms = 0;
  if (unit.empty() || unit == "s") ms = value * 1000;
  else if (unit == "ms") ms = value;
  else if (unit == "m" || unit == "min") ms = value * 60000;
  else return std::nullopt;
  if (ms > 1e12) return std::nullopt;
  return static_cast<uint64_t>(std::llround(ms));
}

namespace {

// The flags as given, before they are checked and turned into SwarmOptions.
struct Flags {
  std::string master = "127.0.0.1:8000", worker = "127.0.0.1:8001";
  std::string interval, duration = "10s", warmup = "2s", drain = "10s", procs = "auto", source_base = "127.0.0.2";
  std::string worker_pids;
  std::optional<double> rate;
  std::optional<uint32_t> closed;
  long master_pid = 0;
  std::optional<uint64_t> seed;
};

void declare(CLI::App& app, SwarmOptions& out, Flags& f) {
  app.add_option("--master", f.master, "master address host:port, [IPv6]:port, http://host:port or https://host:port, loopback only (names are resolved); a cluster: one per relay, comma-separated")->envname("SPRITES_MASTER")->capture_default_str();
  app.add_option("--worker", f.worker, "worker address, as --master; a cluster: one per relay, in --master's order")->envname("SPRITES_WORKER")->capture_default_str();
  app.add_option("--nodes", out.nodes, "long-poll nodes to hold")->check(CLI::Range(uint64_t{1}, uint64_t{10000000}))->capture_default_str();
  app.add_option("--groups", out.groups, "groups the nodes are spread over")->check(CLI::Range(1u, 1000000u))->capture_default_str();
  app.add_option("--join-rate", out.join_rate, "joins per second, all processes together")->check(CLI::Range(0.1, 1e7))->capture_default_str();
  auto* interval_opt = app.add_option("--interval", f.interval, "each node throws once per interval, phases spread (default 5s)");
  auto* rate_opt = app.add_option("--rate", f.rate, "open loop: throws per second in total")->check(CLI::Range(0.001, 1e8));
  auto* closed_opt = app.add_option("--closed", f.closed, "closed loop: throws in flight in total")->check(CLI::Range(1u, 1000000u));
  interval_opt->excludes(rate_opt)->excludes(closed_opt);
  rate_opt->excludes(interval_opt)->excludes(closed_opt);
  closed_opt->excludes(interval_opt)->excludes(rate_opt);
  app.add_option("--duration", f.duration, "measured window (after the warmup)")->capture_default_str();
  app.add_option("--warmup", f.warmup, "load before the measured window, left out of the figures")->capture_default_str();
  app.add_option("--drain", f.drain, "longest wait for outstanding events after the window")->capture_default_str();
  app.add_option("--procs", f.procs, "child processes: auto = ceil(nodes/8000), at least one per CPU; or a number")->capture_default_str();
  app.add_option("--source-base", f.source_base, "first source address of the children's sockets (127.x.y.z), or none (needed for an IPv6 relay)")->capture_default_str();
  app.add_option("--poll-timeout-ms", out.poll_timeout_ms, "timeout_ms of each poll (0: the server's default)");
  app.add_option("--group-prefix", out.group_prefix, "group names are prefix + number (default: unique per run)");
  app.add_option("--seed", f.seed, "random seed (default: from the clock)");
  app.add_option("--master-pid", f.master_pid, "pid of sprites-master (default: found in /proc by the master port)");
  app.add_option("--worker-pids", f.worker_pids, "pids of the sprites-worker processes, comma-separated");
  app.add_option("--ca", out.ca_file, "PEM CA bundle to verify https:// relays against (env SPRITES_CA; default: the system's trust store)")->envname("SPRITES_CA");
  app.add_flag("--json", out.json, "print the report as JSON");
  app.add_flag("--quiet", out.quiet, "no progress lines on standard error");
  app.add_flag("--child", out.child, "internal: run as a child process (plan on standard input)")->group("");
}

// Each step checks some flags and fills part of `out`; "" or why not.
using Problem = std::string;

Problem parse_endpoint_list(const std::string& text, const char* flag, std::vector<client::Endpoint>& out) {
  size_t start = 0;
  for (;;) {
    const size_t comma = text.find(',', start);
    std::string error;
    auto e = client::parse_endpoint(std::string_view(text).substr(start, comma - start), &error);
    if (!e) return std::string(flag) + ": " + error;
    out.push_back(*e);
    if (comma == std::string::npos) return {};
    start = comma + 1;
  }
}

// One target once resolved (a name not yet resolved passes: main() checks it
// again after resolving): every address loopback; only IPv4 ones with source
// addresses.
Problem check_target(client::Endpoint& e, bool ipv4_source) {
  if (!e.resolved()) return {};
  for (const client::Address& a : e.addresses) {
    if (a.is_loopback()) continue;
    std::string where = e.is_name() ? e.text + " resolves to " + client::address_text(a) : e.text + " is not";
    return "--master and --worker must be loopback addresses (127.0.0.0/8, ::1): " + where +
           "; the swarm never targets another machine";
  }
  if (!ipv4_source) return {};
  std::erase_if(e.addresses, [](const client::Address& a) { return a.family() != AF_INET; });
  if (e.addresses.empty()) {
    return e.text + " is IPv6 and the source addresses (--source-base) are IPv4: give --source-base none";
  }
  return {};
}

Problem check_targets(SwarmOptions& out) {
  for (auto* list : {&out.masters, &out.workers}) {
    for (client::Endpoint& e : *list) {
      if (Problem why = check_target(e, out.source_base.has_value()); !why.empty()) return why;
    }
  }
  out.master = out.masters[0];
  out.worker = out.workers[0];
  return {};
}

Problem check_literal_targets(const Flags&, SwarmOptions& out) { return check_targets(out); }

Problem resolve_endpoints(const Flags& f, SwarmOptions& out) {
  out.masters.clear();
  out.workers.clear();
  if (Problem why = parse_endpoint_list(f.master, "--master", out.masters); !why.empty()) return why;
  if (Problem why = parse_endpoint_list(f.worker, "--worker", out.workers); !why.empty()) return why;
  if (out.masters.size() != out.workers.size()) {
    return "--master and --worker list one address per relay: give as many of each";
  }
  if (out.masters.size() > 64) return "at most 64 relays";
  out.master = out.masters[0];
  out.worker = out.workers[0];
  return {};
}

Problem resolve_load(const Flags& f, SwarmOptions& out) {
  if (f.rate) {
    out.mode = LoadMode::Rate;
    out.rate = *f.rate;
  } else if (f.closed) {
    out.mode = LoadMode::Closed;
    out.closed = *f.closed;
  } else {
    out.mode = LoadMode::Interval;
    if (!f.interval.empty()) {
      auto ms = parse_duration_ms(f.interval);
      if (!ms || *ms == 0) return "--interval: '" + f.interval + "' is not a positive duration (5s, 500ms)";
      out.interval_ms = *ms;
    }
  }
  if (out.groups > out.nodes) return "--groups cannot exceed --nodes";
  return {};
}

Problem resolve_windows(const Flags& f, SwarmOptions& out) {
  auto d = parse_duration_ms(f.duration);
  if (!d || *d == 0) return "--duration: '" + f.duration + "' is not a positive duration (10s, 1m)";
  out.duration_ms = *d;
  auto wu = parse_duration_ms(f.warmup);
  if (!wu) return "--warmup: '" + f.warmup + "' is not a duration (2s, 0)";
  out.warmup_ms = *wu;
  auto dr = parse_duration_ms(f.drain);
  if (!dr) return "--drain: '" + f.drain + "' is not a duration (10s)";
  out.drain_ms = *dr;
  return {};
}

Problem resolve_procs(const Flags& f, SwarmOptions& out) {
  uint64_t limit = descriptor_limit();
  uint64_t per_proc_max = limit > kSpareDescriptors ? (limit - kSpareDescriptors) / kSocketsPerNode : 0;
  if (f.procs == "auto") {
    uint64_t by_sockets = (out.nodes + kNodesPerProcAuto - 1) / kNodesPerProcAuto;
    long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    out.procs = static_cast<uint32_t>(std::min<uint64_t>(250, std::max<uint64_t>(by_sockets, cpus > 0 ? cpus : 1)));
  } else {
    unsigned n = 0;
    auto [end, ec] = std::from_chars(f.procs.data(), f.procs.data() + f.procs.size(), n);
    if (ec != std::errc() || end != f.procs.data() + f.procs.size() || n == 0 || n > 250) {
      return "--procs must be auto or 1..250";
    }
    out.procs = n;
  }
  // Every relay gets as many children as the others.
  const uint32_t relays = static_cast<uint32_t>(out.masters.size());
  if (relays > 1) out.procs = (out.procs + relays - 1) / relays * relays;
  if (out.procs > out.nodes) out.procs = static_cast<uint32_t>(out.nodes);
  uint64_t per_proc = (out.nodes + out.procs - 1) / out.procs;
  if (per_proc > per_proc_max) {
    return std::to_string(per_proc) + " nodes per process need " + std::to_string(per_proc * kSocketsPerNode) +
           " sockets, over this process's file limit of " + std::to_string(limit) + ": raise --procs to at least " +
           std::to_string((out.nodes + per_proc_max - 1) / std::max<uint64_t>(per_proc_max, 1));
  }
  if (out.procs > 250) return "more than 250 processes: lower --nodes";
  return {};
}

Problem resolve_source_base(const Flags& f, SwarmOptions& out) {
  if (f.source_base == "none" || f.source_base.empty()) {
    out.source_base.reset();
    return {};
  }
  auto base = client::parse_ipv4(f.source_base);
  if (!base) return "--source-base: '" + f.source_base + "' is not an IPv4 address";
  uint32_t first = ntohl(base->sin_addr.s_addr);
  uint32_t last = first + out.procs - 1;
  if ((first >> 24) != 127 || (last >> 24) != 127) {
    return "--source-base: every child's source address must stay in 127.0.0.0/8";
  }
  out.source_base = base;
  return {};
}

// The client context, when a target is https:// or a CA was given (which
// must then load, https or not: a typo should not wait for the day it
// matters).
Problem resolve_tls(const Flags&, SwarmOptions& out) {
  bool https = false;
  for (auto* list : {&out.masters, &out.workers}) {
    for (const client::Endpoint& e : *list) https = https || e.tls;
  }
  if (!https && out.ca_file.empty()) return {};
  std::string why;
  out.tls = tls::TlsContext::client(out.ca_file, why);
  if (!out.tls) return out.ca_file.empty() ? why : "--ca: " + why;
  return {};
}

Problem resolve_identity(const Flags& f, SwarmOptions& out) {
  if (!f.worker_pids.empty()) {
    auto pids = parse_pid_list(f.worker_pids);
    if (!pids) return "--worker-pids: a comma-separated list of pids, e.g. 123,124";
    out.worker_pids = *pids;
  }
  if (f.master_pid < 0) return "--master-pid must be a pid";
  out.master_pid = static_cast<pid_t>(f.master_pid);
  out.seed = f.seed ? *f.seed : static_cast<uint64_t>(std::random_device{}()) << 32 ^ static_cast<uint64_t>(::getpid());
  if (out.group_prefix.empty()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "swarm-%ld-%04x-", static_cast<long>(::getpid()),
                  static_cast<unsigned>(out.seed & 0xffff));
    out.group_prefix = buf;
  }
  return {};
}

}  // namespace

int parse_swarm_options(int argc, char** argv, SwarmOptions& out) {
  CLI::App app{"sprites-swarm: a swarm of long-poll nodes that throw sprites at a sprites relay on this machine",
               "sprites-swarm"};
  app.set_version_flag("--version", sprites::version_line("sprites-swarm"), "print the version and the commit, and exit");
  Flags flags;
  declare(app, out, flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (out.child) return -1;
  // In this order: the process count needs the nodes and load, the source
  // addresses need the process count.
  for (auto step : {resolve_endpoints, resolve_load, resolve_windows, resolve_procs, resolve_source_base,
                    check_literal_targets, resolve_tls, resolve_identity}) {
    if (Problem why = step(flags, out); !why.empty()) return usage_error(why);
  }
  return -1;
}

int check_swarm_targets(SwarmOptions& options) {
  if (Problem why = check_targets(options); !why.empty()) return usage_error(why);
  return -1;
}

std::vector<ChildPlan> make_plans(const SwarmOptions& o) {
  std::vector<ChildPlan> plans;
  uint64_t first = 0;
  for (uint32_t i = 0; i < o.procs; ++i) {
    ChildPlan p;
    p.index = i;
    p.procs = o.procs;
    const client::Endpoint& master = o.masters.empty() ? o.master : o.masters[i % o.masters.size()];
    const client::Endpoint& worker = o.workers.empty() ? o.worker : o.workers[i % o.workers.size()];
    p.master = std::string(master.tls ? "https://" : "") +
               (master.resolved() ? client::address_text(master.addresses[0]) : master.text);
    p.worker = std::string(worker.tls ? "https://" : "") +
               (worker.resolved() ? client::address_text(worker.addresses[0]) : worker.text);
    p.master_host = master.text;
    p.worker_host = worker.text;
    p.ca_file = o.ca_file;
    if (o.source_base) {
      sockaddr_in a = *o.source_base;
      a.sin_addr.s_addr = htonl(ntohl(a.sin_addr.s_addr) + i);
      p.source = client::ipv4_text(a);
    }
    // Nodes, closed-loop slots: as even as integers allow, the remainder to the first children.
    p.nodes = o.nodes / o.procs + (i < o.nodes % o.procs ? 1 : 0);
    p.first_node = first;
    first += p.nodes;
    p.groups = o.groups;
    p.group_prefix = o.group_prefix;
    double share = static_cast<double>(p.nodes) / static_cast<double>(o.nodes);
    p.join_rate = o.join_rate * share;
    p.mode = o.mode;
    p.interval_ms = o.interval_ms;
    p.rate = o.rate * share;
    p.closed = o.closed / o.procs + (i < o.closed % o.procs ? 1 : 0);
    p.warmup_ms = o.warmup_ms;
    p.duration_ms = o.duration_ms;
    p.poll_timeout_ms = o.poll_timeout_ms;
    p.seed = o.seed + i * 0x9e3779b97f4a7c15ull;
    plans.push_back(std::move(p));
  }
  return plans;
}

}  // namespace sprites::swarm
