// Peer: who is at the other end of an IPC connection, asked of the kernel
// (SO_PEERCRED), and the one rule the IPC applies to it: only a process of
// the relay's own user may send a worker's frames to the master or receive
// them from a worker. The socket's directory and mode already keep other
// users out; this check holds even where they do not (a socket path given in
// a directory someone else can write, an inherited descriptor).
//
// Both ends check: the master when it accepts (the credentials of the
// connecting process), a worker when it has connected (those of the process
// that called listen(), which the kernel keeps on the listening socket).
//
// Dropped alternative: a shared secret in the Hello frame. It would have to
// live in a file or the environment that the same user can read anyway, and
// a worker would still hand its Hello (and with it the secret) to whoever
// listens on the path; the kernel's answer cannot be forged or replayed.
#pragma once

#include <sys/types.h>

#include <string>

namespace sprites::ipc {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

// The credentials of the peer of the connected Unix socket `fd`; false when
// the kernel does not say (then the peer is not trusted).
bool peer_credentials(int fd, PeerCredentials& out);

// Empty when the peer of `fd` runs as this process's effective user, else why
// not (for a log line).
std::string check_peer_is_own_user(int fd, PeerCredentials& peer);

}  // namespace sprites::ipc
