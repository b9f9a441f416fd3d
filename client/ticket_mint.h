// Ticket minting: what an operator's site does to let a user join a relay
// that has a join key (docs/API.md "Join control"), here so that
// `sprites-cli ticket` can mint one for testing and scripts.
//
// A ticket is a JWT signed with HS256 under the join key; its claims are
// `group`, `name` when given, `iat` (now) and `exp` (now + ttl). The relay's
// checker lives in master/join_ticket.h; this side shares none of its code
// but the base64url helper, so the tests that join with a minted ticket
// check the two against each other.
//
// Dropped alternative: minting in the relay (an endpoint that hands out
// tickets). Whoever decides who may join is the site, not the relay; the
// relay only checks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sprites::client {

// `now_s` and `ttl_s` in seconds; exp = now_s + ttl_s.
std::string mint_join_ticket(std::string_view key, std::string_view group, const std::optional<std::string>& name,
                             int64_t now_s, int64_t ttl_s);

}  // namespace sprites::client
