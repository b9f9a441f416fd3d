// SwarmOptions: sprites-swarm's command line, its checks, and the split of the
// work over the child processes (make_plans).
//
// Every option is a flag; --master and --worker also read SPRITES_MASTER /
// SPRITES_WORKER like sprites-cli, and take the same forms (host:port,
// [v6]:port, http://host:port, https://host:port), and --ca (env SPRITES_CA)
// names the CA bundle https:// relays are checked against, as in sprites-cli. Durations take a unit ("500ms", "5s", "2m"; a
// bare number is seconds). Only loopback targets are accepted: the swarm opens
// thousands of sockets and must never aim them at another machine.
//
// Targets are checked twice (check_targets): while parsing, for literals, and
// once main() resolved the names, for every address a name resolved to. Every
// address must be loopback (127.0.0.0/8, ::1). The source addresses are IPv4,
// so with them a target keeps only its IPv4 addresses (`localhost` is often
// ::1 first), and one that has none (`[::1]:8000`) is a usage error that
// points at `--source-base none`.
//
// Split: a process may hold at most RLIMIT_NOFILE sockets (here a hard limit
// of 20000 that cannot be raised) and each node costs two (its poll connection
// and its throw connection), so `--procs auto` runs ceil(nodes / 8000)
// children, and at least one per CPU: each child is one event loop on one
// core, and a single child was the closed loop's ceiling (figures in
// docs/bench/history.md). Child i binds the
// client side of its sockets to source address base+i (127.0.0.2, 127.0.0.3,
// ...), so no address pair needs more than 8000 of the ~28000 ephemeral ports.
//
// TLS: the parent loads the CA (a --ca that does not load is a usage error)
// for its health checks, and hands the file's path to the children in their
// plans. The children are new programs (uv_spawn execs this binary), so
// nothing of OpenSSL crosses a fork: each child loads the CA once into one
// client context that all its thousands of connections share; a connection
// then costs its SSL object, whose record buffers are freed while it idles.
// The certificate is checked against the host as the user wrote it, which
// the plan carries beside the address.
//
// A cluster: --master and --worker take comma-separated lists of equal
// length, one pair per relay; the children are spread evenly over the pairs
// (their number rounded up to a multiple of the relays), so each relay gets
// the same share of the joins and of the load.
//
// Dropped alternative: sharing the relay's option table (common/options). The
// swarm is a client with its own vocabulary (nodes, rates, windows); only
// --master/--worker and their environment variables mirror sprites-cli.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "client/endpoint.h"
#include "client/swarm/plan.h"
#include "common/tls.h"

namespace sprites::swarm {

inline constexpr uint64_t kNodesPerProcAuto = 8000;
inline constexpr uint64_t kSocketsPerNode = 2;
inline constexpr uint64_t kSpareDescriptors = 128;

struct SwarmOptions {
  client::Endpoint master;  // the first relay's: health checks and its server figures
  client::Endpoint worker;
  // Every relay's (a cluster: --master a,b,c --worker x,y,z): child i joins
  // at masters[i % n] and throws to workers[i % n].
  std::vector<client::Endpoint> masters;
  std::vector<client::Endpoint> workers;
  uint64_t nodes = 100;
  uint32_t groups = 1;
  double join_rate = 1000;
  LoadMode mode = LoadMode::Interval;
  uint64_t interval_ms = 5000;
  double rate = 0;
  uint32_t closed = 0;
  uint64_t duration_ms = 10000;
  uint64_t warmup_ms = 2000;
  uint64_t drain_ms = 10000;
  uint32_t procs = 0;  // resolved: never 0 after parsing
  std::optional<sockaddr_in> source_base;  // nullopt: "--source-base none"
  uint64_t poll_timeout_ms = 0;
  std::string group_prefix;
  uint64_t seed = 0;
  pid_t master_pid = 0;
  std::vector<pid_t> worker_pids;
  bool json = false;
  bool quiet = false;
  bool child = false;  // internal: run as a child (plan on stdin)
  std::string ca_file;  // --ca: "" for the system's trust store
  // The client context for https:// targets (the parent's health checks);
  // null when no target is https and no --ca was given.
  std::shared_ptr<const tls::TlsContext> tls;
};

// Parses argv. Returns -1 to go on, or an exit code (0 after --help, 2 on a
// usage error, with the reason printed).
int parse_swarm_options(int argc, char** argv, SwarmOptions& out);

// After the names were resolved: every target loopback, and IPv4 when there
// are source addresses (see above). Returns -1 to go on, or 2 with the reason
// printed.
int check_swarm_targets(SwarmOptions& options);

// "500ms", "5s", "1.5s", "2m", "10" (seconds) -> milliseconds.
std::optional<uint64_t> parse_duration_ms(std::string_view text);

// One plan per child: nodes, source address, join rate and load shares, and
// the relay's address to connect to (each target's first address: after the
// preflight, the one that answered) beside the host:port its Host header
// names.
std::vector<ChildPlan> make_plans(const SwarmOptions& options);

}  // namespace sprites::swarm
