// Snapshot: the master's whole state in one file, for a planned restart.
//
// A planned restart (SIGUSR2 to the master, sent by the supervisor on SIGHUP)
// answers the held polls, writes the snapshot and exits; the next master loads
// it at start, so clients poll again with their old token and cursor and lose
// neither their node nor an accepted sprite. Saved: every group's nodes in slot
// order (id, token, name, rate bucket), every mailbox (events as serialised,
// last seq) and the counters.
//
// File: one header line `sprites-snapshot 1 <json bytes> <fnv1a64 hex>\n`, then
// the JSON. It lives beside the IPC socket, in the relay's private directory
// (common/private_dir.h): it holds every token. Written 0600 to a fresh
// `<path>.tmp` (O_CREAT|O_EXCL|O_NOFOLLOW, after removing whatever had that
// name), synced and renamed, so a reader never sees half a file and the
// writer never writes through a link.
//
// Loading trusts nothing: the file is opened with O_NOFOLLOW|O_NONBLOCK and
// read only if it is a regular file of this user (a FIFO or a symlink to
// /dev/zero cannot block or flood the master), at most as many bytes as this
// relay's options let a snapshot have; then every field is checked as if it
// came from the network (identifiers, seqs and counters below 2^53, the
// date not in the future and within the node TTL, at most --max-nodes nodes
// and --mailbox-limit + 2 events a node, each sprite or returned event's text
// exactly the relay's own; neighbors events are rebuilt from the grid). A file
// that fails any check is refused whole with a log line naming the reason,
// moved aside once as `<path>.refused` (owner-only), and the master starts
// empty. A loaded file is deleted, so a master that crashes later never comes
// back with state older than its crash.
//
// Dropped alternative: a binary format. JSON costs a few bytes more per node,
// but a planned restart is rare and a readable file is worth it when debugging.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "master/relay.h"
#include "master/stats.h"

namespace sprites::master {

// Where the master keeps its snapshot: beside its IPC socket.
std::string snapshot_path_for(const std::string& ipc_path);

// In a cluster (docs/cluster.md "Planned restarts") a snapshot also holds
// each node's place and each sprite's kept-copy key, and what the cluster
// link keeps (its incarnation, its kept copies) under "cluster": written
// from `cluster`, handed back on load as `cluster` with the file's age, and
// checked by the cluster link. A snapshot of a relay with a cluster is
// refused by one without, and the other way round.
struct SnapshotCluster {
  nlohmann::json part;  // null: none
  uint64_t age_ms = 0;  // since the snapshot was written
};

// Writes the snapshot; false (with a log line) on an I/O error.
bool write_snapshot(const Relay& relay, const Counters& counters, uint32_t grid_width, const std::string& path,
                    const nlohmann::json& cluster = nullptr);

enum class SnapshotLoad { Absent, Loaded, Refused };
// Loads `path` into an empty relay, then deletes it (or, when refused, moves
// it to `<path>.refused` and leaves the relay empty).
SnapshotLoad load_snapshot(Relay& relay, Counters& counters, const std::string& path,
                           SnapshotCluster* cluster = nullptr);

// The checks of load_snapshot() on a file's bytes, without the file: loads
// them into an empty relay, or leaves it empty and says why. (The fuzzer's
// way in.)
bool restore_snapshot(Relay& relay, Counters& counters, std::string file, std::string& why,
                      SnapshotCluster* cluster = nullptr);

// True when `tail` is the "direction"... part of a sprite event this relay
// builds for a throw of `thrower` (a kept copy read back from a snapshot).
bool valid_sprite_tail(std::string_view thrower, std::string_view tail, uint32_t max_body_bytes);

// The header line and checksum, exposed for tests.
std::string snapshot_header(const std::string& json);

}  // namespace sprites::master
