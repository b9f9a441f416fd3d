// Ledger: one swarm child's accounting of throws and deliveries.
//
// Sender side: every throw gets the next seq of this child and the id
// "<child>-<seq>"; its sprite carries the send time, {"swarm":1,"t":<ns>},
// where ns is CLOCK_MONOTONIC (uv_hrtime), the same clock in every process of
// the machine, so the receiving child computes send->delivery latency without
// a round trip. The answer (202, a refusal by code, or none) is counted.
// Receiver side: a sprite event's id names its sender child and seq; the seq's
// bit in that sender's delivered set both dedups by id (a second delivery is
// counted as duplicated and nothing else) and, at the end, lets the parent
// find lost throws exactly (see SeqSet).
//
// Measured window: a throw belongs to it when its send time is in
// [from_ns, to_ns); the receiver applies the same rule to the time in the
// sprite, so sender and receiver agree without talking. Throws of the warmup
// count only in the correctness record (lost, duplicated).
//
// Dropped alternative: a per-throw record (map id -> send time) on the sender.
// It would cost memory per throw in flight and need the receiver's figures to
// travel back; the time inside the sprite costs 20 bytes on the wire.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "client/histogram.h"
#include "client/protocol.h"
#include "client/swarm/figures.h"

namespace sprites::swarm {

struct ThrowTicket {
  uint64_t seq;
  uint64_t sent_ns;
};

class Ledger {
 public:
  Ledger(uint32_t procs, uint32_t self);

  void set_window(uint64_t from_ns, uint64_t to_ns);
  // Closes the window early (the run was stopped).
  void cut_window(uint64_t now_ns);
  bool measured(uint64_t sent_ns) const { return sent_ns >= from_ns_ && sent_ns < to_ns_; }

  // Sender side.
  ThrowTicket begin_throw(uint64_t now_ns);
  std::string sprite_id(uint64_t seq) const;
  static std::string sprite_json(uint64_t sent_ns);
  void end_throw(const ThrowTicket& ticket, const client::Response& response);
  void skipped(uint64_t now_ns);

  // Receiver side.
  void on_sprite(const client::RawObject& event, uint64_t now_ns);
  void on_returned(const client::RawObject& event);

  uint64_t in_flight() const { return in_flight_; }
  uint64_t accepted_all() const { return figures_.accepted_all; }
  uint64_t delivered_all() const { return figures_.delivered_all; }

  // Cumulative counts for the live progress line, and the latencies recorded
  // since the previous call (then forgotten).
  nlohmann::json progress();
  // The figures so far (node counts are the fleet's and are filled by the caller).
  const ChildFigures& figures() const { return figures_; }
  ChildFigures& figures() { return figures_; }

 private:
  // Parses "<child>-<seq>"; false for ids that are not this swarm's.
  bool parse_id(const client::RawObject& event, uint32_t& child, uint64_t& seq) const;

  uint32_t procs_;
  uint32_t self_;
  uint64_t from_ns_ = UINT64_MAX;
  uint64_t to_ns_ = UINT64_MAX;
  uint64_t next_seq_ = 0;
  uint64_t in_flight_ = 0;
  uint64_t rejected_all_ = 0;
  ChildFigures figures_;
  client::Histogram recent_;  // latencies since the last progress()
};

}  // namespace sprites::swarm
