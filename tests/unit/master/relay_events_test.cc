// The relay's stored events: what a join leaves in the mailboxes of the nodes
// it moved. Held nodes keep these until they poll again, and a join burst
// holds thousands at once, so their size is part of the cost of a held poll.
#include <catch2/catch.hpp>

#include <string>

#include "master/relay.h"
#include "relay_fixture.h"

using namespace sprites::master;

TEST_CASE("a neighbors event holds no more memory than its text") {
  test::RelayFixture f(3);
  for (int i = 0; i < 20; ++i) REQUIRE(f.relay->join("g", "node-" + std::to_string(i)));
  size_t neighbors_events = 0;
  f.relay->for_each_group([&](const Group& group) {
    for (uint32_t slot = 0; slot < group.grid.size(); ++slot) {
      static_cast<const Node*>(group.grid.at(slot))->mailbox.for_each([&](const Event& e) {
        if (e.kind != EventKind::Neighbors) return;
        ++neighbors_events;
        INFO(e.text);
        // Sized exactly (a short string's inline buffer aside).
        CHECK(e.text.capacity() - e.text.size() < 16);
      });
    }
  });
  // One per node that was moved or saw its neighbours change (a newer one
  // replaces one not yet sent).
  CHECK(neighbors_events >= 10);
}
