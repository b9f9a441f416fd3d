// ChildPlan: everything one swarm child needs to know, sent by the parent as
// the first line on the child's standard input.
//
// The parent decides (which nodes, which source address, what share of the
// join rate and of the load), the child only carries it out; so a child never
// parses the command line and the split of the work lives in one place
// (swarm_options.cc, make_plans). The clock values the child needs later
// (when throwing starts) come with the `go` message, once every child has
// joined its nodes.
//
// Dropped alternative: re-executing the child with the parent's argv plus its
// index. Every child would redo the split (and could disagree with the parent
// after a change), and CLI11 refuses a flag given twice.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "client/endpoint.h"

namespace sprites::swarm {

enum class LoadMode : uint8_t { Interval, Rate, Closed };

std::string_view load_mode_name(LoadMode mode);

struct ChildPlan {
  uint32_t index = 0;   // this child: 0..procs-1, also the sender part of sprite ids
  uint32_t procs = 1;
  std::string master;   // the address to connect to: "127.0.0.1:8000", "[::1]:8000", "https://127.0.0.1:8443"
  std::string worker;
  // The host:port as the user wrote it: the Host header, and the name an
  // https:// relay's certificate is checked against ("localhost:8000"; the
  // address when given as one).
  std::string master_host;
  std::string worker_host;
  std::string ca_file;  // for https:// relays: the CA bundle ("" = the system's trust store)
  std::string source;   // the client side of every socket binds here ("" = do not bind)
  uint64_t first_node = 0;  // global index of this child's first node
  uint64_t nodes = 0;
  uint32_t groups = 1;
  std::string group_prefix;  // group of global node k: prefix + (k % groups)
  double join_rate = 1000;   // joins per second in this child
  LoadMode mode = LoadMode::Interval;
  uint64_t interval_ms = 5000;  // Interval: each node throws once per interval
  double rate = 0;              // Rate: throws per second in this child
  uint32_t closed = 0;          // Closed: throws in flight in this child
  uint64_t warmup_ms = 0;
  uint64_t duration_ms = 10000;
  uint64_t poll_timeout_ms = 0;  // 0: the server's default
  uint64_t seed = 1;
};

nlohmann::json to_json(const ChildPlan& plan);
std::optional<ChildPlan> plan_from_json(const nlohmann::json& value);

// The endpoint a child connects to: `address` (a plan's master or worker,
// scheme included) with the host and host:port of `written` (its
// master_host or worker_host, when not empty), which the Host header shows
// and an https:// relay's certificate is checked against. nullopt and
// `error` when either does not parse.
std::optional<client::Endpoint> planned_endpoint(const std::string& address, const std::string& written,
                                                 std::string& error);

}  // namespace sprites::swarm
