// Stats: the relay's counters and their two renderings, /v1/stats (JSON) and
// /metrics (Prometheus text format). Counters are plain integers: the master is
// one thread. Gauges (nodes, connections, ...) are read from their owners at
// render time and passed in, so nothing is counted twice.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/reject_code.h"

namespace sprites::master {

// The time from a throw's acceptance (its sprite put into the receiver's
// mailbox) to its delivery (the receiver's poll acknowledging it), in
// milliseconds, as Prometheus histogram buckets (sprites_delivery_seconds).
struct DeliveryHistogram {
  static constexpr uint64_t kBoundsMs[] = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000};
  static constexpr size_t kBuckets = sizeof kBoundsMs / sizeof kBoundsMs[0];
  uint64_t counts[kBuckets + 1] = {};  // the last one: above every bound (+Inf)
  uint64_t sum_ms = 0;
  uint64_t count = 0;

  void observe(uint64_t ms) {
    size_t i = 0;
    while (i < kBuckets && ms > kBoundsMs[i]) ++i;
    ++counts[i];
    sum_ms += ms;
    ++count;
  }
};

struct Counters {
  uint64_t accepted = 0;   // throws put into a receiver's mailbox
  uint64_t delivered = 0;  // sprite events acknowledged by their receiver
  uint64_t returned = 0;   // sprites sent back to their thrower
  uint64_t dropped = 0;    // sprites (and unread returns) whose thrower was gone too
  uint64_t rejected = 0;   // throws answered with a 4xx, by a worker or by the master
  uint64_t rejected_by_code[kRejectCodes] = {};  // the same throws by error code (not kept across restarts)
  DeliveryHistogram delivery;  // not kept across restarts: a new master starts it anew
  // Joins refused by join control (master/join_ticket.h, join_rate_limit.h).
  // Kept apart from `rejected`, which counts sprites: an operator tells a
  // wrong key on the site from an address hammering the port.
  uint64_t joins_invalid_ticket = 0;  // 401 invalid_ticket
  uint64_t joins_rate_limited = 0;    // 429 rate_limited

  void reject(RejectCode code, uint64_t n = 1) {
    rejected += n;
    rejected_by_code[static_cast<size_t>(code) < kRejectCodes ? static_cast<size_t>(code) : kRejectCodes - 1] += n;
  }
};

struct Gauges {
  uint64_t nodes = 0;
  uint64_t groups = 0;
  uint64_t connections = 0;
  uint64_t polls_pending = 0;
  uint64_t workers_connected = 0;
  uint64_t uptime_s = 0;
  uint64_t rss_bytes = 0;
};

// `member`: one more `"name":value` member (the cluster's), or empty.
std::string render_stats_json(const Counters& c, const Gauges& g, std::string_view member = {});
std::string render_metrics(const Counters& c, const Gauges& g);
// One metric in the exposition format (# HELP, # TYPE, the value).
void append_metric(std::string& out, const char* name, const char* type, const char* help, double value);

// Resident set size of this process, from /proc/self/statm; 0 if unreadable.
uint64_t read_rss_bytes();

}  // namespace sprites::master
