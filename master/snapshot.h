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
// the JSON. A file whose length or checksum disagrees (truncated, corrupt), a
// version it does not know, or one older than the node TTL (its nodes would
// have left anyway) is refused with a log line naming the reason, and the
// master starts empty (the refused file is kept as `<path>.refused` for a
// look). A loaded file is deleted, so a master that crashes later never comes
// back with state older than its crash.
// Written to `<path>.tmp` and renamed, so a reader never sees half a file.
//
// Dropped alternative: a binary format. JSON costs a few bytes more per node,
// but a planned restart is rare and a readable file is worth it when debugging.
#pragma once

#include <string>

#include "master/relay.h"
#include "master/stats.h"

namespace sprites::master {

// Where the master keeps its snapshot: beside its IPC socket.
std::string snapshot_path_for(const std::string& ipc_path);

// Writes the snapshot; false (with a log line) on an I/O error.
bool write_snapshot(const Relay& relay, const Counters& counters, uint32_t grid_width, const std::string& path);

enum class SnapshotLoad { Absent, Loaded, Refused };
// Loads `path` into an empty relay, then deletes it (or, when refused, moves
// it to `<path>.refused` and leaves the relay empty).
SnapshotLoad load_snapshot(Relay& relay, Counters& counters, const std::string& path);

// The header line and checksum, exposed for tests.
std::string snapshot_header(const std::string& json);

}  // namespace sprites::master
