// A Relay on a loop of its own, closed cleanly when the test ends: shared by
// the unit tests that drive the master's domain core without sockets.
#pragma once

#include <catch2/catch.hpp>
#include <uv.h>

#include <memory>

#include "master/relay.h"

namespace sprites::master::test {

struct RelayFixture {
  uv_loop_t loop{};
  Counters counters;
  RelayConfig config;
  std::unique_ptr<Relay> relay;

  explicit RelayFixture(uint32_t width = 3) {
    uv_loop_init(&loop);
    config.grid_width = width;
    config.max_nodes = 1000;
    config.rate_limit = 0;
    relay = std::make_unique<Relay>(&loop, config, counters);
  }
  ~RelayFixture() {
    relay->close();
    uv_run(&loop, UV_RUN_DEFAULT);
    relay.reset();
    CHECK(uv_loop_close(&loop) == 0);
  }
  RelayFixture(const RelayFixture&) = delete;
  RelayFixture& operator=(const RelayFixture&) = delete;
};

}  // namespace sprites::master::test
