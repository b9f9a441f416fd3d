// See membership.h.
#include "cluster/membership.h"

namespace sprites::cluster {
namespace {
constexpr uint64_t kTombstoneMs = 3600 * 1000;
}

Membership::Membership(std::string self_id, uint64_t incarnation, uint64_t timeout_ms, uint64_t now_ms)
    : self_id_(std::move(self_id)), incarnation_(incarnation), timeout_ms_(timeout_ms), self_seen_ms_(now_ms) {}

Membership::Heard Membership::heard(const Heartbeat& hb, uint64_t now, std::vector<Heartbeat>* replaced) {
  if (hb.id == self_id_) {
    if (hb.incarnation != incarnation_) return Heard::Ignored;  // an old self, or an impostor
    self_seen_ms_ = now;
    self_heard_ = true;
    return Heard::Self;
  }
  if (auto dead = gone_.find(hb.id); dead != gone_.end()) {
    if (hb.incarnation <= dead->second.incarnation) return Heard::Ignored;
  }
  auto it = others_.find(hb.id);
  if (it == others_.end()) {
    others_.emplace(hb.id, RelayInfo{hb, now});
    return Heard::New;
  }
  RelayInfo& known = it->second;
  if (hb.incarnation < known.last.incarnation) return Heard::Ignored;
  if (hb.incarnation > known.last.incarnation) {
    gone_[hb.id] = Tombstone{known.last.incarnation, now};
    if (replaced) replaced->push_back(std::move(known.last));
    known = RelayInfo{hb, now};
    return Heard::New;
  }
  known = RelayInfo{hb, now};
  return Heard::Refreshed;
}

std::vector<Heartbeat> Membership::expire(uint64_t now) {
  std::vector<Heartbeat> lost;
  if (deaf(now)) return lost;
  for (auto it = others_.begin(); it != others_.end();) {
    if (now - it->second.last_seen_ms > timeout_ms_) {
      gone_[it->first] = Tombstone{it->second.last.incarnation, now};
      lost.push_back(std::move(it->second.last));
      it = others_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = gone_.begin(); it != gone_.end();) {
    it = now - it->second.at_ms > kTombstoneMs ? gone_.erase(it) : std::next(it);
  }
  return lost;
}

bool Membership::self_cut_off(uint64_t now, uint64_t new_incarnation) {
  if (!self_heard_ || self_heard_recently(now)) return false;
  incarnation_ = new_incarnation > incarnation_ ? new_incarnation : incarnation_ + 1;
  self_seen_ms_ = now;
  self_heard_ = false;
  others_.clear();
  gone_.clear();
  return true;
}

const RelayInfo* Membership::find(std::string_view id) const {
  auto it = others_.find(id);
  return it == others_.end() ? nullptr : &it->second;
}

}  // namespace sprites::cluster
