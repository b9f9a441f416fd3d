// The option table (docs/API.md "Options"): defaults, flags, SPRITES_*
// environment fallbacks, a flag winning over the environment, exit code 2 for a
// bad value, and the default IPC path. Every test runs with the SPRITES_*
// variables (and XDG_RUNTIME_DIR) of the surrounding environment set aside and
// puts them back afterwards.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/options.h"

extern char** environ;

using sprites::default_ipc_path;
using sprites::Options;
using sprites::parse_options;

namespace {

// Sets aside every SPRITES_* variable, XDG_RUNTIME_DIR and RUNTIME_DIRECTORY; restores them (and
// removes whatever the test set) on destruction.
class CleanEnvironment {
 public:
  CleanEnvironment() {
    std::vector<std::string> names;
    for (char** e = environ; *e; ++e) {
      std::string entry = *e;
      std::string name = entry.substr(0, entry.find('='));
      if (name.rfind("SPRITES_", 0) == 0 || name == "XDG_RUNTIME_DIR" || name == "RUNTIME_DIRECTORY") names.push_back(name);
    }
    for (const std::string& name : names) {
      saved_.emplace_back(name, std::getenv(name.c_str()));
      ::unsetenv(name.c_str());
    }
  }
  ~CleanEnvironment() {
    std::vector<std::string> names;
    for (char** e = environ; *e; ++e) {
      std::string entry = *e;
      std::string name = entry.substr(0, entry.find('='));
      if (name.rfind("SPRITES_", 0) == 0 || name == "XDG_RUNTIME_DIR" || name == "RUNTIME_DIRECTORY") names.push_back(name);
    }
    for (const std::string& name : names) ::unsetenv(name.c_str());
    for (const auto& [name, value] : saved_) ::setenv(name.c_str(), value.c_str(), 1);
  }
  CleanEnvironment(const CleanEnvironment&) = delete;
  CleanEnvironment& operator=(const CleanEnvironment&) = delete;

  void set(const char* name, const std::string& value) { ::setenv(name, value.c_str(), 1); }

