// What relays say to each other over NATS, and on which subjects
// (docs/cluster.md has the whole conversation).
//
//   sprites.<cluster>.relays         every relay's heartbeat (JSON below)
//   sprites.<cluster>.relay.<id>     messages to one relay: IPC frames
//                                    (ipc/frame.h), many per NATS message;
//                                    the NATS reply subject names the sender
//
// A heartbeat is a small JSON object, read as hostile input like anything
// from the network: {"v":1,"id":..,"inc":..,"master":..,"worker":..,"nodes":..}.
// Between relays the throw path reuses the IPC frames and their decoders
// (Throw, ThrowResult), already strict and fuzzed: a worker of relay A hands
// a throw to A's master, which forwards the same frame to the thrower's home.
// The one field that cannot cross hosts as it is, the monotonic expiry, is
// sent as the milliseconds left.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "cluster/membership.h"

namespace sprites::cluster {

inline constexpr size_t kMaxHeartbeatBytes = 1024;

std::string heartbeat_subject(std::string_view cluster);
std::string relay_subject(std::string_view cluster, std::string_view relay_id);
// The relay id at the end of a relay subject of this cluster, or empty.
std::string_view relay_of_subject(std::string_view cluster, std::string_view subject);

std::string encode_heartbeat(const Heartbeat& hb);
// nullopt for anything but a well-formed heartbeat of protocol version 1.
std::optional<Heartbeat> decode_heartbeat(std::string_view text);

// The home relay a node id names: in a cluster, ids are
// `<relay id>-<random base62>`; a plain id (a relay without a cluster)
// names none.
std::string_view home_of(std::string_view node_id);

}  // namespace sprites::cluster
