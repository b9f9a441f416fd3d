// See mailbox.h.
#include "master/mailbox.h"

#include <charconv>
#include <utility>

namespace sprites::master {

void Mailbox::append(Event&& event) {
  last_seq_ = event.seq;
  events_.push_back(std::move(event));
}

void Mailbox::render(uint64_t after, size_t max, std::string& out) const {
  char number[24];
  size_t first = head_;
  if (size() > 0 && after >= events_[head_].seq) first = head_ + static_cast<size_t>(after - events_[head_].seq + 1);
  size_t end = events_.size();
  if (first > end) first = end;
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
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].seq != last_seq - events.size() + 1 + i || events[i].seq == 0) return false;
  }
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
