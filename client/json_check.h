// is_json: whether bytes are one JSON text, answered exactly as nlohmann's
// accept() answers it, with about a fifth of its instructions.
//
// The client checks every poll answer whole before it reads members out of
// the bytes (RawObject, protocol.h), so a broken answer from a relay is seen
// as broken and not half-read. That check runs once per delivered event in the
// swarm: with nlohmann's acceptor it cost about 15k instructions for a
// 180-byte answer (callgrind, closed loop); this pass costs about 3k. It
// allocates only for nesting deeper than 15 and for a number with a fraction,
// an exponent or more than 19 characters (read once with strtod to refuse an
// overflow).
//
// "Exactly as nlohmann" is the contract, corners included: one leading UTF-8
// byte order mark is skipped; strings must be valid UTF-8 (no overlong forms,
// no encoded surrogates, nothing above U+10FFFF) with no control bytes, and a
// \u escape of a high surrogate must be followed by one of a low surrogate; a
// number whose value overflows a double is refused; no depth limit; only
// whitespace after the value. tests/fuzz/fuzz_json_check compares the two on
// every input it generates.
//
// Dropped alternative: nlohmann's accept() itself (the reference above), and
// no check at all (a truncated or garbled answer could then pass for events).
#pragma once

#include <string_view>

namespace sprites::client {

bool is_json(std::string_view text);

}  // namespace sprites::client
