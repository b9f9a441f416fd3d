// sprites-floor, the benchmark's machine floor: it must relay every record it
// throws (each one answered by its "worker" and delivered by its "master")
// and report figures that hang together. No figure of speed is asserted.
// The tool bounds itself (window, then at most 5 s of drain); its two helper
// processes die with it (PR_SET_PDEATHSIG).
#include <string>
#include <vector>

#include "support/http_client.h"
#include "support/program.h"

namespace sprites::test {
namespace {

Json floor_report(const std::vector<std::string>& args) {
  std::vector<std::string> argv{SPRITES_FLOOR};
  argv.insert(argv.end(), args.begin(), args.end());
  Program::Finished run = run_program(argv, {}, std::chrono::seconds(60));
  INFO("stderr:\n" << run.err << "\nstdout:\n" << run.out);
  REQUIRE(run.exited);
  REQUIRE(run.code == 0);
  return Json::parse(run.out);
}

void check_every_record_relayed(const Json& r) {
  INFO(r.dump(2));
  CHECK(r["sent"].get<uint64_t>() > 0);
  CHECK(r["answered"] == r["sent"]);
  CHECK(r["delivered"] == r["sent"]);
  CHECK(r["per_s"].get<double>() > 0);
  const Json& l = r["latency_ms"];
  CHECK(l["p50"].get<double>() > 0);
  CHECK(l["p50"].get<double>() <= l["p99"].get<double>());
  CHECK(l["p99"].get<double>() <= l["max"].get<double>());
}

TEST_CASE("sprites-floor: a closed loop relays every record through worker and master") {
  Json r = floor_report({"--closed", "8", "--nodes", "40", "--duration", "0.5", "--warmup", "0.1"});
  CHECK(r["closed"] == 8);
  CHECK(r["nodes"] == 40);
  // Eight in flight refill as they land: far more than eight went out.
  CHECK(r["sent"].get<uint64_t>() > 8);
  check_every_record_relayed(r);
  // A closed loop keeps the server busy the whole window: its CPU shows,
  // even counted in clock ticks (an open loop at a low rate may not).
  CHECK(r["server_cpu_us_per_record"].get<double>() > 0);
}

TEST_CASE("sprites-floor: an open loop relays every record it paces out") {
  Json r = floor_report({"--rate", "2000", "--nodes", "40", "--duration", "0.5", "--warmup", "0"});
  CHECK(r["rate"] == 2000);
  check_every_record_relayed(r);
}

TEST_CASE("sprites-floor: a run without a load, or with more in flight than nodes, is a usage error") {
  Program::Finished none = run_program({SPRITES_FLOOR, "--nodes", "10"});
  CHECK(none.exited);
  CHECK(none.code == 2);
  Program::Finished too_many = run_program({SPRITES_FLOOR, "--closed", "20", "--nodes", "10"});
  CHECK(too_many.exited);
  CHECK(too_many.code == 2);
  CHECK(too_many.err.find("--closed cannot exceed --nodes") != std::string::npos);
}

}  // namespace
}  // namespace sprites::test
