// Wire: the binary messages relays of a cluster send each other on their
// relay subjects (messages.h), and their strict decoders.
//
// A NATS message carries one or more frames, [u32 length][u8 type][u32 id]
// [body], little-endian, length counting type, id and body, like the IPC
// frames (ipc/frame.h) whose Throw and ThrowResult bodies travel here as
// they are. Everything a relay receives is hostile input: every decoder
// checks each length against what is left and refuses trailing bytes, and
// every identifier against the protocol's alphabet before it is used.
//
// Who sends what (docs/cluster.md tells the whole conversation):
//   Throw, ThrowResult     a worker's relay <-> the thrower's home
//   Join, JoinResult       a joiner's home <-> the group's owner
//   Leave, LeaveResult     a home <-> the group's owner (the home repeats
//                          a leave until an owner has taken it)
//   Place, PlaceAck        the owner -> a home: nodes' new views
//   Claim                  a home -> the group's owner: "these are my
//                          nodes of this group" (after an owner change, or
//                          in answer to a Census)
//   Census                 a new owner -> every relay: "claim your nodes"
//   Deliver, DeliverResult the thrower's home <-> the receiver's home
//   Acked, Returned        the receiver's home -> the thrower's home: the
//                          kept copies it may forget, or must return
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/direction.h"

namespace sprites::cluster {

enum class WireType : uint8_t {
  Throw = 1,
  ThrowResult = 2,
  Join = 3,
  JoinResult = 4,
  Leave = 5,
  Place = 6,
  PlaceAck = 7,
  Claim = 8,
  Census = 9,
  Deliver = 10,
  DeliverResult = 11,
  Acked = 12,
  Returned = 13,
  LeaveResult = 14,
};
inline constexpr uint8_t kLastWireType = 14;
inline constexpr uint32_t kMaxWireFrame = 4u << 20;

struct WireFrame {
  WireType type;
  uint32_t id;
  std::string_view body;
};

void append_wire_frame(std::string& out, WireType type, uint32_t id, std::string_view body);
// Splits a NATS message into frames; false (with what came before kept in
// `out`) on a malformed one.
bool split_wire_frames(std::string_view data, std::vector<WireFrame>& out);

struct Ref {
  std::string id;
  std::string name;
  bool operator==(const Ref&) const = default;
};

// A node's place as the owner of its group tells it.
struct Place {
  std::string node;
  uint64_t version = 0;  // per group, grows with every change, across owners
  uint32_t row = 0, col = 0;
  std::array<Ref, 4> neighbours;  // indexed by Direction
};

struct JoinMessage {
  std::string group, node, name;
  uint64_t incarnation = 0;  // the home's (membership.h): a seat leaves with its incarnation only
};
enum class JoinStatus : uint8_t { Placed = 0, Full = 1, NotOwner = 2 };
struct JoinResultMessage {
  JoinStatus status = JoinStatus::Placed;
  Place place;  // Placed
};
struct LeaveMessage {
  std::string group, node;
};
struct LeaveResultMessage {
  JoinStatus status = JoinStatus::Placed;  // Placed: taken; NotOwner: ask the owner
};
struct PlaceMessage {
  std::string group;
  std::vector<Place> places;
};
// A home's nodes of one group, each with its slot and view version as the
// home last heard them (slot = row * W + col).
struct ClaimMessage {
  std::string group;
  struct Seat {
    std::string node, name;
    uint32_t slot = 0;
    uint64_t version = 0;
    bool placed = false;  // false: joined, not placed yet (no slot)
  };
  std::vector<Seat> seats;
  bool last = true;  // a large group is claimed in several messages
  uint64_t incarnation = 0;  // the claiming home's
};
struct CensusMessage {
  std::string group;
};
struct DeliverMessage {
  uint64_t copy = 0;  // the thrower home's key of its kept copy
  std::string receiver;
  Ref thrower;
  Direction direction = Direction::Left;
  bool has_id = false;
  std::string sprite_id;
  std::string sprite;
};
enum class DeliverStatus : uint8_t { Accepted = 0, MailboxFull = 1, UnknownNode = 2 };
struct DeliverResultMessage {
  DeliverStatus status = DeliverStatus::Accepted;
};
struct CopiesMessage {  // Acked and Returned
  std::vector<uint64_t> copies;
};

std::string encode(const JoinMessage& m);
std::string encode(const JoinResultMessage& m);
std::string encode(const LeaveMessage& m);
std::string encode(const LeaveResultMessage& m);
std::string encode(const PlaceMessage& m);
std::string encode(const ClaimMessage& m);
std::string encode(const CensusMessage& m);
std::string encode(const DeliverMessage& m);
std::string encode(const DeliverResultMessage& m);
std::string encode(const CopiesMessage& m);

bool decode(std::string_view body, JoinMessage& out);
bool decode(std::string_view body, JoinResultMessage& out);
bool decode(std::string_view body, LeaveMessage& out);
bool decode(std::string_view body, LeaveResultMessage& out);
bool decode(std::string_view body, PlaceMessage& out);
bool decode(std::string_view body, ClaimMessage& out);
bool decode(std::string_view body, CensusMessage& out);
bool decode(std::string_view body, DeliverMessage& out);
bool decode(std::string_view body, DeliverResultMessage& out);
bool decode(std::string_view body, CopiesMessage& out);

}  // namespace sprites::cluster
