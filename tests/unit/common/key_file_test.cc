// The join key file (--join-key-file): read once, trailing line ends left
// out, and refused with a reason when other users could read or change it,
// when it is not a regular file, too large, or holds too short a key.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "common/key_file.h"

using sprites::check_join_key;
using sprites::read_key_file;

namespace {

const std::string kKey = "0123456789abcdef0123456789abcdef";

// A private directory for one test, removed with what it holds.
class KeyDir {
 public:
  KeyDir() {
    char templ[] = "/tmp/sprites-key-test-XXXXXX";
    REQUIRE(::mkdtemp(templ) != nullptr);
    path_ = templ;
  }
  ~KeyDir() {
    for (const std::string& f : files_) ::unlink(f.c_str());
    ::rmdir(path_.c_str());
  }
  KeyDir(const KeyDir&) = delete;
  KeyDir& operator=(const KeyDir&) = delete;

  std::string write(const std::string& name, const std::string& text, mode_t mode) {
    const std::string path = path_ + "/" + name;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    ::close(fd);
    REQUIRE(::chmod(path.c_str(), mode) == 0);
    files_.push_back(path);
    return path;
  }
  std::string fifo(const std::string& name) {
    const std::string path = path_ + "/" + name;
    REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
    files_.push_back(path);
    return path;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<std::string> files_;
};

}  // namespace

TEST_CASE("a key file is read without its trailing line end") {
  KeyDir dir;
  std::string key;
  CHECK(read_key_file(dir.write("key", kKey + "\n", 0600), key).empty());
  CHECK(key == kKey);
  CHECK(read_key_file(dir.write("crlf", kKey + " \r\n\n", 0400), key).empty());
  CHECK(key == kKey);
  // Leading spaces and inner bytes are the key's.
  CHECK(read_key_file(dir.write("inner", " " + kKey + "\tx", 0600), key).empty());
  CHECK(key == " " + kKey + "\tx");
}

TEST_CASE("a key file the group may read is taken, one others may read is refused") {
  KeyDir dir;
  std::string key;
  CHECK(read_key_file(dir.write("group", kKey, 0640), key).empty());
  CHECK(key == kKey);

  key.clear();
  const std::string world = read_key_file(dir.write("world", kKey, 0644), key);
  CHECK(world.find("open to other users") != std::string::npos);
  CHECK(world.find("0644") != std::string::npos);
  CHECK(world.find(kKey) == std::string::npos);  // the reason never shows the key
  CHECK(key.empty());
  CHECK_FALSE(read_key_file(dir.write("group-writable", kKey, 0660), key).empty());
  CHECK_FALSE(read_key_file(dir.write("others-write", kKey, 0602), key).empty());
  CHECK(key.empty());
}

TEST_CASE("a key file that is not a regular file is refused without blocking") {
  KeyDir dir;
  std::string key;
  CHECK(read_key_file(dir.fifo("fifo"), key).find("not a regular file") != std::string::npos);
  CHECK(read_key_file(dir.path(), key).find("not a regular file") != std::string::npos);
  CHECK(read_key_file(dir.path() + "/missing", key).find("cannot open") != std::string::npos);
  CHECK(key.empty());
}

TEST_CASE("a key file with too short a key, or over 4 KiB, is refused") {
  KeyDir dir;
  std::string key;
  CHECK(read_key_file(dir.write("short", kKey.substr(1) + "\n", 0600), key).find("at least 32 bytes") !=
        std::string::npos);
  CHECK(read_key_file(dir.write("empty", "\n", 0600), key).find("at least 32 bytes") != std::string::npos);
  CHECK(read_key_file(dir.write("big", std::string(4097, 'k'), 0600), key).find("larger than") != std::string::npos);
  CHECK(key.empty());
  CHECK(read_key_file(dir.write("limit", std::string(4096, 'k'), 0600), key).empty());
}

TEST_CASE("a join key is at least 32 bytes") {
  CHECK(check_join_key(kKey).empty());
  CHECK_FALSE(check_join_key(kKey.substr(1)).empty());
  CHECK_FALSE(check_join_key("secret").empty());
}
