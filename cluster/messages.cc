// See messages.h.
#include "cluster/messages.h"

#include <nlohmann/json.hpp>

#include "common/options.h"

namespace sprites::cluster {

std::string heartbeat_subject(std::string_view cluster) { return "sprites." + std::string(cluster) + ".relays"; }

std::string relay_subject(std::string_view cluster, std::string_view relay_id) {
  return "sprites." + std::string(cluster) + ".relay." + std::string(relay_id);
}

std::string_view relay_of_subject(std::string_view cluster, std::string_view subject) {
  const std::string prefix = relay_subject(cluster, "");
  if (subject.size() <= prefix.size() || subject.substr(0, prefix.size()) != prefix) return {};
  std::string_view id = subject.substr(prefix.size());
  return valid_relay_id(id) ? id : std::string_view();
}

std::string encode_heartbeat(const Heartbeat& hb) {
  nlohmann::ordered_json j;
  j["v"] = 1;
  j["id"] = hb.id;
  j["inc"] = hb.incarnation;
  j["master"] = hb.master;
  j["worker"] = hb.worker;
  j["nodes"] = hb.nodes;
  return j.dump();
}

std::optional<Heartbeat> decode_heartbeat(std::string_view text) {
  if (text.size() > kMaxHeartbeatBytes) return std::nullopt;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  auto field = [&](const char* name) -> const nlohmann::json* {
    auto it = j.find(name);
    return it == j.end() ? nullptr : &*it;
  };
  const auto* v = field("v");
  const auto* id = field("id");
  const auto* inc = field("inc");
  const auto* master = field("master");
  const auto* worker = field("worker");
  const auto* nodes = field("nodes");
  if (!v || !v->is_number_unsigned() || v->get<uint64_t>() != 1) return std::nullopt;
  if (!id || !id->is_string() || !inc || !inc->is_number_unsigned() || !master || !master->is_string() ||
      !worker || !worker->is_string() || !nodes || !nodes->is_number_unsigned()) {
    return std::nullopt;
  }
  Heartbeat hb;
  hb.id = id->get<std::string>();
  hb.incarnation = inc->get<uint64_t>();
  hb.master = master->get<std::string>();
  hb.worker = worker->get<std::string>();
  hb.nodes = nodes->get<uint64_t>();
  if (!valid_relay_id(hb.id) || !valid_public_url(hb.master) || !valid_public_url(hb.worker)) return std::nullopt;
  return hb;
}

std::string_view home_of(std::string_view node_id) {
  const size_t dash = node_id.find('-');
  if (dash == std::string_view::npos) return {};
  std::string_view home = node_id.substr(0, dash);
  return valid_relay_id(home) ? home : std::string_view();
}

}  // namespace sprites::cluster
