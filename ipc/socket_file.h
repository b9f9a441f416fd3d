// The IPC socket's file: where the master listens for its workers, created
// so that no other local user can take its place.
//
// listen_ipc_socket() makes the one listening socket of a relay: its
// directory must be private (common/private_dir.h; created 0700 when it is
// missing), a socket at the path that someone still listens on is refused
// (another master runs there), a stale one left by a crash is removed, and
// anything else at the path is refused rather than removed. The socket file
// is created under umask 077, so it is 0600.
//
// The supervisor keeps this socket for its whole life, like the TCP ones, and
// hands it to each master it starts (--ipc-fd): the path is never free
// between two masters, so nothing can bind it meanwhile. To keep one owner of
// where the socket lives and how it is made, the supervisor does not create
// it itself: it runs `sprites-master --ipc-handoff-fd N`, which resolves the
// path, calls listen_ipc_socket() and passes the descriptor back over the Unix
// socket N with send_descriptor(), with the path as the message.
//
// Dropped alternative: the supervisor binding the path in Python. The path's
// default, the private-directory rule and the stale-socket probe would then
// be written twice, in two languages, and drift.
#pragma once

#include <string>
#include <string_view>

namespace sprites::ipc {

// The listening socket (a blocking descriptor, close-on-exec), or -1 with `why`.
int listen_ipc_socket(const std::string& path, std::string& why);

// Sends `fd` with `text` as the message over the connected Unix socket
// `channel`. False with `why` on failure.
bool send_descriptor(int channel, int fd, std::string_view text, std::string& why);

}  // namespace sprites::ipc