 private:
  std::vector<std::pair<std::string, std::string>> saved_;
};

// parse_options over a command line given as strings (argv[0] added).
int parse(std::initializer_list<std::string> args, Options& out) {
  std::vector<std::string> storage;
  storage.emplace_back("sprites-test");
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  return parse_options(static_cast<int>(storage.size()), argv.data(), "test", out);
}

// A directory that exists for the duration of a test.
class TempDir {
 public:
  TempDir() {
    char templ[] = "/tmp/sprites-options-test-XXXXXX";
    REQUIRE(::mkdtemp(templ) != nullptr);
    path_ = templ;
  }
  ~TempDir() { ::rmdir(path_.c_str()); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The last resort of the default IPC path: a directory of this user's in /tmp.
std::string tmp_dir() { return "/tmp/sprites-" + std::to_string(::geteuid()); }

unsigned expected_workers() {
  unsigned cpus = std::thread::hardware_concurrency();
  return cpus == 0 ? 1 : cpus;
}

}  // namespace

TEST_CASE("with no flags and no environment the options have docs/API.md's defaults") {
  CleanEnvironment env;
  Options o;
  REQUIRE(parse({}, o) == -1);
  CHECK(o.host == "0.0.0.0");
  CHECK(o.master_port == 8000);
  CHECK(o.worker_port == 8001);
  CHECK(o.workers == expected_workers());
  CHECK(o.ipc_path == tmp_dir() + "/sprites-8000.sock");
  CHECK(o.grid_width == 8);
  CHECK(o.poll_timeout_ms == 60000);
  CHECK(o.node_ttl_ms == 30000);
  CHECK(o.mailbox_limit == 256);
  CHECK(o.rate_limit == 50.0);
  CHECK(o.max_body_bytes == 16384);
  CHECK(o.max_nodes == 0);
  CHECK(o.master_fd == -1);
  CHECK(o.worker_fd == -1);
}

TEST_CASE("every option is taken from its flag") {
  CleanEnvironment env;
  Options o;
  REQUIRE(parse({"--host", "127.0.0.1", "--master-port", "9000", "--worker-port", "9001", "--workers", "3",
                 "--ipc-path", "/run/x.sock", "--grid-width", "4", "--poll-timeout-ms", "1500", "--node-ttl-ms",
                 "2500", "--mailbox-limit", "16", "--rate-limit", "2.5", "--max-body-bytes", "4096",
                 "--max-nodes", "100000", "--log-level", "debug"},
                o) == -1);
  CHECK(o.host == "127.0.0.1");
  CHECK(o.master_port == 9000);
  CHECK(o.worker_port == 9001);
  CHECK(o.workers == 3);
  CHECK(o.ipc_path == "/run/x.sock");
  CHECK(o.grid_width == 4);
  CHECK(o.poll_timeout_ms == 1500);
  CHECK(o.node_ttl_ms == 2500);
  CHECK(o.mailbox_limit == 16);
  CHECK(o.rate_limit == 2.5);
  CHECK(o.max_body_bytes == 4096);
  CHECK(o.max_nodes == 100000);
  CHECK(o.log_level == "debug");
}

TEST_CASE("a rate limit of 0 disables rate limiting and is accepted") {
  CleanEnvironment env;
  Options o;
  REQUIRE(parse({"--rate-limit", "0"}, o) == -1);
  CHECK(o.rate_limit == 0.0);
}

TEST_CASE("options fall back to SPRITES_ environment variables") {
  CleanEnvironment env;
  env.set("SPRITES_HOST", "::1");
  env.set("SPRITES_MASTER_PORT", "7000");
  env.set("SPRITES_WORKER_PORT", "7001");
  env.set("SPRITES_WORKERS", "5");
  env.set("SPRITES_IPC_PATH", "/tmp/env.sock");
  env.set("SPRITES_GRID_WIDTH", "3");
  env.set("SPRITES_POLL_TIMEOUT_MS", "1000");
  env.set("SPRITES_NODE_TTL_MS", "2000");
  env.set("SPRITES_MAILBOX_LIMIT", "9");
  env.set("SPRITES_RATE_LIMIT", "7");
  env.set("SPRITES_MAX_BODY_BYTES", "1024");
  env.set("SPRITES_MAX_NODES", "42");
  Options o;
  REQUIRE(parse({}, o) == -1);
  CHECK(o.host == "::1");
  CHECK(o.master_port == 7000);
  CHECK(o.worker_port == 7001);
  CHECK(o.workers == 5);
  CHECK(o.ipc_path == "/tmp/env.sock");
  CHECK(o.grid_width == 3);
  CHECK(o.poll_timeout_ms == 1000);
  CHECK(o.node_ttl_ms == 2000);
  CHECK(o.mailbox_limit == 9);
  CHECK(o.rate_limit == 7.0);
  CHECK(o.max_body_bytes == 1024);
  CHECK(o.max_nodes == 42);
}

TEST_CASE("a flag wins over the environment") {
  CleanEnvironment env;
  env.set("SPRITES_MASTER_PORT", "7000");
  env.set("SPRITES_GRID_WIDTH", "3");
  Options o;
  REQUIRE(parse({"--master-port", "9100"}, o) == -1);
  CHECK(o.master_port == 9100);
  CHECK(o.grid_width == 3);  // the environment still fills what no flag gave
  CHECK(o.ipc_path == tmp_dir() + "/sprites-9100.sock");
}

TEST_CASE("the environment is left as it was found") {
  ::setenv("SPRITES_OPTIONS_TEST_MARKER", "kept", 1);
  {
    CleanEnvironment env;
    CHECK(std::getenv("SPRITES_OPTIONS_TEST_MARKER") == nullptr);
    env.set("SPRITES_GRID_WIDTH", "3");
  }
  REQUIRE(std::getenv("SPRITES_OPTIONS_TEST_MARKER") != nullptr);
  CHECK(std::string(std::getenv("SPRITES_OPTIONS_TEST_MARKER")) == "kept");
  CHECK(std::getenv("SPRITES_GRID_WIDTH") == nullptr);
  ::unsetenv("SPRITES_OPTIONS_TEST_MARKER");
}

TEST_CASE("an invalid flag value exits with code 2") {
  CleanEnvironment env;
  const std::vector<std::vector<std::string>> bad = {
      {"--master-port", "70000"},     {"--master-port", "abc"},       {"--master-port", "-1"},
      {"--worker-port", "65536"},     {"--workers", "0"},             {"--grid-width", "0"},
      {"--poll-timeout-ms", "0"},     {"--node-ttl-ms", "x"},         {"--mailbox-limit", "0"},
      {"--rate-limit", "-1"},         {"--rate-limit", "fast"},       {"--max-body-bytes", "10"},
      {"--max-nodes", "x"},           {"--log-level", "loud"},        {"--no-such-option", "1"},
      {"--grid-width"},
  };
  for (const auto& args : bad) {
    CAPTURE(args);
    std::vector<std::string> storage = {"sprites-test"};
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& s : storage) argv.push_back(s.data());
    argv.push_back(nullptr);
    Options o;
    CHECK(parse_options(static_cast<int>(storage.size()), argv.data(), "test", o) == 2);
  }
}

// CLI11 2.1 would convert "-5" into a uint64_t by wrapping it to
// 18446744073709551611; the option's check refuses it.
TEST_CASE("a negative --max-nodes exits with code 2") {
  CleanEnvironment env;
  SECTION("as a flag") {
    Options o;
    CHECK(parse({"--max-nodes", "-5"}, o) == 2);
  }
  SECTION("from the environment") {
    env.set("SPRITES_MAX_NODES", "-5");
    Options o;
    CHECK(parse({}, o) == 2);
  }
}

TEST_CASE("an invalid environment value exits with code 2") {
  CleanEnvironment env;
  SECTION("out of range") { env.set("SPRITES_GRID_WIDTH", "0"); }
  SECTION("not a number") { env.set("SPRITES_MASTER_PORT", "eighty"); }
  SECTION("too large for a port") { env.set("SPRITES_WORKER_PORT", "100000"); }
  Options o;
  CHECK(parse({}, o) == 2);
}

TEST_CASE("--help exits with code 0") {
  CleanEnvironment env;
  Options o;
  CHECK(parse({"--help"}, o) == 0);
}

TEST_CASE("the default IPC path is in XDG_RUNTIME_DIR when that is a directory") {
  CleanEnvironment env;
  TempDir dir;
  env.set("XDG_RUNTIME_DIR", dir.path());
  CHECK(default_ipc_path(8000, 1234) == dir.path() + "/sprites-8000.sock");
  Options o;
  REQUIRE(parse({"--master-port", "8123"}, o) == -1);
  CHECK(o.ipc_path == dir.path() + "/sprites-8123.sock");
}

TEST_CASE("the default IPC path is in a directory of this user's under /tmp when XDG_RUNTIME_DIR is unusable") {
  CleanEnvironment env;
  SECTION("unset") {}
  SECTION("empty") { env.set("XDG_RUNTIME_DIR", ""); }
  SECTION("missing") { env.set("XDG_RUNTIME_DIR", "/nonexistent/sprites-options-test"); }
  SECTION("a file, not a directory") { env.set("XDG_RUNTIME_DIR", "/proc/self/status"); }
  CHECK(default_ipc_path(8000, 1234) == tmp_dir() + "/sprites-8000.sock");
}

TEST_CASE("under systemd the default IPC path is in RUNTIME_DIRECTORY") {
  CleanEnvironment env;
  TempDir dir;
  env.set("XDG_RUNTIME_DIR", "/proc");
  env.set("RUNTIME_DIRECTORY", dir.path() + ":/run/other");
  CHECK(default_ipc_path(8000, 1234) == dir.path() + "/sprites-8000.sock");
}

TEST_CASE("with master port 0 the default IPC path is named after the pid") {
  CleanEnvironment env;
  CHECK(default_ipc_path(0, 4242) == tmp_dir() + "/sprites-4242.sock");
  CHECK(default_ipc_path(1, 4242) == tmp_dir() + "/sprites-1.sock");
  Options o;
  REQUIRE(parse({"--master-port", "0"}, o) == -1);
  CHECK(o.master_port == 0);
  CHECK(o.ipc_path == tmp_dir() + "/sprites-" + std::to_string(::getpid()) + ".sock");
}

TEST_CASE("an explicit IPC path is kept as given") {
  CleanEnvironment env;
  Options o;
  REQUIRE(parse({"--master-port", "0", "--ipc-path", "/tmp/mine.sock"}, o) == -1);
  CHECK(o.ipc_path == "/tmp/mine.sock");
}

TEST_CASE("an option given twice takes the last value, so the supervisor can append what it resolved") {
  CleanEnvironment env;
  Options o;
  REQUIRE(parse({"--master-port", "0", "--grid-width", "4", "--master-port", "8123"}, o) == -1);
  CHECK(o.master_port == 8123);
  CHECK(o.grid_width == 4);
}

TEST_CASE("the same port for master and workers is a usage error") {
  CleanEnvironment env;
  Options o;
  CHECK(parse({"--master-port", "9000", "--worker-port", "9000"}, o) == 2);
  CHECK(parse({"--master-port", "0", "--worker-port", "0"}, o) == -1);  // both chosen by the system
}

TEST_CASE("the resolved options print as one JSON object named as on the command line") {
  CleanEnvironment env;
  env.set("SPRITES_NODE_TTL_MS", "1234");
  Options o;
  REQUIRE(parse({"--rate-limit", "2.5", "--workers", "3"}, o) == -1);
  nlohmann::json j = nlohmann::json::parse(sprites::options_json(o));
  CHECK(j["rate-limit"] == 2.5);
  CHECK(j["workers"] == 3);
  CHECK(j["node-ttl-ms"] == 1234);
  CHECK(j["master-port"] == 8000);
  CHECK(j["log-level"] == "info");
  CHECK(j["ipc-path"] == o.ipc_path);
  for (const char* name : {"host", "worker-port", "grid-width", "poll-timeout-ms", "mailbox-limit", "max-body-bytes",
                           "max-nodes", "request-timeout-ms", "idle-timeout-ms", "master-timeout-ms"}) {
    CHECK(j.contains(name));
  }
}

TEST_CASE("join control is off unless asked for") {
  CleanEnvironment env;
  Options o;
  REQUIRE(parse({}, o) == -1);
  CHECK(o.join_key.empty());
  CHECK(o.join_rate_limit == 0.0);
}

TEST_CASE("the join key comes from --join-key or SPRITES_JOIN_KEY, and must be 32 bytes or more") {
  CleanEnvironment env;
  const std::string key = "0123456789abcdef0123456789abcdef";
  Options flag;
  REQUIRE(parse({"--join-key", key}, flag) == -1);
  CHECK(flag.join_key == key);
  env.set("SPRITES_JOIN_KEY", key + "-env");
  Options from_env;
  REQUIRE(parse({}, from_env) == -1);
  CHECK(from_env.join_key == key + "-env");
  Options short_key;
  CHECK(parse({"--join-key", "secret"}, short_key) == 2);
}

TEST_CASE("the join key is read from --join-key-file or SPRITES_JOIN_KEY_FILE, a file others cannot read") {
  CleanEnvironment env;
  TempDir dir;
  const std::string key = "0123456789abcdef0123456789abcdef";
  const std::string path = dir.path() + "/join-key";
  {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    REQUIRE(fd >= 0);
    const std::string text = key + "\n";
    REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    ::close(fd);
  }
  Options flag;
  CHECK(parse({"--join-key-file", path}, flag) == -1);
  CHECK(flag.join_key == key);

  env.set("SPRITES_JOIN_KEY_FILE", path);
  Options from_env;
  CHECK(parse({}, from_env) == -1);
  CHECK(from_env.join_key == key);

  SECTION("both ways at once is a usage error") {
    Options both;
    CHECK(parse({"--join-key", key}, both) == 2);
  }
  SECTION("a file others may read is a usage error") {
    REQUIRE(::chmod(path.c_str(), 0644) == 0);
    Options open_file;
    CHECK(parse({}, open_file) == 2);
    CHECK(open_file.join_key.empty());
  }
  ::unlink(path.c_str());
}

TEST_CASE("the join rate limit is joins per second, from --join-rate-limit or SPRITES_JOIN_RATE_LIMIT") {
  CleanEnvironment env;
  Options flag;
  REQUIRE(parse({"--join-rate-limit", "2.5"}, flag) == -1);
  CHECK(flag.join_rate_limit == 2.5);
  env.set("SPRITES_JOIN_RATE_LIMIT", "7");
  Options from_env;
  REQUIRE(parse({}, from_env) == -1);
  CHECK(from_env.join_rate_limit == 7.0);
  Options negative;
  CHECK(parse({"--join-rate-limit", "-1"}, negative) == 2);
}

TEST_CASE("the printed options never show the join key") {
  CleanEnvironment env;
  const std::string key = "0123456789abcdef0123456789abcdef";
  Options o;
  REQUIRE(parse({"--join-key", key, "--join-rate-limit", "3"}, o) == -1);
  const std::string printed = sprites::options_json(o);
  CHECK(printed.find(key) == std::string::npos);
  nlohmann::json j = nlohmann::json::parse(printed);
  CHECK(j["join-key-set"] == true);
  CHECK(j["join-rate-limit"] == 3.0);
  Options none;
  REQUIRE(parse({}, none) == -1);
  CHECK(nlohmann::json::parse(sprites::options_json(none))["join-key-set"] == false);
}
