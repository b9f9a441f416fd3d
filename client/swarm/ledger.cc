// See ledger.h.
#include "client/swarm/ledger.h"

#include <algorithm>
#include <charconv>

namespace sprites::swarm {

Ledger::Ledger(uint32_t procs, uint32_t self) : procs_(procs), self_(self) {
  figures_.index = self;
  figures_.delivered_bits.resize(procs);
}

void Ledger::set_window(uint64_t from_ns, uint64_t to_ns) {
  from_ns_ = from_ns;
  to_ns_ = to_ns;
}

void Ledger::cut_window(uint64_t now_ns) {
  to_ns_ = std::min(to_ns_, now_ns);
  from_ns_ = std::min(from_ns_, to_ns_);
}

ThrowTicket Ledger::begin_throw(uint64_t now_ns) {
  ThrowTicket t{next_seq_++, now_ns};
  ++in_flight_;
  ++figures_.sent_all;
  if (measured(now_ns)) ++figures_.sent;
  return t;
}

std::string Ledger::sprite_id(uint64_t seq) const {
  return std::to_string(self_) + "-" + std::to_string(seq);
}

std::string Ledger::sprite_json(uint64_t sent_ns) {
  return "{\"swarm\":1,\"t\":" + std::to_string(sent_ns) + "}";
}

void Ledger::end_throw(const ThrowTicket& ticket, const client::Response& response) {
  --in_flight_;
  bool in_window = measured(ticket.sent_ns);
  if (response.status == 202) {
    ++figures_.accepted_all;
    figures_.accepted_bits.test_and_set(ticket.seq);
    if (in_window) ++figures_.accepted;
    return;
  }
  ++rejected_all_;
  if (!in_window) return;
  if (!response.answered()) ++figures_.no_answer;
  else ++figures_.rejected[client::outcome(response)];
}

void Ledger::skipped(uint64_t now_ns) {
  if (measured(now_ns)) ++figures_.skipped;
}

bool Ledger::parse_id(const client::RawObject& event, uint32_t& child, uint64_t& seq) const {
  std::string id;
  if (!event.read_string("id", id)) return false;
  size_t dash = id.find('-');
  if (dash == std::string::npos) return false;
  const char* begin = id.data();
  auto a = std::from_chars(begin, begin + dash, child);
  auto b = std::from_chars(begin + dash + 1, begin + id.size(), seq);
  return a.ec == std::errc() && a.ptr == begin + dash && b.ec == std::errc() && b.ptr == begin + id.size() &&
         child < procs_;
}

void Ledger::on_sprite(const client::RawObject& event, uint64_t now_ns) {
  uint32_t child = 0;
  uint64_t seq = 0;
  uint64_t sent_ns = 0;
  std::optional<std::string_view> sprite = event.member("sprite");
  if (!parse_id(event, child, seq) || !sprite || !client::RawObject(*sprite).read_uint("t", sent_ns)) {
    ++figures_.foreign;
    return;
  }
  if (figures_.delivered_bits[child].test_and_set(seq)) {
    ++figures_.duplicated;
    return;
  }
  ++figures_.delivered_all;
  uint64_t latency = now_ns > sent_ns ? now_ns - sent_ns : 0;
  recent_.record(latency);
  if (measured(sent_ns)) {
    ++figures_.delivered;
    figures_.latency_ns.record(latency);
  }
}

void Ledger::on_returned(const client::RawObject& event) {
  ++figures_.returned;
  uint32_t child = 0;
  uint64_t seq = 0;
  if (parse_id(event, child, seq) && child == self_) figures_.returned_bits.test_and_set(seq);
}

nlohmann::json Ledger::progress() {
  nlohmann::json out = {{"sent", figures_.sent_all},
                        {"accepted", figures_.accepted_all},
                        {"refused", rejected_all_},
                        {"delivered", figures_.delivered_all},
                        {"duplicated", figures_.duplicated},
                        {"in_flight", in_flight_},
                        {"latency_ns", recent_.to_json()}};
  recent_.clear();
  return out;
}

}  // namespace sprites::swarm
