// SeqSet: a growable bitmap of throw sequence numbers, the swarm's exact
// record of which throws were accepted, delivered or returned.
//
// Every child numbers its throws 0, 1, 2, ... and names them "<child>-<seq>".
// A receiving child marks each delivered seq in the set of its sender, which
// is also how it counts a sprite delivered twice (the bit was already set).
// At the end the parent ORs the receivers' sets per sender and counts the
// accepted throws whose bit is still clear: lost throws, exactly, whichever
// child the receiver lived in. One bit per throw: a million throws cost
// 125 KiB, and travel through the report pipe as base64.
//
// Dropped alternative: counters only (accepted - delivered). A throw answered
// 503 but delivered anyway would hide a lost one, and a count cannot say which.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sprites::swarm {

class SeqSet {
 public:
  // Sets the bit; returns whether it was set already.
  bool test_and_set(uint64_t seq);
  bool test(uint64_t seq) const;
  uint64_t count() const;
  void merge(const SeqSet& other);  // OR
  // Members of this set in neither `a` nor `b`.
  uint64_t count_missing_from(const SeqSet& a, const SeqSet& b) const;
  // Members of both this set and `other`.
  uint64_t count_common(const SeqSet& other) const;

  std::string to_base64() const;
  static std::optional<SeqSet> from_base64(std::string_view text);

 private:
  std::vector<uint64_t> words_;
};

}  // namespace sprites::swarm
