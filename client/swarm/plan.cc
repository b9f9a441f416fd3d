// See plan.h.
#include "client/swarm/plan.h"

namespace sprites::swarm {

std::string_view load_mode_name(LoadMode mode) {
  switch (mode) {
    case LoadMode::Interval: return "interval";
    case LoadMode::Rate: return "rate";
    case LoadMode::Closed: return "closed";
  }
  return "interval";
}

nlohmann::json to_json(const ChildPlan& p) {
  return {{"index", p.index},           {"procs", p.procs},
          {"master", p.master},         {"worker", p.worker},
          {"master_host", p.master_host}, {"worker_host", p.worker_host},
          {"source", p.source},         {"first_node", p.first_node},
          {"nodes", p.nodes},           {"groups", p.groups},
          {"group_prefix", p.group_prefix}, {"join_rate", p.join_rate},
          {"mode", load_mode_name(p.mode)}, {"interval_ms", p.interval_ms},
          {"rate", p.rate},             {"closed", p.closed},
          {"warmup_ms", p.warmup_ms},   {"duration_ms", p.duration_ms},
          {"poll_timeout_ms", p.poll_timeout_ms}, {"seed", p.seed},
          {"ca_file", p.ca_file}};
}

std::optional<ChildPlan> plan_from_json(const nlohmann::json& v) {
  if (!v.is_object()) return std::nullopt;
  ChildPlan p;
  try {
    p.index = v.at("index").get<uint32_t>();
    p.procs = v.at("procs").get<uint32_t>();
    p.master = v.at("master").get<std::string>();
    p.worker = v.at("worker").get<std::string>();
    p.master_host = v.at("master_host").get<std::string>();
    p.worker_host = v.at("worker_host").get<std::string>();
    p.source = v.at("source").get<std::string>();
    p.first_node = v.at("first_node").get<uint64_t>();
    p.nodes = v.at("nodes").get<uint64_t>();
    p.groups = v.at("groups").get<uint32_t>();
    p.group_prefix = v.at("group_prefix").get<std::string>();
    p.join_rate = v.at("join_rate").get<double>();
    std::string mode = v.at("mode").get<std::string>();
    if (mode == "interval") p.mode = LoadMode::Interval;
    else if (mode == "rate") p.mode = LoadMode::Rate;
    else if (mode == "closed") p.mode = LoadMode::Closed;
    else return std::nullopt;
    p.interval_ms = v.at("interval_ms").get<uint64_t>();
    p.rate = v.at("rate").get<double>();
    p.closed = v.at("closed").get<uint32_t>();
    p.warmup_ms = v.at("warmup_ms").get<uint64_t>();
    p.duration_ms = v.at("duration_ms").get<uint64_t>();
    p.poll_timeout_ms = v.at("poll_timeout_ms").get<uint64_t>();
    p.seed = v.at("seed").get<uint64_t>();
    p.ca_file = v.at("ca_file").get<std::string>();
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
  if (p.procs == 0 || p.index >= p.procs || p.groups == 0) return std::nullopt;
  return p;
}

std::optional<client::Endpoint> planned_endpoint(const std::string& address, const std::string& written,
                                                 std::string& error) {
  std::optional<client::Endpoint> out = client::parse_endpoint(address, &error);
  if (!out || written.empty()) return out;
  std::optional<client::Endpoint> as_written = client::parse_endpoint(written, &error);
  if (!as_written) return std::nullopt;
  out->host = as_written->host;
  out->text = as_written->text;
  return out;
}

}  // namespace sprites::swarm
