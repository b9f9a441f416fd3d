// See report.h.
#include "client/swarm/report.h"

#include <cmath>
#include <cstdio>

namespace sprites::swarm {
namespace {

using OJson = nlohmann::ordered_json;

double ms(uint64_t ns) { return std::round(static_cast<double>(ns) / 1e3) / 1e3; }

double per_second(uint64_t count, double seconds) { return seconds > 0 ? static_cast<double>(count) / seconds : 0; }

double round2(double v) { return std::round(v * 100) / 100; }

OJson counts(const CountByCode& c) {
  OJson out = OJson::object();
  for (const auto& [code, n] : c) out[code] = n;
  return out;
}

// Lost: per sender, its accepted throws missing from every receiver's
// delivered set and from its own returned set. Duplicated across children: a
// bit set by two receivers (one sprite has one receiver, so never expected).
void count_lost(const std::vector<ChildFigures>& children, uint64_t& lost, uint64_t& cross_duplicates) {
  lost = 0;
  cross_duplicates = 0;
  for (const ChildFigures& sender : children) {
    SeqSet delivered;
    for (const ChildFigures& receiver : children) {
      if (sender.index >= receiver.delivered_bits.size()) continue;
      const SeqSet& part = receiver.delivered_bits[sender.index];
      cross_duplicates += delivered.count_common(part);
      delivered.merge(part);
    }
    lost += sender.accepted_bits.count_missing_from(delivered, sender.returned_bits);
  }
}

std::string human_bytes(double bytes) {
  char buf[64];
  if (bytes >= 1024.0 * 1024 * 1024) std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
  else if (bytes >= 1024.0 * 1024) std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / (1024.0 * 1024));
  else if (bytes >= 1024.0) std::snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024.0);
  else std::snprintf(buf, sizeof buf, "%.0f B", bytes);
  return buf;
}

std::string counts_text(const OJson& c) {
  if (c.empty()) return "none";
  std::string out;
  for (auto it = c.begin(); it != c.end(); ++it) {
    if (!out.empty()) out += ", ";
    out += it.key() + ": " + std::to_string(it.value().get<uint64_t>());
  }
  return out;
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

}  // namespace

