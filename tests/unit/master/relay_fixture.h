// A Relay with the fakes its seams allow: a clock the test moves by hand
// (time, deadlines, the end of a loop turn) and an answerer that records what
// the relay answered to which parked poll. No event loop, no socket, no sleep:
// shared by the unit tests that drive the master's domain core.
#pragma once

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "master/relay.h"

namespace sprites::master::test {

// Time starts at 1,000,000 ms and moves only when the test says so.
class FakeClock final : public RelayClock {
 public:
  void set_sleeper(Sleeper* sleeper) override { sleeper_ = sleeper; }
  uint64_t now_ms() const override { return now_; }
  void wake_at(uint64_t due_ms) override { due_ = due_ms; }
  void wake_after_turn() override { turn_end_asked_ = true; }

  uint64_t due() const { return due_; }
  bool turn_end_asked() const { return turn_end_asked_; }

  // Moves time forward by `ms`, waking the relay at each deadline on the way
  // as a loop would (late wake-ups see the time of their firing).
  void advance(uint64_t ms) {
    const uint64_t until = now_ + ms;
    while (due_ != kNever && due_ <= until && sleeper_) {
      now_ = std::max(now_, due_);
      due_ = kNever;
      sleeper_->on_deadline();
    }
    now_ = until;
  }
  // Ends the loop turn: the relay answers what the turn woke.
  void end_turn() {
    if (!turn_end_asked_ || !sleeper_) return;
    turn_end_asked_ = false;
    sleeper_->on_turn_end();
  }

 private:
  Sleeper* sleeper_ = nullptr;
  uint64_t now_ = 1000000;
  uint64_t due_ = kNever;
  bool turn_end_asked_ = false;
};

// What the relay said to each parked poll, in order.
class RecordingAnswerer final : public PollAnswerer {
 public:
  struct Answer {
    ParkedPoll poll;
    bool gone = false;  // 404 unknown_node
    std::string body;   // 200's body
  };
  void answer(const ParkedPoll& poll, std::string_view body) override {
    answers.push_back(Answer{poll, false, std::string(body)});
  }
  void gone(const ParkedPoll& poll) override { answers.push_back(Answer{poll, true, {}}); }

  std::vector<Answer> answers;
};

struct RelayFixture {
  FakeClock clock;
  RecordingAnswerer answerer;
  Counters counters;
  RelayConfig config;
  std::unique_ptr<Relay> relay;

  explicit RelayFixture(uint32_t width = 3) {
    config.grid_width = width;
    config.max_nodes = 1000;
    config.rate_limit = 0;
    relay = std::make_unique<Relay>(clock, answerer, config, counters);
  }
  // A new relay with the fixture's (changed) config and no nodes.
  void rebuild() {
    relay.reset();
    relay = std::make_unique<Relay>(clock, answerer, config, counters);
  }
};

}  // namespace sprites::master::test
