// See ready_report.h.
#include "master/ready_report.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace sprites::master {

ReadyReport::ReadyReport(int fd) : fd_(fd) {
  if (fd_ < 0) return;
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags >= 0) ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
  ::fcntl(fd_, F_SETFD, FD_CLOEXEC);
}

ReadyReport::~ReadyReport() {
  if (fd_ >= 0) ::close(fd_);
}

void ReadyReport::serving() { line("serving\n"); }

void ReadyReport::workers(size_t connected) { line("workers " + std::to_string(connected) + "\n"); }

void ReadyReport::line(const std::string& text) {
  if (fd_ < 0) return;
  ssize_t n;
  do {
    n = ::write(fd_, text.data(), text.size());
  } while (n < 0 && errno == EINTR);
}

}  // namespace sprites::master
