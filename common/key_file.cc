// See key_file.h.
#include "common/key_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace sprites {
namespace {

std::string mode_text(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

}  // namespace

std::string read_key_file(const std::string& path, std::string& key) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return "cannot open the key file " + path + ": " + std::strerror(errno);
  struct stat st {};
  std::string why;
  if (::fstat(fd, &st) != 0) {
    why = "cannot inspect the key file " + path + ": " + std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    why = "the key file " + path + " is not a regular file";
  } else if ((st.st_mode & (S_IRWXO | S_IWGRP)) != 0) {
    why = "the key file " + path + " is open to other users (mode " + mode_text(st.st_mode) +
          "): allow at most the owner to write and the group to read it, e.g. chmod 600";
  } else if (st.st_size > static_cast<off_t>(kMaxKeyFileBytes)) {
    why = "the key file " + path + " is larger than " + std::to_string(kMaxKeyFileBytes) + " bytes";
  }
  std::string text;
  if (why.empty()) {
    // Up to one byte past the bound, to the end of the file: the size seen
    // by fstat may have changed since.
    char buffer[kMaxKeyFileBytes + 1];
    size_t got = 0;
    for (;;) {
      const ssize_t n = ::read(fd, buffer + got, sizeof buffer - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) why = "cannot read the key file " + path + ": " + std::strerror(errno);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
      if (got == sizeof buffer) break;
    }
    if (why.empty() && got > kMaxKeyFileBytes) {
      why = "the key file " + path + " is larger than " + std::to_string(kMaxKeyFileBytes) + " bytes";
    } else if (why.empty()) {
      text.assign(buffer, got);
    }
    std::memset(buffer, 0, sizeof buffer);
  }
  ::close(fd);
  if (!why.empty()) return why;
  const size_t end = text.find_last_not_of(" \t\r\n");
  text.resize(end == std::string::npos ? 0 : end + 1);
  if (std::string short_key = check_join_key(text); !short_key.empty()) return "the key file " + path + ": " + short_key;
  key = std::move(text);
  return {};
}

std::string check_join_key(std::string_view key) {
  if (key.size() >= kMinJoinKeyBytes) return {};
  std::string why = "a join key must be at least ";
  why += std::to_string(kMinJoinKeyBytes);
  why += " bytes (this one has ";
  why += std::to_string(key.size());
  why += "); make one with: head -c 32 /dev/urandom | base64";
  return why;
}

}  // namespace sprites
