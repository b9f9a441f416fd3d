// sprites-cli as a person uses it, against the real relay: join prints the
// node and token, a listener started in the background prints the sprite
// another node throws as one JSON line, errors are clear and exit non-zero.
//
// The listener needs no synchronisation with the throw: the relay keeps the
// sprite in the mailbox until the listener's poll takes it, so the test only
// reads the listener's lines until the sprite's arrives (guarded by a deadline
// that turns a hang into a failure).
#include <signal.h>

#include <string>
#include <vector>

#include "support/http_client.h"
#include "support/program.h"
#include "support/relay_process.h"

namespace sprites::test {
namespace {

std::vector<std::string> cli(const RelayProcess& relay, std::vector<std::string> args) {
  std::vector<std::string> argv = {SPRITES_CLI, "--master", "127.0.0.1:" + std::to_string(relay.master_port()),
                                   "--worker", "127.0.0.1:" + std::to_string(relay.worker_port())};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// The one JSON line a command printed.
Json only_line(const Program::Finished& run) {
  INFO("stdout: " << run.out << "\nstderr: " << run.err);
  REQUIRE(run.exited);
  REQUIRE(run.code == 0);
  REQUIRE(!run.out.empty());
  REQUIRE(run.out.back() == '\n');
  REQUIRE(run.out.find('\n') == run.out.size() - 1);
  return Json::parse(run.out);
}

Json join_with_cli(const RelayProcess& relay, const std::string& group, const std::string& name) {
  Json joined = only_line(run_program(cli(relay, {"join", "--group", group, "--name", name})));
  REQUIRE(joined["node"].is_string());
  REQUIRE(joined["token"].is_string());
  return joined;
}

TEST_CASE("sprites-cli: a listener prints the sprite another node throws") {
  RelayProcess relay;
  Json a = join_with_cli(relay, "cli", "laptop");
  Json b = join_with_cli(relay, "cli", "desktop");
  CHECK(a["group"] == "cli");
  CHECK(b["neighbors"]["left"]["node"] == a["node"]);

  // B listens in the background; the token comes from the environment.
  Program listener(cli(relay, {"listen", "--node", b["node"].get<std::string>()}),
                   {{"SPRITES_TOKEN", b["token"].get<std::string>()}});

  const std::string sprite_text = R"({"kind":"cat","x":1.10,"big":18446744073709551615})";
  Json thrown = only_line(run_program(cli(relay, {"throw", "--node", a["node"].get<std::string>(), "--token",
                                                  a["token"].get<std::string>(), "--direction", "right", "--sprite",
                                                  sprite_text, "--id", "s-1"})));
  CHECK(thrown["to"]["node"] == b["node"]);

  Json sprite;
  std::string sprite_line;
  for (;;) {
    std::optional<std::string> line = listener.read_line();
    REQUIRE(line);  // the listener ended or printed nothing in time
    Json event = Json::parse(*line);
    REQUIRE(event.contains("seq"));
    if (event["type"] == "sprite") {
      sprite = event;
      sprite_line = *line;
      break;
    }
  }
  // Printed as the relay sent it: the sprite's bytes as thrown (1.10 stays 1.10).
  CHECK(sprite_line.find("\"sprite\":" + sprite_text) != std::string::npos);
  CHECK(sprite["id"] == "s-1");
  CHECK(sprite["from"]["node"] == a["node"]);
  CHECK(sprite["direction"] == "right");
  CHECK(sprite["sprite"] == Json::parse(sprite_text));

  // SIGTERM: the listener acknowledges what it printed and exits 0.
  Program::Finished end = listener.terminate();
  INFO("stderr: " << end.err);
  CHECK(end.exited);
  CHECK(end.code == 0);
  // Acknowledged: nothing is left in B's mailbox.
  Node node_b{b["node"].get<std::string>(), b["token"].get<std::string>(), "desktop", "cli", b};
  Response info = node_info(relay.master_port(), node_b);
  REQUIRE_STATUS(info, 200);
  CHECK(info.json()["pending"] == 0);
}

TEST_CASE("sprites-cli: listen --count exits by itself after that many events") {
  RelayProcess relay;
  Json a = join_with_cli(relay, "count", "a");
  // Alone in its group, A is its own neighbour: it receives its own throws.
  for (const char* id : {"one", "two"}) {
    only_line(run_program(cli(relay, {"throw", "--node", a["node"].get<std::string>(), "--token",
                                      a["token"].get<std::string>(), "--direction", "up", "--sprite", "{}", "--id", id})));
  }
  Program::Finished run = run_program(
      cli(relay, {"listen", "--node", a["node"].get<std::string>(), "--token", a["token"].get<std::string>(), "--count", "2"}));
  INFO("stderr: " << run.err);
  REQUIRE(run.exited);
  CHECK(run.code == 0);
  std::vector<std::string> ids;
  for (size_t start = 0, nl; (nl = run.out.find('\n', start)) != std::string::npos; start = nl + 1) {
    ids.push_back(Json::parse(run.out.substr(start, nl - start))["id"].get<std::string>());
  }
  CHECK(ids == std::vector<std::string>{"one", "two"});
}

TEST_CASE("sprites-cli: refusals and mistakes exit non-zero with a clear message") {
  RelayProcess relay;
  Json a = join_with_cli(relay, "errors", "a");
  std::string node = a["node"].get<std::string>();

  SECTION("a wrong token") {
    auto run = run_program(cli(relay, {"throw", "--node", node, "--token", "not-the-token", "--direction", "left",
                                       "--sprite", "{}"}));
    CHECK(run.exited);
    CHECK(run.code == 1);
    CHECK(run.out.empty());
    CHECK(run.err.find("401 unauthorized") != std::string::npos);
  }
  SECTION("an unknown node") {
    auto run = run_program(cli(relay, {"listen", "--node", "nosuchnode", "--token", "x"}));
    CHECK(run.code == 1);
    CHECK(run.err.find("404 unknown_node") != std::string::npos);
  }
  SECTION("a bad group") {
    auto run = run_program(cli(relay, {"join", "--group", "no spaces"}));
    CHECK(run.code == 1);
    CHECK(run.err.find("400 invalid_group") != std::string::npos);
  }
  SECTION("a sprite that is not a JSON object is refused before sending") {
    auto run = run_program(cli(relay, {"throw", "--node", node, "--token", "t", "--direction", "left", "--sprite", "[1]"}));
    CHECK(run.code == 2);
    CHECK(run.err.find("JSON object") != std::string::npos);
  }
  SECTION("a direction that does not exist") {
    auto run = run_program(cli(relay, {"throw", "--node", node, "--token", "t", "--direction", "north", "--sprite", "{}"}));
    CHECK(run.code == 2);
    CHECK(run.err.find("--direction") != std::string::npos);
  }
  SECTION("nothing listening at the master address") {
    auto run = run_program({SPRITES_CLI, "--master", "127.0.0.1:1", "join"});
    CHECK(run.code == 1);
    CHECK(run.err.find("connect to 127.0.0.1:1") != std::string::npos);
  }
  SECTION("a leave, then the node is gone") {
    auto left = run_program(cli(relay, {"leave", "--node", node, "--token", a["token"].get<std::string>()}));
    CHECK(left.code == 0);
    auto again = run_program(cli(relay, {"leave", "--node", node, "--token", a["token"].get<std::string>()}));
    CHECK(again.code == 1);
    CHECK(again.err.find("404 unknown_node") != std::string::npos);
  }
}

}  // namespace
}  // namespace sprites::test
