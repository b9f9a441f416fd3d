// See stats.h.
#include "master/stats.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "common/version.h"

namespace sprites::master {

std::string render_stats_json(const Counters& c, const Gauges& g, std::string_view member) {
  char buf[1024];
  int n = std::snprintf(
      buf, sizeof buf,
      "{\"nodes\":%llu,\"groups\":%llu,\"connections\":%llu,\"polls_pending\":%llu,"
      "\"workers\":{\"connected\":%llu},"
      "\"sprites\":{\"accepted\":%llu,\"delivered\":%llu,\"returned\":%llu,\"dropped\":%llu,\"rejected\":%llu},"
      "\"joins\":{\"invalid_ticket\":%llu,\"rate_limited\":%llu},"
      "\"uptime_s\":%llu,\"rss_bytes\":%llu}",
      static_cast<unsigned long long>(g.nodes), static_cast<unsigned long long>(g.groups),
      static_cast<unsigned long long>(g.connections), static_cast<unsigned long long>(g.polls_pending),
      static_cast<unsigned long long>(g.workers_connected), static_cast<unsigned long long>(c.accepted),
      static_cast<unsigned long long>(c.delivered), static_cast<unsigned long long>(c.returned),
      static_cast<unsigned long long>(c.dropped), static_cast<unsigned long long>(c.rejected),
      static_cast<unsigned long long>(c.joins_invalid_ticket), static_cast<unsigned long long>(c.joins_rate_limited),
      static_cast<unsigned long long>(g.uptime_s), static_cast<unsigned long long>(g.rss_bytes));
  std::string out(buf, n > 0 ? static_cast<size_t>(n) : 0);
  if (!member.empty() && !out.empty()) {
    out.pop_back();
    out.push_back(',');
    out.append(member);
    out.push_back('}');
  }
  return out;
}

std::string render_metrics(const Counters& c, const Gauges& g) {
  struct Metric {
    const char* name;
    const char* type;
    const char* help;
    uint64_t value;
  };
  const Metric metrics[] = {
      {"sprites_nodes", "gauge", "Nodes on the grid.", g.nodes},
      {"sprites_groups", "gauge", "Groups with at least one node.", g.groups},
      {"sprites_connections", "gauge", "Open master-port connections.", g.connections},
      {"sprites_polls_pending", "gauge", "Long-polls being held.", g.polls_pending},
      {"sprites_workers_connected", "gauge", "Workers connected over IPC.", g.workers_connected},
      {"sprites_accepted_total", "counter", "Throws put into a receiver's mailbox.", c.accepted},
      {"sprites_delivered_total", "counter", "Sprite events acknowledged by their receiver.", c.delivered},
      {"sprites_returned_total", "counter", "Sprites returned to their thrower.", c.returned},
      {"sprites_dropped_total", "counter", "Sprites dropped because their thrower had left.", c.dropped},
      {"sprites_rejected_total", "counter", "Throws answered with a 4xx status.", c.rejected},
      {"sprites_joins_invalid_ticket_total", "counter", "Joins answered 401 invalid_ticket.", c.joins_invalid_ticket},
      {"sprites_joins_rate_limited_total", "counter", "Joins answered 429 rate_limited.", c.joins_rate_limited},
      {"sprites_uptime_seconds", "gauge", "Seconds since the master started.", g.uptime_s},
      {"sprites_rss_bytes", "gauge", "Resident memory of the master process.", g.rss_bytes},
  };
  std::string out;
  char line[256];
  for (const Metric& m : metrics) {
    int n = std::snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", m.name, m.help, m.name,
                          m.type, m.name, static_cast<unsigned long long>(m.value));
    if (n > 0) out.append(line, static_cast<size_t>(n));
  }
  out.append("# HELP sprites_throws_rejected_total Throws answered with a 4xx, by error code.\n"
             "# TYPE sprites_throws_rejected_total counter\n");
  for (size_t i = 0; i < kRejectCodes; ++i) {
    int n = std::snprintf(line, sizeof line, "sprites_throws_rejected_total{code=\"%s\"} %llu\n",
                          std::string(reject_code_name(static_cast<RejectCode>(i))).c_str(),
                          static_cast<unsigned long long>(c.rejected_by_code[i]));
    if (n > 0) out.append(line, static_cast<size_t>(n));
  }
  const DeliveryHistogram& h = c.delivery;
  out.append("# HELP sprites_delivery_seconds Time from a throw's acceptance to its receiver's acknowledgement.\n"
             "# TYPE sprites_delivery_seconds histogram\n");
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= DeliveryHistogram::kBuckets; ++i) {
    cumulative += h.counts[i];
    int n = i < DeliveryHistogram::kBuckets
                ? std::snprintf(line, sizeof line, "sprites_delivery_seconds_bucket{le=\"%g\"} %llu\n",
                                static_cast<double>(DeliveryHistogram::kBoundsMs[i]) / 1000.0,
                                static_cast<unsigned long long>(cumulative))
                : std::snprintf(line, sizeof line, "sprites_delivery_seconds_bucket{le=\"+Inf\"} %llu\n",
                                static_cast<unsigned long long>(cumulative));
    if (n > 0) out.append(line, static_cast<size_t>(n));
  }
  int n = std::snprintf(line, sizeof line, "sprites_delivery_seconds_sum %.3f\nsprites_delivery_seconds_count %llu\n",
                        static_cast<double>(h.sum_ms) / 1000.0, static_cast<unsigned long long>(h.count));
  if (n > 0) out.append(line, static_cast<size_t>(n));
  // The build, as Prometheus users expect it: a constant 1 with labels.
  out.append("# HELP sprites_build_info The version and commit of the running master.\n"
             "# TYPE sprites_build_info gauge\nsprites_build_info{version=\"");
  out.append(version());
  out.append("\",commit=\"");
  out.append(commit());
  out.append("\"} 1\n");
  return out;
}

void append_metric(std::string& out, const char* name, const char* type, const char* help, double value) {
  char line[512];
  int n = std::snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, value);
  if (n > 0) out.append(line, std::min(static_cast<size_t>(n), sizeof line - 1));
}

uint64_t read_rss_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long long size = 0, resident = 0;
  int got = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  if (got != 2) return 0;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace sprites::master