namespace {

// What the children counted, added up.
struct Totals {
  ChildFigures sum;
  double join_s = 0;
  double children_cpu_s = 0;
  uint64_t lost = 0;
  uint64_t duplicated = 0;
};

Totals add_up(const std::vector<ChildFigures>& children) {
  Totals t;
  ChildFigures& sum = t.sum;
  uint64_t join_start = UINT64_MAX, join_end = 0;
  for (const ChildFigures& c : children) {
    sum.asked += c.asked;
    sum.joined += c.joined;
    sum.held += c.held;
    sum.gone += c.gone;
    add_counts(sum.join_failures, c.join_failures);
    add_counts(sum.poll_failures, c.poll_failures);
    if (c.join_started_ns != 0) join_start = std::min(join_start, c.join_started_ns);
    join_end = std::max(join_end, c.join_finished_ns);
    sum.sent += c.sent;
    sum.accepted += c.accepted;
    add_counts(sum.rejected, c.rejected);
    sum.no_answer += c.no_answer;
    sum.skipped += c.skipped;
    sum.delivered += c.delivered;
    sum.latency_ns.merge(c.latency_ns);
    sum.sent_all += c.sent_all;
    sum.accepted_all += c.accepted_all;
    sum.delivered_all += c.delivered_all;
    sum.duplicated += c.duplicated;
    sum.returned += c.returned;
    sum.foreign += c.foreign;
    sum.seq_duplicates += c.seq_duplicates;
    t.children_cpu_s += c.cpu_user_s + c.cpu_system_s;
  }
  uint64_t cross_duplicates = 0;
  count_lost(children, t.lost, cross_duplicates);
  t.duplicated = sum.duplicated + cross_duplicates;
  t.join_s = join_end > join_start && join_start != UINT64_MAX ? static_cast<double>(join_end - join_start) / 1e9 : 0;
  return t;
}

OJson config_json(const SwarmOptions& o) {
  return {{"master", o.master.written()},
          {"worker", o.worker.written()},
          {"nodes", o.nodes},
          {"groups", o.groups},
          {"procs", o.procs},
          {"mode", load_mode_name(o.mode)},
          {"interval_s", o.mode == LoadMode::Interval ? OJson(static_cast<double>(o.interval_ms) / 1000.0) : OJson()},
          {"rate", o.mode == LoadMode::Rate ? OJson(o.rate) : OJson()},
          {"closed", o.mode == LoadMode::Closed ? OJson(o.closed) : OJson()},
          {"join_rate", o.join_rate},
          {"warmup_s", static_cast<double>(o.warmup_ms) / 1000.0},
          {"duration_s", static_cast<double>(o.duration_ms) / 1000.0},
          {"drain_limit_s", static_cast<double>(o.drain_ms) / 1000.0}};
}

OJson nodes_json(const Totals& t) {
  const ChildFigures& sum = t.sum;
  return {{"asked", sum.asked},
          {"joined", sum.joined},
          {"held", sum.held},
          {"gone", sum.gone},
          {"join_failures", counts(sum.join_failures)},
          {"poll_failures", counts(sum.poll_failures)},
          {"join_s", round2(t.join_s)},
          {"joins_per_s", round2(per_second(sum.joined, t.join_s))}};
}

OJson throws_json(const ChildFigures& sum, double window_s) {
  return {{"sent", sum.sent},
          {"accepted", sum.accepted},
          {"rejected", counts(sum.rejected)},
          {"rejected_total", total(sum.rejected)},
          {"no_answer", sum.no_answer},
          {"skipped", sum.skipped},
          {"sent_per_s", round2(per_second(sum.sent, window_s))},
          {"accepted_per_s", round2(per_second(sum.accepted, window_s))}};
}

OJson deliveries_json(const Totals& t, const RunFacts& facts) {
  return {{"count", t.sum.delivered},
          {"per_s", round2(per_second(t.sum.delivered, facts.window_s))},
          {"lost", t.lost},
          {"duplicated", t.duplicated},
          {"returned", t.sum.returned},
          {"foreign", t.sum.foreign},
          {"seq_duplicates_dropped", t.sum.seq_duplicates},
          {"drained", facts.drained},
          {"drain_s", round2(facts.drain_s)}};
}

OJson latency_json(const client::Histogram& h) {
  return {{"count", h.count()},
          {"p50", ms(h.percentile(50))},
          {"p90", ms(h.percentile(90))},
          {"p99", ms(h.percentile(99))},
          {"p99_9", ms(h.percentile(99.9))},
          {"max", ms(h.max())},
          {"mean", std::round(h.mean() / 1e3) / 1e3}};
}

OJson server_json(const ChildFigures& sum, const RunFacts& facts) {
  OJson server = {{"master_pid", facts.pids.master != 0 ? OJson(facts.pids.master) : OJson()},
                  {"worker_pids", facts.pids.workers},
                  {"master_rss_bytes", OJson()},
                  {"master_rss_before_bytes", OJson()},
                  {"master_rss_growth_bytes", OJson()},
                  {"bytes_per_held_connection", OJson()},
                  {"workers_rss_bytes", OJson()},
                  {"cpu_s", OJson()},
                  {"cpu_us_per_throw", OJson()}};
  if (facts.window_end.master) {
    server["master_rss_bytes"] = facts.window_end.master->rss_bytes;
    if (facts.before.master) {
      server["master_rss_before_bytes"] = facts.before.master->rss_bytes;
      // Only growth means anything: a master that held as many nodes before
      // (an earlier run) reuses memory its allocator kept.
      double grown = static_cast<double>(facts.window_end.master->rss_bytes) -
                     static_cast<double>(facts.before.master->rss_bytes);
      server["master_rss_growth_bytes"] = grown;
      if (sum.held > 0 && grown > 0) server["bytes_per_held_connection"] = std::round(grown / static_cast<double>(sum.held));
    }
  }
  if (facts.window_end.workers_read > 0) server["workers_rss_bytes"] = facts.window_end.workers_rss_bytes;
  if (facts.pids.known() && (facts.window_end.master || facts.window_end.workers_read > 0)) {
    double cpu = facts.window_end.cpu_seconds() - facts.window_start.cpu_seconds();
    server["cpu_s"] = round2(cpu);
    if (sum.delivered > 0) server["cpu_us_per_throw"] = round2(cpu * 1e6 / static_cast<double>(sum.delivered));
  }
  return server;
}

}  // namespace

