// Report: the children's figures merged, plus what the parent measured itself
// (the relay's memory and CPU, the swarm's CPU, the drain), as the JSON
// document `--json` prints and the text a person reads.
//
// The JSON is the contract for scripts (a benchmark script reads it): fields
// are added, never renamed. Times are seconds, latencies milliseconds, memory
// bytes; figures that could not be measured (relay pids unknown) are null.
//
// Lost and duplicated are correctness checks and must be 0: lost counts
// throws answered 202 (warmup included) that reached neither their receiver
// nor, as `returned`, their thrower; duplicated counts sprite ids delivered a
// second time after the sessions' dedup by seq. `ok` is both being 0 and no
// problem (a child that failed, fewer nodes held than asked, an interrupted
// run) listed in `problems`.
//
// Dropped alternative: separate text and JSON builders. The text is rendered
// from the JSON, so the two can never disagree.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/swarm/figures.h"
#include "client/swarm/server_probe.h"
#include "client/swarm/swarm_options.h"

namespace sprites::swarm {

// What the parent knows besides the children's reports.
struct RunFacts {
  ServerPids pids;
  ServerSample before;        // before the first join
  ServerSample window_start;  // when the measured window opened
  ServerSample window_end;    // when it closed
  double window_s = 0;        // the measured window as it was (shorter when interrupted)
  double drain_s = 0;
  bool drained = false;       // every accepted throw delivered before the drain limit
  double swarm_user_s = 0;
  double swarm_system_s = 0;
  std::vector<std::string> problems;  // a child that failed, a window cut short
};

nlohmann::ordered_json build_report(const SwarmOptions& options, const std::vector<ChildFigures>& children,
                                    const RunFacts& facts);

std::string render_text(const nlohmann::ordered_json& report);

}  // namespace sprites::swarm
