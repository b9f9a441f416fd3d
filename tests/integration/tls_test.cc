// TLS on the relay's ports (docs/API.md "TLS"): with --tls-cert and --tls-key
// every port speaks https only, the relay hands out https:// URLs, a plain
// HTTP request gets a plain 400 tls_required, a client that does not trust
// the certificate fails its handshake without harming anyone else, and a
// planned restart loads new certificate files in the master and the workers
// (or, when they do not load, is refused while the old master keeps serving).
// The CA and certificates are made at test time (tests/pki).
#include <signal.h>
#include <sys/stat.h>

#include <ctime>
#include <filesystem>
#include <string>

#include "pki/test_pki.h"
#include "support/files.h"
#include "support/http_client.h"
#include "support/nats_server.h"
#include "support/program.h"
#include "support/relay_process.h"

namespace sprites::test {
namespace {

// Copies an issued certificate and key to the fixed paths a relay is started
// with, as an operator's renewal job would (the key keeps mode 0600).
void install(const TestPki::Issued& issued, const std::string& cert_path, const std::string& key_path) {
  namespace fs = std::filesystem;
  fs::copy_file(issued.cert_file, cert_path, fs::copy_options::overwrite_existing);
  fs::copy_file(issued.key_file, key_path, fs::copy_options::overwrite_existing);
  ::chmod(key_path.c_str(), 0600);
}

RelayOptions tls_relay(const TestPki::Issued& issued, std::vector<std::string> more = {}) {
  RelayOptions options;
  options.args = {"--tls-cert", issued.cert_file, "--tls-key", issued.key_file};
  options.args.insert(options.args.end(), more.begin(), more.end());
  return options;
}

Connection https(std::uint16_t port, const TestPki& pki) {
  Connection c(port);
  c.start_tls(pki.ca_file());
  return c;
}

// The certificate a new connection to `port` is shown, as PEM ("" when the
// handshake failed).
std::string served_certificate(std::uint16_t port, const TestPki& pki) {
  try {
    return https(port, pki).peer_certificate_pem();
  } catch (...) {
    return {};
  }
}

// wait_until_polls_pending, asking /v1/stats over https.
void wait_until_polls_pending_tls(std::uint16_t port, const TestPki& pki, int count) {
  Json last;
  bool reached = retry_until(
      [&] {
        Response r = https(port, pki).request("GET", "/v1/stats");
        if (r.status != 200) return false;
        last = r.json();
        return last["polls_pending"] == count;
      },
      std::chrono::seconds(20));
  INFO(last.dump());
  REQUIRE(reached);
}

TEST_CASE("tls: joins, polls and throws go over https on both ports, and the URLs handed out say https") {
  TestPki pki;
  RelayProcess relay(tls_relay(pki.issue("relay")));
  Connection master = https(relay.master_port(), pki);
  CHECK(master.tls_version() == "TLSv1.3");
  Response joined_a = master.request("POST", "/v1/nodes", {}, R"({"group":"g","name":"a"})");
  REQUIRE(joined_a.status == 201);
  Response joined_b = master.request("POST", "/v1/nodes", {}, R"({"group":"g","name":"b"})");
  REQUIRE(joined_b.status == 201);
  Json a = joined_a.json();
  Json b = joined_b.json();
  const std::string host = "127.0.0.1";
  CHECK(a["relay"]["master"] == "https://" + host + ":" + std::to_string(relay.master_port()));
  CHECK(a["relay"]["worker"] == "https://" + host + ":" + std::to_string(relay.worker_port()));

  // b holds a poll over TLS; a's throw over TLS on the worker port reaches it.
  Connection held = https(relay.master_port(), pki);
  const std::string b_id = b["node"].get<std::string>();
  const std::string b_token = b["token"].get<std::string>();
  std::uint64_t cursor = b["cursor"].get<std::uint64_t>();
  Response first = held.request("GET", events_target(b_id, cursor, 0), bearer(b_token));
  REQUIRE(first.status == 200);
  cursor = first.json()["cursor"].get<std::uint64_t>();
  held.send_request("GET", events_target(b_id, cursor, 20000), bearer(b_token));
  wait_until_polls_pending_tls(relay.master_port(), pki, 1);

  Connection worker = https(relay.worker_port(), pki);
  const std::string sprite = R"({"kind":"slime","colour":"#7fd"})";
  Response thrown = worker.request("POST", "/v1/nodes/" + a["node"].get<std::string>() + "/sprites",
                                   bearer(a["token"].get<std::string>()),
                                   throw_body("right", sprite, std::string("over-tls")));
  REQUIRE(thrown.status == 202);
  Response delivered = held.read_response();
  REQUIRE(delivered.status == 200);
  Json events = delivered.json()["events"];
  REQUIRE(events.size() == 1);
  CHECK(events[0]["id"] == "over-tls");
  CHECK(delivered.ordered_json()["events"][0]["sprite"].dump() == sprite);

  // The operator endpoints too, with the certificate's expiry for an alert
  // (the test PKI's certificates end a day from now).
  Response metrics = master.request("GET", "/metrics");
  REQUIRE(metrics.status == 200);
  const std::string gauge = "\nsprites_tls_certificate_expiry_timestamp_seconds ";
  const size_t at = metrics.body.find(gauge);
  REQUIRE(at != std::string::npos);
  const double expiry = std::stod(metrics.body.substr(at + gauge.size()));
  const double now = static_cast<double>(std::time(nullptr));
  CHECK(expiry > now + 82800);
  CHECK(expiry < now + 90000);
  CHECK(master.request("GET", "/healthz").body == "ok");
  ExitStatus status = relay.stop();
  INFO(status.describe());
  CHECK(status.clean());
}

TEST_CASE("tls: a plain HTTP request to a TLS port gets a plain 400 tls_required") {
  TestPki pki;
  RelayProcess relay(tls_relay(pki.issue("relay")));
  for (std::uint16_t port : {relay.master_port(), relay.worker_port()}) {
    Connection plain(port);
    Response r = plain.request("GET", "/healthz");
    CHECK(r.outcome() == "400 tls_required");
    CHECK(plain.is_closed_by_peer());
  }
  // And the port still serves https.
  CHECK(https(relay.master_port(), pki).request("GET", "/healthz").status == 200);
}

TEST_CASE("tls: a client that does not trust the certificate fails its handshake, and the relay serves others") {
  TestPki pki;
  TestPki stranger;  // another CA: its clients do not trust ours
  RelayProcess relay(tls_relay(pki.issue("relay")));
  Connection distrustful(relay.master_port());
  std::string why = distrustful.try_start_tls(stranger.ca_file());
  CHECK_THAT(why, Catch::Contains("certificate verify failed"));
  Connection wrong_name(relay.master_port());
  CHECK_THAT(wrong_name.try_start_tls(pki.ca_file(), "relay.example.com"), Catch::Contains("certificate verify failed"));
  // Garbage where a ClientHello belongs (no TLS record has type 0) is dropped too.
  Connection garbage(relay.master_port());
  garbage.send_raw(std::string(64, '\0'));
  CHECK(garbage.is_closed_by_peer());
  CHECK(https(relay.master_port(), pki).request("GET", "/healthz").status == 200);
}

TEST_CASE("tls: a handshake that does not finish within the request timeout is closed") {
  TestPki pki;
  // The idle timeout (60 s) is far beyond the guard below: only the request
  // timeout can close these.
  RelayProcess relay(tls_relay(pki.issue("relay"), {"--request-timeout-ms", "300"}));
  Connection silent(relay.master_port());
  Connection halfway(relay.worker_port());
  halfway.send_raw(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11));  // a ClientHello's start
  CHECK(silent.is_closed_by_peer(std::chrono::seconds(10)));
  CHECK(halfway.is_closed_by_peer(std::chrono::seconds(10)));
  CHECK(https(relay.master_port(), pki).request("GET", "/healthz").status == 200);
}

TEST_CASE("tls: pipelined requests and a large answer come back whole and in order over one TLS connection") {
  TestPki pki;
  RelayProcess relay(tls_relay(pki.issue("relay")));
  Connection c = https(relay.master_port(), pki);
  std::string burst;
  for (int i = 0; i < 20; ++i) burst += "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  burst += "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  c.send_raw(burst);
  for (int i = 0; i < 20; ++i) {
    Response r = c.read_response();
    REQUIRE(r.status == 200);
    CHECK_THAT(r.body, Catch::Contains("sprites_build_info"));
  }
  Response last = c.read_response();
  CHECK(last.body == "ok");
  // Connection: close ends with close_notify and a FIN, not a reset.
  CHECK(c.is_closed_by_peer());
  CHECK(c.tls_closed_cleanly());
}

// A relay started with the fixed paths live.crt and live.key, which hold the
// certificate "first" until a test renews them.
RelayOptions live_certificate(TestPki& pki) {
  install(pki.issue("first"), pki.path("live.crt"), pki.path("live.key"));
  RelayOptions options;
  options.args = {"--tls-cert", pki.path("live.crt"), "--tls-key", pki.path("live.key")};
  return options;
}

TEST_CASE("tls: a planned restart loads new certificate files in the master and in the workers") {
  TestPki pki;
  RelayProcess relay(live_certificate(pki));
  const std::string first = read_file(pki.path("first.crt"));
  REQUIRE(served_certificate(relay.master_port(), pki) == first);
  REQUIRE(served_certificate(relay.worker_port(), pki) == first);

  install(pki.issue("second"), pki.path("live.crt"), pki.path("live.key"));
  const std::string second = read_file(pki.path("second.crt"));
  REQUIRE(second != first);
  const pid_t old_master = relay.master_pid();
  REQUIRE(::kill(relay.pid(), SIGHUP) == 0);
  // The next master serves with the new certificate (the old one answered
  // with the old until it exited).
  CHECK(retry_until(
      [&] {
        std::vector<pid_t> now = relay.processes_named("sprites-master");
        return now.size() == 1 && now[0] != old_master && served_certificate(relay.master_port(), pki) == second;
      },
      std::chrono::seconds(30)));
  // The workers reload on the supervisor's SIGHUP, which has no answer to
  // wait for: new connections are tried until 16 in a row see the new
  // certificate (SO_REUSEPORT spreads them over both workers by port, so a
  // worker still on the old one would show up among them).
  CHECK(retry_until(
      [&] {
        for (int i = 0; i < 16; ++i) {
          if (served_certificate(relay.worker_port(), pki) != second) return false;
        }
        return true;
      },
      std::chrono::seconds(20)));
  ExitStatus status = relay.stop();
  INFO(status.describe());
  CHECK(status.clean());
}

TEST_CASE("tls: a planned restart whose certificate files no longer load is refused, and the master keeps serving") {
  TestPki pki;
  RelayOptions options = live_certificate(pki);
  options.stderr_path = pki.path("relay.log");
  RelayProcess relay(options);
  const pid_t master = relay.master_pid();
  // A renewal that wrote a key of another certificate.
  std::filesystem::copy_file(pki.issue("other").key_file, pki.path("live.key"),
                             std::filesystem::copy_options::overwrite_existing);
  REQUIRE(::kill(relay.pid(), SIGHUP) == 0);
  REQUIRE(retry_until([&] { return read_file(pki.path("relay.log")).find("planned restart refused") != std::string::npos; },
                      std::chrono::seconds(20)));
  CHECK_THAT(read_file(pki.path("relay.log")), Catch::Contains("does not belong to the certificate"));
  CHECK(relay.master_pid() == master);
  CHECK(served_certificate(relay.master_port(), pki) == read_file(pki.path("first.crt")));
}

TEST_CASE("tls: certificate options that cannot work stop the relay before it starts, saying why") {
  TestPki pki;
  TestPki::Issued issued = pki.issue("relay");
  const std::string bin = SPRITES_BIN_DIR;
  auto run = [&](std::vector<std::string> args) {
    std::vector<std::string> all = base_supervisor_args(bin, 1);
    all.insert(all.end(), args.begin(), args.end());
    return run_supervisor_to_exit(all);
  };
  FinishedRun half = run({"--tls-cert", issued.cert_file});
  CHECK(half.status.code == 2);
  CHECK_THAT(half.output, Catch::Contains("--tls-cert is set without --tls-key"));

  ::chmod(issued.key_file.c_str(), 0644);
  FinishedRun open_key = run({"--tls-cert", issued.cert_file, "--tls-key", issued.key_file});
  CHECK(open_key.status.code == 2);
  CHECK_THAT(open_key.output, Catch::Contains("open to other users"));
  ::chmod(issued.key_file.c_str(), 0600);

  FinishedRun mismatch = run({"--tls-cert", issued.cert_file, "--tls-key", pki.issue("other").key_file});
  CHECK(mismatch.status.code == 2);
  CHECK_THAT(mismatch.output, Catch::Contains("does not belong to the certificate"));

  FinishedRun missing = run({"--tls-cert", pki.path("nowhere.crt"), "--tls-key", issued.key_file});
  CHECK(missing.status.code == 2);
  CHECK_THAT(missing.output, Catch::Contains(pki.path("nowhere.crt")));

  FinishedRun locked = run({"--tls-cert", issued.cert_file, "--tls-key",
                            pki.with_passphrase("locked", "secret passphrase").key_file});
  CHECK(locked.status.code == 2);
  CHECK_FALSE(locked.status.forced);  // refused, not left waiting for a passphrase
}

TEST_CASE("tls: sprites-cli and sprites-swarm speak https to the relay, trusting the CA --ca names") {
  TestPki pki;
  RelayProcess relay(tls_relay(pki.issue("relay")));
  const std::string master = "https://127.0.0.1:" + std::to_string(relay.master_port());
  const std::string worker = "https://127.0.0.1:" + std::to_string(relay.worker_port());
  auto cli = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {SPRITES_CLI, "--master", master, "--worker", worker, "--ca", pki.ca_file()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_program(argv);
  };
  Program::Finished a_run = cli({"join", "--group", "tls", "--name", "a"});
  INFO(a_run.err);
  REQUIRE(a_run.code == 0);
  Program::Finished b_run = cli({"join", "--group", "tls", "--name", "b"});
  REQUIRE(b_run.code == 0);
  Json a = Json::parse(a_run.out);
  Json b = Json::parse(b_run.out);
  Program::Finished thrown = cli({"throw", "--node", a["node"].get<std::string>(), "--token",
                                  a["token"].get<std::string>(), "--direction", "right", "--sprite", R"({"k":1})"});
  INFO(thrown.err);
  REQUIRE(thrown.code == 0);
  CHECK(Json::parse(thrown.out)["to"]["node"] == b["node"]);
  Program::Finished listened = cli({"listen", "--node", b["node"].get<std::string>(), "--token",
                                    b["token"].get<std::string>(), "--count", "1"});
  INFO(listened.err);
  REQUIRE(listened.code == 0);
  CHECK(Json::parse(listened.out)["sprite"] == Json::parse(R"({"k":1})"));

  // Without the CA the relay's certificate is not trusted: a clear failure.
  Program::Finished untrusting = run_program({SPRITES_CLI, "--master", master, "join", "--group", "tls"});
  CHECK(untrusting.code != 0);
  CHECK_THAT(untrusting.err, Catch::Contains("certificate verify failed"));

  Program::Finished swarm = run_program({SPRITES_SWARM, "--master", master, "--worker", worker, "--ca", pki.ca_file(),
                                         "--json", "--nodes", "50", "--procs", "2", "--interval", "1s", "--warmup",
                                         "1s", "--duration", "2s", "--quiet"},
                                        {}, std::chrono::seconds(120));
  INFO("stderr:\n" << swarm.err << "\nstdout:\n" << swarm.out);
  REQUIRE(swarm.code == 0);
  Json r = Json::parse(swarm.out);
  CHECK(r["ok"] == true);
  CHECK(r["nodes"]["held"] == 50);
  CHECK(r["throws"]["sent"].get<uint64_t>() > 0);
  CHECK(r["throws"]["accepted"] == r["throws"]["sent"]);
  CHECK(r["deliveries"]["count"] == r["throws"]["accepted"]);
  CHECK(r["deliveries"]["lost"] == 0);
  CHECK(r["deliveries"]["duplicated"] == 0);
}

TEST_CASE("tls: in a cluster of TLS relays a poll at another relay is sent to its https home, and the cli follows") {
  TestPki pki;
  TestPki::Issued issued = pki.issue("relay");
  NatsServer nats;
  auto clustered = [&](const std::string& id) {
    return std::make_unique<RelayProcess>(tls_relay(
        issued, {"--nats", nats.url(), "--cluster", "tls", "--relay-id", id, "--relay-timeout-ms", "1500"}));
  };
  auto a = clustered("ta");
  auto b = clustered("tb");
  REQUIRE(retry_until(
      [&] {
        Response r = https(a->master_port(), pki).request("GET", "/v1/cluster");
        return r.status == 200 && r.json()["relays"].size() == 2;
      },
      std::chrono::seconds(20)));
  Connection at_b = https(b->master_port(), pki);
  Response joined = at_b.request("POST", "/v1/nodes", {}, R"({"group":"g","name":"listener"})");
  REQUIRE(joined.status == 201);
  Json node = joined.json();
  CHECK(node["relay"]["master"] == "https://127.0.0.1:" + std::to_string(b->master_port()));
  const std::string target = events_target(node["node"].get<std::string>(), 0, 0);
  Response moved = https(a->master_port(), pki).request("GET", target, bearer(node["token"].get<std::string>()));
  REQUIRE(moved.status == 307);
  CHECK(moved.header("Location") == "https://127.0.0.1:" + std::to_string(b->master_port()) + target);

  Response thrower = at_b.request("POST", "/v1/nodes", {}, R"({"group":"g","name":"thrower"})");
  REQUIRE(thrower.status == 201);
  Json t = thrower.json();
  // sprites-cli pointed at relay a follows the 307 to b over https; it acknowledges
  // the neighbours' event the thrower's join made (--after) and waits for the sprite.
  Response seen = at_b.request("GET", target, bearer(node["token"].get<std::string>()));
  REQUIRE(seen.status == 200);
  Program listener({SPRITES_CLI, "--master", "https://127.0.0.1:" + std::to_string(a->master_port()), "--ca",
                    pki.ca_file(), "listen", "--node", node["node"].get<std::string>(), "--after",
                    std::to_string(seen.json()["cursor"].get<std::uint64_t>()), "--count", "1"},
                   {{"SPRITES_TOKEN", node["token"].get<std::string>()}});
  Response thrown = https(a->worker_port(), pki)
                        .request("POST", "/v1/nodes/" + t["node"].get<std::string>() + "/sprites",
                                 bearer(t["token"].get<std::string>()), throw_body("right", "{}", std::string("x-1")));
  REQUIRE(thrown.status == 202);
  Program::Finished heard = listener.finish();
  INFO("stderr: " << heard.err);
  REQUIRE(heard.exited);
  CHECK(heard.code == 0);
  CHECK(Json::parse(heard.out)["id"] == "x-1");
}

}  // namespace
}  // namespace sprites::test
