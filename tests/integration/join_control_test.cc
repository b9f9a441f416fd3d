// Join control (docs/API.md "Join control") on the real relay: with a join
// key, a join needs a ticket signed with it (sprites-cli mints one, as an
// operator's site would); with a join rate limit, one source address joins
// only so often while another still joins. Polls and throws are untouched.
//
// The rate limit is seen without timing the relay: the bucket of a new
// address starts full, so the first two joins are always let in whatever the
// pace of the test, and joins go on until the first 429 (which needs only
// that they come faster than one a second on average, and is guarded).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "support/cluster_tools.h"
#include "support/http_client.h"
#include "support/nats_server.h"
#include "support/program.h"
#include "support/relay_process.h"

using namespace sprites::test;

namespace {

// Key files in a private directory, removed with it.
class KeyFiles {
 public:
  KeyFiles() {
    char templ[] = "/tmp/sprites-join-keys-XXXXXX";
    REQUIRE(::mkdtemp(templ) != nullptr);
    dir_ = templ;
  }
  ~KeyFiles() {
    for (const std::string& f : files_) ::unlink(f.c_str());
    ::rmdir(dir_.c_str());
  }
  KeyFiles(const KeyFiles&) = delete;
  KeyFiles& operator=(const KeyFiles&) = delete;

  std::string write(const std::string& name, const std::string& key) {
    const std::string path = dir_ + "/" + name;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    const std::string text = key + "\n";
    REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    ::close(fd);
    files_.push_back(path);
    return path;
  }

 private:
  std::string dir_;
  std::vector<std::string> files_;
};

const std::string kSiteKey = "the operator's site key: 32 bytes or more";

// `sprites-cli ticket ...`: the ticket it printed.
std::string mint(const std::string& key_file, const std::string& group, std::vector<std::string> more = {}) {
  std::vector<std::string> argv = {SPRITES_CLI, "ticket", "--join-key-file", key_file, "--group", group};
  argv.insert(argv.end(), more.begin(), more.end());
  Program::Finished run = run_program(argv);
  INFO("stderr: " << run.err);
  REQUIRE(run.exited);
  REQUIRE(run.code == 0);
  REQUIRE(run.out.size() > 1);
  REQUIRE(run.out.back() == '\n');
  std::string ticket = run.out.substr(0, run.out.size() - 1);
  REQUIRE(ticket.find('\n') == std::string::npos);
  return ticket;
}

// `sprites-cli join ...` against `relay`.
Program::Finished cli_join(const RelayProcess& relay, std::vector<std::string> args) {
  std::vector<std::string> argv = {SPRITES_CLI, "--master", "127.0.0.1:" + std::to_string(relay.master_port()),
                                   "--worker", "127.0.0.1:" + std::to_string(relay.worker_port()), "join"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv);
}

Response join_with(std::uint16_t port, const std::string& ticket, const Json& body) {
  return join_raw(port, body.dump(), bearer(ticket));
}

// A 401 invalid_ticket whose message does not repeat the ticket.
void check_refused_ticket(const Response& r, const std::string& ticket) {
  check_error(r, 401, "invalid_ticket");
  if (!ticket.empty()) CHECK(r.body.find(ticket) == std::string::npos);
}

}  // namespace

TEST_CASE("with a join key, a join with a ticket sprites-cli minted is admitted and one without is refused") {
  KeyFiles keys;
  const std::string site = keys.write("site", kSiteKey);
  RelayProcess relay({"--join-key-file", site});

  const std::string ticket = mint(site, "a");
  Program::Finished joined = cli_join(relay, {"--group", "a", "--name", "laptop", "--ticket", ticket});
  {
    INFO("stderr: " << joined.err);
    REQUIRE(joined.code == 0);
  }
  Json node = Json::parse(joined.out);
  CHECK(node["group"] == "a");
  CHECK(node["name"] == "laptop");
  // The node then works as ever: its token, not a ticket, speaks for it.
  CHECK_STATUS(poll(relay.master_port(), Node{node["node"], node["token"], "laptop", "a", node}, 0, 0), 200);

  // No ticket: refused from the headers alone, and sprites-cli says so.
  Response bare = join_raw(relay.master_port(), R"({"group":"a"})");
  check_refused_ticket(bare, "");
  Program::Finished without = cli_join(relay, {"--group", "a"});
  CHECK(without.code == 1);
  CHECK(without.err.find("401 invalid_ticket") != std::string::npos);

  // A ticket for a, asking for b.
  check_refused_ticket(join_with(relay.master_port(), ticket, {{"group", "b"}}), ticket);
  // A ticket signed with another key.
  const std::string forged = mint(keys.write("other", "a key that is not the relay's, also 32+ bytes"), "a");
  check_refused_ticket(join_with(relay.master_port(), forged, {{"group", "a"}}), forged);
  // A ticket that is not one, and a ticket cut short.
  check_refused_ticket(join_with(relay.master_port(), "not-a-ticket", {{"group", "a"}}), "not-a-ticket");
  check_refused_ticket(join_with(relay.master_port(), ticket.substr(0, ticket.size() - 1), {{"group", "a"}}), ticket);

  Json s = stats(relay.master_port());
  CHECK(s["joins"]["invalid_ticket"] == 6);
  CHECK(s["joins"]["rate_limited"] == 0);
  CHECK(s["sprites"]["rejected"] == 0);  // joins are not sprites
  CHECK(s["nodes"] == 1);
}

