// ChildFigures: what one swarm child reports to the parent when the run ends
// (the "report" message), and how it travels as JSON.
//
// Two kinds of figures: those of the measured window only (throws sent after
// the warmup and before the end, their answers, deliveries and latencies), and
// the correctness record of the whole run (every throw's bit in the accepted,
// delivered and returned sets), from which the parent counts lost throws
// exactly. Counts by code are maps keyed by "429 rate_limited"-style outcomes.
//
// Dropped alternative: children sending only totals. Latency percentiles do
// not add up across children (histograms do), and lost throws need the sets.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/histogram.h"
#include "client/swarm/seq_set.h"

namespace sprites::swarm {

using CountByCode = std::map<std::string, uint64_t>;

struct ChildFigures {
  uint32_t index = 0;
  // Nodes.
  uint64_t asked = 0;    // nodes this child was to hold
  uint64_t joined = 0;   // 201s
  uint64_t held = 0;     // polling when the window closed
  uint64_t gone = 0;     // polls answered 404 (the node left the grid)
  CountByCode join_failures;
  CountByCode poll_failures;
  uint64_t join_started_ns = 0;
  uint64_t join_finished_ns = 0;
  // Throws of the measured window.
  uint64_t sent = 0;
  uint64_t accepted = 0;
  CountByCode rejected;   // answered, not 202
  uint64_t no_answer = 0; // the connection failed before an answer
  uint64_t skipped = 0;   // due but not sent: no node held, or its connection backlogged
  // Deliveries of the window's throws, by send time.
  uint64_t delivered = 0;
  client::Histogram latency_ns;
  // The whole run, warmup included.
  uint64_t sent_all = 0;
  uint64_t accepted_all = 0;
  uint64_t delivered_all = 0;
  uint64_t duplicated = 0;        // a sprite id delivered a second time (after dedup by seq)
  uint64_t returned = 0;          // `returned` events received
  uint64_t foreign = 0;           // sprite events whose id is not this swarm's
  uint64_t seq_duplicates = 0;    // events dropped by the sessions' dedup by seq
  SeqSet accepted_bits;               // this child's throws answered 202
  SeqSet returned_bits;               // this child's throws that came back
  std::vector<SeqSet> delivered_bits; // per sender child: throws delivered here
  // This child's own CPU time.
  double cpu_user_s = 0;
  double cpu_system_s = 0;

  nlohmann::json to_json() const;
  static std::optional<ChildFigures> from_json(const nlohmann::json& value);
};

void add_counts(CountByCode& into, const CountByCode& from);
uint64_t total(const CountByCode& counts);

}  // namespace sprites::swarm
