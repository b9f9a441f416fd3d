// Join tickets (docs/API.md "Join control"): with --join-key set, a join must
// carry `Authorization: Bearer <ticket>`, a JSON Web Token (RFC 7519) signed
// with HS256 (HMAC-SHA256, RFC 7518 §3.2) under the join key. The operator's
// site mints one per user and page; the relay only checks it, statelessly.
//
// A ticket's claims: `group` (required: the group it admits), `name`
// (optional: the only name it may join with), `exp` (required: NumericDate
// seconds), `nbf` and `iat` (checked when present). Times are allowed
// kTicketLeewayS of clock skew between the site and the relay. Other claims
// are ignored, as RFC 7519 asks.
//
// The check is a pure function of (key, ticket, now), in this order: the
// size (at most kMaxTicketBytes, before anything is decoded), three base64url
// parts, a header that is a JSON object whose `alg` is exactly "HS256" and
// that has no `crit` (none of its extensions is understood here), the
// signature (compared in constant time), and only then the claims: nothing a
// forger wrote is parsed beyond the header. Only HS256 is taken: "none", the
// other HMACs and every public-key algorithm are refused, so a ticket can
// neither drop its signature nor have the key read as a public key.
//
// admit() then holds the join body against the ticket: the body's group,
// when it names one, must be the ticket's (the ticket's is used when it does
// not), and a ticket with a name fixes the node's name the same way.
//
// Every fault is answered `401 invalid_ticket`; its message says which check
// failed and never repeats the ticket.
//
// Dropped alternative: Debian's libjwt (1.10). It decodes a whole token in
// one call, in its own order and with its own errors, and brings jansson
// beside nlohmann/json. The checks here want theirs (the algorithm and the
// signature before any claim is parsed, one fault per check for the 401's
// message), and two calls to OpenSSL (HMAC, CRYPTO_memcmp) plus the JSON
// parser the relay already uses are less code to trust.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "master/join_body.h"

namespace sprites::master {

inline constexpr size_t kMaxTicketBytes = 4096;
inline constexpr int64_t kTicketLeewayS = 30;

enum class TicketFault : uint8_t {
  Missing,         // no Authorization: Bearer header
  TooLarge,        // over kMaxTicketBytes
  Malformed,       // not three base64url parts
  BadHeader,       // the header is not a JSON object, or has crit
  WrongAlgorithm,  // alg is not HS256
  BadSignature,    // not signed with the join key
  BadClaims,       // the claims are not a JSON object, or a time claim is not a number
  NoExpiry,        // no exp claim
  Expired,         // exp has passed (beyond the leeway)
  NotYetValid,     // nbf is still ahead (beyond the leeway)
  IssuedLater,     // iat is ahead (beyond the leeway)
  BadGroup,        // no group claim, or not a valid group
  BadName,         // a name claim that is not a valid name
  OtherGroup,      // the body names another group
  OtherName,       // the body names another name
};

// What a valid ticket admits.
struct JoinTicket {
  std::string group;
  std::optional<std::string> name;
};

// `key`: the join key; `ticket`: the bearer token as sent; `now_s`: seconds
// since the Unix epoch.
std::variant<JoinTicket, TicketFault> check_join_ticket(std::string_view key, std::string_view ticket, int64_t now_s);

// Holds `body` against `ticket`; on success fills in the group (and the name,
// when the ticket has one) from the ticket.
std::optional<TicketFault> admit(const JoinTicket& ticket, JoinBody& body);

// The message of the 401 invalid_ticket answer for `fault`.
std::string_view ticket_fault_message(TicketFault fault);

}  // namespace sprites::master
