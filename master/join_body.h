// Validation of a join request body (POST /v1/nodes).
//
// Empty, or a JSON object with optional "group" (0-64 of [A-Za-z0-9._-]) and
// "name" (0-64 code points of valid UTF-8); other members are ignored, JSON
// null is invalid, not absent, and nesting deeper than a throw body may
// (kMaxJsonDepth) is invalid_json. Errors come in the protocol's order:
// invalid_json, then invalid_group, then invalid_name.
//
// Invalid UTF-8 makes a body invalid JSON, but a client that sent a name with
// a broken byte deserves to hear that its name is wrong: when a body fails
// only because of bad UTF-8, the bad bytes are replaced and the body parsed
// again; if the damage sat inside the group or the name, that field's error is
// returned, else invalid_json.
#pragma once

#include <string>
#include <string_view>
#include <variant>

namespace sprites::master {

struct JoinBody {
  std::string group;
  std::string name;
  // Whether the body named them (a join ticket holds a named group or name
  // against its own: master/join_ticket.h).
  bool has_group = false;
  bool has_name = false;
};

struct JoinBodyError {
  std::string_view code;  // invalid_json, invalid_group, invalid_name
  std::string_view message;
};

std::variant<JoinBody, JoinBodyError> parse_join_body(std::string_view body);

}  // namespace sprites::master
