// What the relay logs for an operator (docs/API.md "Logs"): in JSON, one
// object per line from every process; a line per join, per leave with its
// reason, per refused request with status, code and peer; none per poll or
// accepted throw; never a token. And --version on every program.
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <set>
#include <nlohmann/json.hpp>

#include "support/http_client.h"
#include "support/program.h"
#include "support/relay_process.h"

using namespace sprites::test;
using Json = nlohmann::json;

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Every line of the log as JSON (a line that is not JSON fails the test).
std::vector<Json> json_lines(const std::string& path) {
  std::vector<Json> out;
  std::string text = read_all(path);
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) break;  // a line still being written
    std::string line = text.substr(start, end - start);
    INFO(line);
    REQUIRE(Json::accept(line));
    out.push_back(Json::parse(line));
    start = end + 1;
  }
  return out;
}

std::vector<Json> events(const std::string& path, const std::string& name) {
  std::vector<Json> out;
  for (Json& j : json_lines(path)) {
    if (j.value("event", "") == name) out.push_back(std::move(j));
  }
  return out;
}

}  // namespace

TEST_CASE("in JSON the relay logs joins, leaves with their reason and refusals, and nothing per poll or throw") {
  char dir[] = "/tmp/sprites-logs-XXXXXX";
  REQUIRE(::mkdtemp(dir));
  const std::string path = std::string(dir) + "/relay.log";
  RelayOptions options{{"--log-format", "json", "--node-ttl-ms", "300"}, {}, SPRITES_BIN_DIR, 1, path};
  {
    RelayProcess relay(options);
    Node a = join(relay.master_port(), "logs", "alice \"the\"\nfirst");
    Node b = join(relay.master_port(), "logs", "bob");

    // Every process writes JSON lines with time, level and process.
    std::set<std::string> processes;
    for (const Json& j : json_lines(path)) {
      CHECK(j.contains("time"));
      CHECK(j.contains("level"));
      processes.insert(j["process"].get<std::string>().substr(0, 6));
    }
    CHECK(processes == std::set<std::string>{"master", "superv", "worker"});

    std::vector<Json> joins = events(path, "join");
    REQUIRE(joins.size() == 2);
    CHECK(joins[0]["node"] == a.id);
    CHECK(joins[0]["group"] == "logs");
    CHECK(joins[0]["name"] == "alice \"the\"\nfirst");
    CHECK(joins[1]["nodes"] == 2);

    // Polls and an accepted throw add no line. (The supervisor logs its ready
    // line after printing it: wait for that one first.)
    REQUIRE(retry_until(
        [&] {
          for (const Json& j : json_lines(path)) {
            if (j.value("msg", "").rfind("ready master=", 0) == 0) return true;
          }
          return false;
        },
        std::chrono::seconds(10)));
    const size_t before = json_lines(path).size();
    for (uint64_t i = 0; i < 5; ++i) REQUIRE(poll(relay.master_port(), b, 0, 0).status == 200);
    REQUIRE(throw_sprite(relay.worker_port(), a, "right", "{}").status == 202);
    REQUIRE(poll(relay.master_port(), b, 0, 0).status == 200);
    CHECK(json_lines(path).size() == before);

    // A refusal names its status, code and peer.
    Connection c(relay.master_port());
    check_error(c.request("GET", "/v1/nodes/" + a.id, {{"Authorization", "Bearer " + b.token}}), 401,
                "unauthorized");
    std::vector<Json> refused;
    REQUIRE(retry_until([&] { return !(refused = events(path, "refused")).empty(); }, std::chrono::seconds(10)));
    CHECK(refused[0]["status"] == 401);
    CHECK(refused[0]["code"] == "unauthorized");
    CHECK(refused[0]["peer"] == "127.0.0.1");

    // DELETE, then the TTL of a node that never polls.
    REQUIRE(leave(relay.master_port(), b).status == 204);
    std::vector<Json> leaves;
    REQUIRE(retry_until([&] { return (leaves = events(path, "leave")).size() == 2; }, std::chrono::seconds(20)));
    CHECK(leaves[0]["node"] == b.id);
    CHECK(leaves[0]["reason"] == "delete");
    CHECK(leaves[1]["node"] == a.id);
    CHECK(leaves[1]["reason"] == "ttl");
    CHECK(leaves[1]["nodes"] == 0);

    const std::string all = read_all(path);
    CHECK(all.find(a.token) == std::string::npos);
    CHECK(all.find(b.token) == std::string::npos);
  }
  ::unlink(path.c_str());
  ::rmdir(dir);
}

TEST_CASE("every program says its version and commit") {
  const std::string bin = SPRITES_BIN_DIR;
  for (const std::string& program : {bin + "/sprites-master", bin + "/sprites-worker", std::string(SPRITES_CLI),
                                     std::string(SPRITES_SWARM), std::string(SPRITES_FLOOR),
                                     std::string(SPRITES_SUPERVISOR)}) {
    INFO(program);
    std::vector<std::string> argv{program, "--version"};
    if (program == SPRITES_SUPERVISOR) argv.insert(argv.end(), {"--bin-dir", bin});
    Program::Finished run = run_program(argv);
    const std::string name = program.substr(program.rfind('/') + 1);
    CHECK(run.exited);
    CHECK(run.code == 0);
    CHECK(run.out.rfind(name + " 0.", 0) == 0);
    CHECK(run.out.find(" (") != std::string::npos);
  }
}
