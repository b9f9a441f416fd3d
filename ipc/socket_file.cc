// See socket_file.h.
#include "ipc/socket_file.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/private_dir.h"

namespace sprites::ipc {
namespace {

constexpr int kBacklog = 128;

bool fill_address(const std::string& path, sockaddr_un& addr) {
  if (path.empty() || path.size() >= sizeof addr.sun_path) return false;
  addr = sockaddr_un{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  return true;
}

// True when something accepts connections on `path` right now.
bool someone_listens(const sockaddr_un& addr) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

int listen_ipc_socket(const std::string& path, std::string& why) {
  sockaddr_un addr{};
  if (!fill_address(path, addr)) {
    why = "the IPC path must be 1 to " + std::to_string(sizeof addr.sun_path - 1) + " bytes long";
    return -1;
  }
  if (std::string dir_problem = ensure_private_dir(directory_of(path)); !dir_problem.empty()) {
    why = dir_problem + ": the IPC socket needs a directory only this user can write";
    return -1;
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      why = path + " exists and is not a socket: not removing it";
      return -1;
    }
    if (someone_listens(addr)) {
      why = path + " is in use: another master listens there (choose another --ipc-path)";
      return -1;
    }
    ::unlink(path.c_str());  // a crashed master's socket; the directory is ours
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    why = std::string("cannot create a Unix socket: ") + std::strerror(errno);
    return -1;
  }
  const mode_t old = ::umask(077);
  const int rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int bind_errno = errno;
  ::umask(old);
  if (rc != 0 || ::listen(fd, kBacklog) != 0) {
    why = "cannot listen on " + path + ": " + std::strerror(rc != 0 ? bind_errno : errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_descriptor(int channel, int fd, std::string_view text, std::string& why) {
  iovec iov{const_cast<char*>(text.data()), text.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  ssize_t n;
  do {
    n = ::sendmsg(channel, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(text.size())) {
    why = std::string("cannot hand the IPC socket over: ") + (n < 0 ? std::strerror(errno) : "short write");
    return false;
  }
  return true;
}

}  // namespace sprites::ipc