TEST_CASE("a ticket's group and name are the node's when the body leaves them out, and bind it when it does not") {
  KeyFiles keys;
  const std::string site = keys.write("site", kSiteKey);
  RelayProcess relay({"--join-key-file", site});

  const std::string alice = mint(site, "office", {"--name", "alice", "--ttl-s", "60"});
  Response r = join_with(relay.master_port(), alice, Json::object());
  REQUIRE_STATUS(r, 201);
  CHECK(r.json()["group"] == "office");
  CHECK(r.json()["name"] == "alice");

  check_refused_ticket(join_with(relay.master_port(), alice, {{"group", "office"}, {"name", "mallory"}}), alice);
  REQUIRE_STATUS(join_with(relay.master_port(), alice, {{"group", "office"}, {"name", "alice"}}), 201);
}

TEST_CASE("a relay without a join key lets anyone join, ticket or not") {
  KeyFiles keys;
  const std::string site = keys.write("site", kSiteKey);
  RelayProcess relay;
  REQUIRE_STATUS(join_raw(relay.master_port(), R"({"group":"a"})"), 201);
  REQUIRE_STATUS(join_with(relay.master_port(), mint(site, "x"), {{"group", "a"}}), 201);
}

TEST_CASE("a join key file others can read stops the relay from starting") {
  KeyFiles keys;
  const std::string site = keys.write("site", kSiteKey);
  REQUIRE(::chmod(site.c_str(), 0644) == 0);
  std::vector<std::string> args = base_supervisor_args(SPRITES_BIN_DIR, 1);
  args.insert(args.end(), {"--join-key-file", site});
  FinishedRun run = run_supervisor_to_exit(args);
  INFO(run.output);
  CHECK(run.status.exited);
  CHECK(run.status.code == 2);
  CHECK(run.output.find("open to other users") != std::string::npos);
  CHECK(run.output.find(kSiteKey) == std::string::npos);
}

TEST_CASE("over the join rate limit an address gets 429 rate_limited while another address still joins") {
  RelayProcess relay({"--join-rate-limit", "1"});
  const std::uint16_t port = relay.master_port();
  REQUIRE_STATUS(join_raw(port, "{}"), 201);
  REQUIRE_STATUS(join_raw(port, "{}"), 201);
  // At most one more join fits in a second; sooner or later one is refused.
  Response refused;
  int accepted = 2;
  for (int i = 0; i < 100; ++i) {
    refused = join_raw(port, "{}");
    if (refused.status != 201) break;
    ++accepted;
  }
  check_error(refused, 429, "rate_limited");
  CHECK(refused.header("Retry-After") == "1");

  // Another machine, as far as the relay can tell.
  Response other = Connection(port, "127.0.0.2").request("POST", "/v1/nodes", {}, "{}");
  CHECK_STATUS(other, 201);

  Json s = stats(port);
  CHECK(s["joins"]["rate_limited"] == 1);
  CHECK(s["nodes"] == accepted + 1);
}

TEST_CASE("in a cluster every relay checks the joins it receives against the same key", "[cluster]") {
  KeyFiles keys;
  const std::string site = keys.write("site", kSiteKey);
  NatsServer nats;
  auto relay = [&](const std::string& id) {
    RelayOptions options;
    options.workers = 1;
    options.args = {"--nats", nats.url(), "--cluster", "keyed", "--relay-id", id, "--join-key-file", site};
    return std::make_unique<RelayProcess>(options);
  };
  auto a = relay("ka");
  auto b = relay("kb");
  wait_for_cluster({a.get(), b.get()}, {"ka", "kb"});

  const std::string ticket = mint(site, "shared");
  Response at_a = join_with(a->master_port(), ticket, {{"group", "shared"}});
  REQUIRE_STATUS(at_a, 201);
  Response at_b = join_with(b->master_port(), ticket, {{"group", "shared"}});
  REQUIRE_STATUS(at_b, 201);
  CHECK(at_a.json()["relay"]["id"] == "ka");
  CHECK(at_b.json()["relay"]["id"] == "kb");
  check_refused_ticket(join_raw(b->master_port(), R"({"group":"shared"})"), "");
  check_refused_ticket(join_with(a->master_port(), ticket, {{"group", "other"}}), ticket);
}
