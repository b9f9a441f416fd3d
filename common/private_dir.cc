// See private_dir.h.
#include "common/private_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace sprites {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

// The rule of private_dir.h for an open directory or file.
std::string owned_and_closed(const struct stat& st, const std::string& what) {
  const uid_t me = ::geteuid();
  if (st.st_uid != me && st.st_uid != 0) {
    return what + " belongs to uid " + std::to_string(st.st_uid) + ", not to this user (uid " +
           std::to_string(me) + ")";
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return what + " is writable by other users (mode " + mode + ")";
  }
  return {};
}

}  // namespace

std::string directory_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string check_private_dir(const std::string& dir) {
  // O_NOFOLLOW refuses a symlink in the last component; fstat then looks at
  // the directory actually opened, not at a name that could change.
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ELOOP || err == ENOTDIR) return dir + " is not a directory (or is a symlink)";
    return "cannot open " + dir + ": " + errno_text(err);
  }
  struct stat st {};
  const int rc = ::fstat(fd, &st);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return "cannot inspect " + dir + ": " + errno_text(err);
  return owned_and_closed(st, dir);
}

std::string ensure_private_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return "cannot create " + dir + ": " + errno_text(errno);
  }
  // Whoever created it (us just now, an earlier start, or someone else
  // first), it is used only if it passes the rule.
  return check_private_dir(dir);
}

int open_private_file_for_reading(const std::string& path, std::string& why) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) {
      errno = ENOENT;
      return -1;
    }
    why = err == ELOOP ? "it is a symlink" : "cannot open it: " + errno_text(err);
    return -1;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    why = "cannot inspect it: " + errno_text(errno);
    ::close(fd);
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    why = "it is not a regular file";
    ::close(fd);
    return -1;
  }
  if (st.st_uid != ::geteuid()) {
    why = "it belongs to uid " + std::to_string(st.st_uid) + ", not to this user";
    ::close(fd);
    return -1;
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

int create_private_file(const std::string& path, std::string& why) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    why = "cannot remove the old " + path + ": " + errno_text(errno);
    return -1;
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    why = "cannot create " + path + ": " + errno_text(errno);
    return -1;
  }
  // The mode asked for is cut by the umask, never widened: 0600 at most.
  return fd;
}

}  // namespace sprites
