// See figures.h.
#include "client/swarm/figures.h"

namespace sprites::swarm {

void add_counts(CountByCode& into, const CountByCode& from) {
  for (const auto& [code, n] : from) into[code] += n;
}

uint64_t total(const CountByCode& counts) {
  uint64_t n = 0;
  for (const auto& [code, c] : counts) n += c;
  return n;
}

nlohmann::json ChildFigures::to_json() const {
  nlohmann::json delivered_sets = nlohmann::json::array();
  for (const SeqSet& s : delivered_bits) delivered_sets.push_back(s.to_base64());
  return {
      {"type", "report"},
      {"index", index},
      {"nodes",
       {{"asked", asked},
        {"joined", joined},
        {"held", held},
        {"gone", gone},
        {"join_failures", join_failures},
        {"poll_failures", poll_failures},
        {"join_started_ns", join_started_ns},
        {"join_finished_ns", join_finished_ns}}},
      {"throws",
       {{"sent", sent}, {"accepted", accepted}, {"rejected", rejected}, {"no_answer", no_answer}, {"skipped", skipped}}},
      {"deliveries", {{"count", delivered}, {"latency_ns", latency_ns.to_json()}}},
      {"run",
       {{"sent", sent_all},
        {"accepted", accepted_all},
        {"delivered", delivered_all},
        {"duplicated", duplicated},
        {"returned", returned},
        {"foreign", foreign},
        {"seq_duplicates", seq_duplicates},
        {"accepted_bits", accepted_bits.to_base64()},
        {"returned_bits", returned_bits.to_base64()},
        {"delivered_bits", std::move(delivered_sets)}}},
      {"cpu", {{"user_s", cpu_user_s}, {"system_s", cpu_system_s}}},
  };
}

std::optional<ChildFigures> ChildFigures::from_json(const nlohmann::json& v) {
  ChildFigures f;
  try {
    f.index = v.at("index").get<uint32_t>();
    const auto& n = v.at("nodes");
    f.asked = n.at("asked").get<uint64_t>();
    f.joined = n.at("joined").get<uint64_t>();
    f.held = n.at("held").get<uint64_t>();
    f.gone = n.at("gone").get<uint64_t>();
    f.join_failures = n.at("join_failures").get<CountByCode>();
    f.poll_failures = n.at("poll_failures").get<CountByCode>();
    f.join_started_ns = n.at("join_started_ns").get<uint64_t>();
    f.join_finished_ns = n.at("join_finished_ns").get<uint64_t>();
    const auto& t = v.at("throws");
    f.sent = t.at("sent").get<uint64_t>();
    f.accepted = t.at("accepted").get<uint64_t>();
    f.rejected = t.at("rejected").get<CountByCode>();
    f.no_answer = t.at("no_answer").get<uint64_t>();
    f.skipped = t.at("skipped").get<uint64_t>();
    const auto& d = v.at("deliveries");
    f.delivered = d.at("count").get<uint64_t>();
    auto latency = client::Histogram::from_json(d.at("latency_ns"));
    if (!latency) return std::nullopt;
    f.latency_ns = std::move(*latency);
    const auto& r = v.at("run");
    f.sent_all = r.at("sent").get<uint64_t>();
    f.accepted_all = r.at("accepted").get<uint64_t>();
    f.delivered_all = r.at("delivered").get<uint64_t>();
    f.duplicated = r.at("duplicated").get<uint64_t>();
    f.returned = r.at("returned").get<uint64_t>();
    f.foreign = r.at("foreign").get<uint64_t>();
    f.seq_duplicates = r.at("seq_duplicates").get<uint64_t>();
    auto accepted_set = SeqSet::from_base64(r.at("accepted_bits").get<std::string>());
    auto returned_set = SeqSet::from_base64(r.at("returned_bits").get<std::string>());
    if (!accepted_set || !returned_set) return std::nullopt;
    f.accepted_bits = std::move(*accepted_set);
    f.returned_bits = std::move(*returned_set);
    for (const auto& text : r.at("delivered_bits")) {
      auto set = SeqSet::from_base64(text.get<std::string>());
      if (!set) return std::nullopt;
      f.delivered_bits.push_back(std::move(*set));
    }
    const auto& c = v.at("cpu");
    f.cpu_user_s = c.at("user_s").get<double>();
    f.cpu_system_s = c.at("system_s").get<double>();
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
  return f;
}

}  // namespace sprites::swarm