OJson build_report(const SwarmOptions& o, const std::vector<ChildFigures>& children, const RunFacts& facts) {
  const Totals t = add_up(children);
  const ChildFigures& sum = t.sum;
  OJson run = {{"window_s", round2(facts.window_s)},
               {"sent", sum.sent_all},
               {"accepted", sum.accepted_all},
               {"delivered", sum.delivered_all}};
  OJson swarm = {{"cpu_s", round2(facts.swarm_user_s + facts.swarm_system_s)},
                 {"user_s", round2(facts.swarm_user_s)},
                 {"system_s", round2(facts.swarm_system_s)},
                 {"children_cpu_s", round2(t.children_cpu_s)}};
  return {{"ok", t.lost == 0 && t.duplicated == 0 && facts.problems.empty()},
          {"config", config_json(o)},
          {"nodes", nodes_json(t)},
          {"throws", throws_json(sum, facts.window_s)},
          {"deliveries", deliveries_json(t, facts)},
          {"latency_ms", latency_json(sum.latency_ns)},
          {"run", std::move(run)},
          {"server", server_json(sum, facts)},
          {"swarm", std::move(swarm)},
          {"problems", facts.problems}};
}

std::string render_text(const OJson& r) {
  const OJson& c = r["config"];
  const OJson& n = r["nodes"];
  const OJson& t = r["throws"];
  const OJson& d = r["deliveries"];
  const OJson& l = r["latency_ms"];
  const OJson& s = r["server"];
  const OJson& w = r["swarm"];
  std::string mode = c["mode"].get<std::string>();
  std::string load = mode == "interval" ? "a throw per node every " + fmt("%g", c["interval_s"].get<double>()) + " s"
                     : mode == "rate"   ? fmt("%g", c["rate"].get<double>()) + " throws/s (open loop)"
                                        : std::to_string(c["closed"].get<uint64_t>()) + " throws in flight (closed loop)";
  std::string out;
  out += "sprites-swarm: " + std::to_string(c["nodes"].get<uint64_t>()) + " nodes in " +
         std::to_string(c["groups"].get<uint64_t>()) + " group(s), " + std::to_string(c["procs"].get<uint64_t>()) +
         " process(es), " + load + "\n";
  out += "  relay          master " + c["master"].get<std::string>() + ", worker " + c["worker"].get<std::string>() + "\n";
  double window = r["run"]["window_s"].get<double>();
  double asked = c["duration_s"].get<double>();
  out += "  window         " + fmt("%.2f", window) + " s measured" +
         (window + 0.05 < asked ? " (cut short: " + fmt("%g", asked) + " s asked)" : std::string()) + " after " +
         fmt("%g", c["warmup_s"].get<double>()) + " s warmup; drain " + fmt("%.2f", d["drain_s"].get<double>()) + " s" +
         (d["drained"].get<bool>() ? "" : " (not drained)") + "\n";
  out += "  nodes          asked " + std::to_string(n["asked"].get<uint64_t>()) + ", joined " +
         std::to_string(n["joined"].get<uint64_t>()) + ", held " + std::to_string(n["held"].get<uint64_t>()) +
         ", gone " + std::to_string(n["gone"].get<uint64_t>()) + "; " + fmt("%.1f", n["joins_per_s"].get<double>()) +
         " joins/s over " + fmt("%.2f", n["join_s"].get<double>()) + " s\n";
  if (!n["join_failures"].empty()) out += "  join failures  " + counts_text(n["join_failures"]) + "\n";
  if (!n["poll_failures"].empty()) out += "  poll failures  " + counts_text(n["poll_failures"]) + "\n";
  out += "  throws         sent " + std::to_string(t["sent"].get<uint64_t>()) + " (" +
         fmt("%.1f", t["sent_per_s"].get<double>()) + "/s), accepted " + std::to_string(t["accepted"].get<uint64_t>()) +
         " (" + fmt("%.1f", t["accepted_per_s"].get<double>()) + "/s), rejected " +
         std::to_string(t["rejected_total"].get<uint64_t>()) + ", no answer " +
         std::to_string(t["no_answer"].get<uint64_t>()) + ", skipped " + std::to_string(t["skipped"].get<uint64_t>()) + "\n";
  if (!t["rejected"].empty()) out += "  rejected by    " + counts_text(t["rejected"]) + "\n";
  out += "  deliveries     " + std::to_string(d["count"].get<uint64_t>()) + " (" + fmt("%.1f", d["per_s"].get<double>()) +
         "/s); lost " + std::to_string(d["lost"].get<uint64_t>()) + ", duplicated " +
         std::to_string(d["duplicated"].get<uint64_t>()) + ", returned " + std::to_string(d["returned"].get<uint64_t>()) + "\n";
  out += "  latency (ms)   p50 " + fmt("%.3f", l["p50"].get<double>()) + "  p90 " + fmt("%.3f", l["p90"].get<double>()) +
         "  p99 " + fmt("%.3f", l["p99"].get<double>()) + "  p99.9 " + fmt("%.3f", l["p99_9"].get<double>()) + "  max " +
         fmt("%.3f", l["max"].get<double>()) + "  (send -> delivery, " + std::to_string(l["count"].get<uint64_t>()) +
         " samples)\n";
  if (s["master_pid"].is_null() && s["worker_pids"].empty()) {
    out += "  relay process  not found (give --master-pid/--worker-pids): memory and CPU not measured\n";
  } else {
    std::string pids = s["master_pid"].is_null() ? "?" : std::to_string(s["master_pid"].get<long>());
    std::string workers;
    for (const auto& p : s["worker_pids"]) workers += (workers.empty() ? "" : ",") + std::to_string(p.get<long>());
    out += "  master         pid " + pids;
    if (!s["master_rss_bytes"].is_null()) out += ", rss " + human_bytes(s["master_rss_bytes"].get<double>());
    if (!s["bytes_per_held_connection"].is_null()) {
      out += " (+" + human_bytes(s["master_rss_growth_bytes"].get<double>()) + " since the swarm started: " +
             fmt("%.0f", s["bytes_per_held_connection"].get<double>()) + " bytes per held connection)";
    } else if (!s["master_rss_growth_bytes"].is_null()) {
      out += " (no growth since the swarm started: memory kept from earlier nodes was reused)";
    }
    out += "\n  workers        pids " + (workers.empty() ? std::string("?") : workers);
    if (!s["workers_rss_bytes"].is_null()) out += ", rss " + human_bytes(s["workers_rss_bytes"].get<double>()) + " in all";
    out += "\n";
    if (!s["cpu_s"].is_null()) {
      out += "  relay cpu      " + fmt("%.2f", s["cpu_s"].get<double>()) + " s in the window";
      if (!s["cpu_us_per_throw"].is_null()) out += ", " + fmt("%.1f", s["cpu_us_per_throw"].get<double>()) + " us per relayed throw";
      out += "\n";
    }
  }
  out += "  swarm cpu      " + fmt("%.2f", w["cpu_s"].get<double>()) + " s (user " + fmt("%.2f", w["user_s"].get<double>()) +
         ", system " + fmt("%.2f", w["system_s"].get<double>()) + ")\n";
  for (const auto& p : r["problems"]) out += "  problem        " + p.get<std::string>() + "\n";
  out += r["ok"].get<bool>() ? "  result         ok: nothing lost, nothing duplicated\n"
                             : "  result         NOT OK\n";
  return out;
}

}  // namespace sprites::swarm
