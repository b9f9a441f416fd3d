// See mailbox.h.
#include "master/mailbox.h"

#include <algorithm>
#include <utility>

#include "common/http_response.h"
#include "master/event_text.h"

namespace sprites::master {

uint64_t Mailbox::append(Event&& event) {
  event.seq = ++last_seq_;
  events_.push_back(std::move(event));
  return last_seq_;
}

uint64_t Mailbox::replace_neighbors(Event&& event) {
  // The unsent neighbors event, if any: scanned from the end, where a node
  // that hears of many changes without polling keeps it.
  for (size_t i = events_.size(); i > head_ + sent_; --i) {
    if (events_[i - 1].kind != EventKind::Neighbors) continue;
    events_.erase(events_.begin() + static_cast<std::ptrdiff_t>(i - 1));
    for (size_t j = i - 1; j < events_.size(); ++j) --events_[j].seq;  // unsent: nobody saw these seqs
    event.seq = last_seq_;
    events_.push_back(std::move(event));
    return last_seq_;
  }
  // Every neighbors event held was sent. Keep the newest of them (a node
  // whose answer was lost gets it again with no gap) and drop older ones: a
  // node that polls without acknowledging would otherwise pile them up.
  size_t newest_sent = events_.size();
  for (size_t i = head_ + sent_; i > head_; --i) {
    if (events_[i - 1].kind == EventKind::Neighbors) {
      newest_sent = i - 1;
      break;
    }
  }
  if (newest_sent < events_.size()) {
    auto end = events_.begin() + static_cast<std::ptrdiff_t>(newest_sent);
    auto kept = std::remove_if(events_.begin() + head_, end,
                               [](const Event& e) { return e.kind == EventKind::Neighbors; });
    sent_ -= static_cast<uint32_t>(end - kept);
    events_.erase(kept, end);
  }
  return append(std::move(event));
}

void Mailbox::render(uint64_t after, size_t max, std::string& out) {
  auto from = std::upper_bound(events_.begin() + head_, events_.end(), after,
                               [](uint64_t a, const Event& e) { return a < e.seq; });
  size_t first = static_cast<size_t>(from - events_.begin());
  size_t end = events_.size();
  if (end - first > max) end = first + max;
  uint64_t cursor = end > first ? events_[end - 1].seq : after;
  out.append("{\"cursor\":");
  http::append_uint(out, cursor);
  out.append(",\"events\":[");
  for (size_t i = first; i < end; ++i) {
    if (i != first) out.push_back(',');
    append_with_seq(out, events_[i].seq, events_[i].text);
  }
  out.append("]}");
  sent_ = std::max(sent_, static_cast<uint32_t>(end - head_));
}

std::vector<Event> Mailbox::take_all() {
  std::vector<Event> out;
  out.reserve(size());
  for (size_t i = head_; i < events_.size(); ++i) out.push_back(std::move(events_[i]));
  std::vector<Event>().swap(events_);
  head_ = 0;
  sent_ = 0;
  return out;
}

bool Mailbox::restore(uint64_t last_seq, std::vector<Event>&& events) {
  size_t neighbors = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].seq == 0 || events[i].seq != last_seq - (events.size() - 1 - i)) return false;
    if (events[i].kind == EventKind::Neighbors) ++neighbors;
  }
  if (neighbors > 2) return false;
  events_ = std::move(events);
  head_ = 0;
  sent_ = static_cast<uint32_t>(events_.size());
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
    events_.erase(events_.begin(), events_.begin() + head_);
    head_ = 0;
  }
}

}  // namespace sprites::master
