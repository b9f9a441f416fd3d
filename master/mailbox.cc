// See mailbox.h.
#include "master/mailbox.h"

#include <algorithm>
#include <charconv>
#include <utility>

namespace sprites::master {

void Mailbox::append(Event&& event) {
  last_seq_ = event.seq;
  events_.push_back(std::move(event));
}

void Mailbox::replace_neighbors(Event&& event) {
  // Scanned from the newest: a node that hears of many changes without
  // polling keeps its one neighbors event near the end.
  for (size_t i = events_.size(); i > head_; --i) {
    if (events_[i - 1].kind == EventKind::Neighbors) {
      events_.erase(events_.begin() + static_cast<std::ptrdiff_t>(i - 1));
      break;
    }
  }
  append(std::move(event));
}

void Mailbox::render(uint64_t after, size_t max, std::string& out) const {
  char number[24];
  auto from = std::upper_bound(events_.begin() + static_cast<std::ptrdiff_t>(head_), events_.end(), after,
                               [](uint64_t a, const Event& e) { return a < e.seq; });
  size_t first = static_cast<size_t>(from - events_.begin());
  size_t end = events_.size();
  if (end - first > max) end = first + max;
  uint64_t cursor = end > first ? events_[end - 1].seq : after;
  out.append("{\"cursor\":");
  auto [p, ec] = std::to_chars(number, number + sizeof number, cursor);
  (void)ec;
  out.append(number, p);
  out.append(",\"events\":[");
  for (size_t i = first; i < end; ++i) {
    if (i != first) out.push_back(',');
    out.append(events_[i].text);
  }
  out.append("]}");
}

std::vector<Event> Mailbox::take_all() {
  std::vector<Event> out;
  out.reserve(size());
  for (size_t i = head_; i < events_.size(); ++i) out.push_back(std::move(events_[i]));
  std::vector<Event>().swap(events_);
  head_ = 0;
  return out;
}

bool Mailbox::restore(uint64_t last_seq, std::vector<Event>&& events) {
  uint64_t previous = 0;
  size_t neighbors = 0;
  for (const Event& e : events) {
    if (e.seq <= previous) return false;
    previous = e.seq;
    if (e.kind == EventKind::Neighbors) ++neighbors;
  }
  if (!events.empty() && previous != last_seq) return false;
  if (neighbors > 1) return false;
  events_ = std::move(events);
  head_ = 0;
  last_seq_ = last_seq;
  return true;
}

void Mailbox::compact() {
  if (head_ == events_.size()) {
    // An empty mailbox holds no allocation: most held nodes are idle, and a
    // kept capacity of a few events cost them ~210 bytes each (measured with
    // sprites-swarm on 10k idle nodes); a busy node pays one malloc per batch.
    std::vector<Event>().swap(events_);
    head_ = 0;
  } else if (head_ > 32 && head_ * 2 > events_.size()) {
    events_.erase(events_.begin(), events_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
}

}  // namespace sprites::master
