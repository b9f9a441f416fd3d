// See peer.h.
#include "ipc/peer.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sprites::ipc {

bool peer_credentials(int fd, PeerCredentials& out) {
  ucred cred{};
  socklen_t size = sizeof cred;
  if (fd < 0 || ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &size) != 0 || size != sizeof cred) return false;
  out.pid = cred.pid;
  out.uid = cred.uid;
  out.gid = cred.gid;
  return true;
}

std::string check_peer_is_own_user(int fd, PeerCredentials& peer) {
  if (!peer_credentials(fd, peer)) return std::string("its credentials are unknown: ") + std::strerror(errno);
  const uid_t me = ::geteuid();
  if (peer.uid != me) {
    return "pid " + std::to_string(peer.pid) + " runs as uid " + std::to_string(peer.uid) +
           ", not as this relay's user (uid " + std::to_string(me) + ")";
  }
  return {};
}

}  // namespace sprites::ipc
