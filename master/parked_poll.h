// ParkedPoll: a poll the relay holds for a node until an event or its timeout
// answers it, as the relay sees it: an opaque pair that the transport chose
// (the HTTP connection's serial and the request's slot in it). PollAnswerer:
// the one object, per relay, that answers such polls for it (master/api.h on
// the master port; a recorder in the unit tests).
//
// The relay never holds a connection: a parked poll whose connection went
// away is found by its serial no more, so a late answer goes nowhere instead
// of to freed memory.
#pragma once

#include <cstdint>
#include <string_view>

namespace sprites::master {

struct ParkedPoll {
  uint64_t holder = 0;  // 0: none
  uint32_t slot = 0;
  bool operator==(const ParkedPoll&) const = default;
};

class PollAnswerer {
 public:
  virtual ~PollAnswerer() = default;
  // 200 with `body` ({"cursor":..,"events":[..]}); the poll is no longer held.
  virtual void answer(const ParkedPoll& poll, std::string_view body) = 0;
  // 404 unknown_node: the node left while its poll was held.
  virtual void gone(const ParkedPoll& poll) = 0;
};

}  // namespace sprites::master
