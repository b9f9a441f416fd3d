// Event text: the JSON a node's mailbox stores for each event (docs/API.md
// "long-poll", events), built in one place for the relay that makes events and for
// the snapshot loader that checks stored ones.
//
// A mailbox stores an event without its seq (it may still change: see
// mailbox.h) and writes `{"seq":N,` in front when it sends it; with_seq()
// makes the whole object. A sprite event's stored text is
// "type":"sprite","from":{"node":..,"name":..}, followed by its tail
// "direction":"..",["id":"..",]"sprite":<bytes as thrown>}. A returned event swaps the head for "type":"returned","to":{..},
// and keeps the tail byte for byte, so it is made from the stored sprite
// event without parsing; tail_at is where the tail starts. The sprite's bytes
// are spliced in verbatim: the relay never re-encodes a sprite.
//
// A neighbors event's text is sized exactly, and a sprite's or returned
// event's reserves at most 96 bytes more than it needs: a node keeps its
// events until it polls, and a held idle node is the product's unit of memory.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/direction.h"

namespace sprites::master {

struct EventRef {
  std::string_view node;
  std::string_view name;
};

// {"node":"<id>","name":"<name>"}
void append_ref(std::string& out, EventRef ref);

// A sprite event; `tail_at` receives the offset of its tail.
std::string sprite_event_text(EventRef from, Direction direction, std::optional<std::string_view> id,
                              std::string_view sprite, uint32_t& tail_at);

// The returned event for a sprite event's tail (`tail` is
// sprite_text.substr(tail_at)); `tail_at` receives the offset of the tail in
// the new text.
std::string returned_event_text(EventRef to, std::string_view tail, uint32_t& tail_at);

// "type":"neighbors",<place>} where `place` is
// "position":{..},"neighbors":{..}.
std::string neighbors_event_text(std::string_view place);

// Appends `{"seq":N,` and a stored text: the whole event object, as a poll
// answer carries it.
void append_with_seq(std::string& out, uint64_t seq, std::string_view text);
// The same, as a string of its own.
std::string with_seq(uint64_t seq, std::string_view text);

}  // namespace sprites::master
