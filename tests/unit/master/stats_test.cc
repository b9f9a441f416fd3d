// The two renderings of the relay's figures: /v1/stats JSON and /metrics in the
// Prometheus text format, each checked field by field against docs/API.md.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <map>
#include <sstream>
#include <string>

#include "master/stats.h"

using sprites::master::Counters;
using sprites::master::Gauges;
using sprites::master::render_metrics;
using sprites::master::render_stats_json;

namespace {

// Distinct values, one of them past 32 bits, so a swapped field shows.
Counters sample_counters() {
  Counters c;
  c.accepted = 123;
  c.delivered = 120;
  c.returned = 1;
  c.dropped = 0;
  c.rejected = 4;
  c.joins_invalid_ticket = 6;
  c.joins_rate_limited = 5000000000ull;
  return c;
}

Gauges sample_gauges() {
  Gauges g;
  g.nodes = 10000;
  g.groups = 3;
  g.connections = 10012;
  g.polls_pending = 9990;
  g.workers_connected = 2;
  g.uptime_s = 61;
  g.rss_bytes = 31457280ull * 1000;
  return g;
}

struct Metric {
  std::string help;
  std::string type;
  std::string value;
  int samples = 0;
};

// name -> what the exposition says about it.
std::map<std::string, Metric> parse_metrics(const std::string& text) {
  std::map<std::string, Metric> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    REQUIRE_FALSE(line.empty());
    std::istringstream words(line);
    std::string first, name;
    words >> first;
    if (first == "#") {
      std::string kind;
      words >> kind >> name;
      std::string rest;
      std::getline(words, rest);
      if (!rest.empty() && rest.front() == ' ') rest.erase(0, 1);
      if (kind == "HELP") out[name].help = rest;
      else if (kind == "TYPE") out[name].type = rest;
      else FAIL("unexpected comment: " << line);
    } else {
      std::string value, extra;
      words >> value;
      REQUIRE_FALSE(static_cast<bool>(words >> extra));
      out[first].value = value;
      ++out[first].samples;
    }
  }
  return out;
}

}  // namespace

TEST_CASE("the stats JSON has every field of /v1/stats with the given values") {
  auto j = nlohmann::json::parse(render_stats_json(sample_counters(), sample_gauges()));
  CHECK(j.at("nodes") == 10000);
  CHECK(j.at("groups") == 3);
  CHECK(j.at("connections") == 10012);
  CHECK(j.at("polls_pending") == 9990);
  CHECK(j.at("workers").at("connected") == 2);
  CHECK(j.at("sprites").at("accepted") == 123);
  CHECK(j.at("sprites").at("delivered") == 120);
  CHECK(j.at("sprites").at("returned") == 1);
  CHECK(j.at("sprites").at("dropped") == 0);
  CHECK(j.at("sprites").at("rejected") == 4);
  CHECK(j.at("joins").at("invalid_ticket") == 6);
  CHECK(j.at("joins").at("rate_limited") == 5000000000ull);
  CHECK(j.at("uptime_s") == 61);
  CHECK(j.at("rss_bytes") == 31457280ull * 1000);
}

TEST_CASE("the stats JSON keeps 64-bit values intact") {
  Counters c;
  c.accepted = UINT64_MAX;
  Gauges g;
  g.rss_bytes = UINT64_MAX - 1;
  g.nodes = UINT64_MAX;
  g.groups = UINT64_MAX;
  g.connections = UINT64_MAX;
  g.polls_pending = UINT64_MAX;
  auto j = nlohmann::json::parse(render_stats_json(c, g));
  CHECK(j.at("sprites").at("accepted").get<uint64_t>() == UINT64_MAX);
  CHECK(j.at("rss_bytes").get<uint64_t>() == UINT64_MAX - 1);
  CHECK(j.at("polls_pending").get<uint64_t>() == UINT64_MAX);
}

TEST_CASE("the metrics text names every sprites_ metric with HELP, TYPE and its value") {
  const Counters c = sample_counters();
  const Gauges g = sample_gauges();
  const std::map<std::string, uint64_t> expected = {
      {"sprites_nodes", g.nodes},
      {"sprites_groups", g.groups},
      {"sprites_connections", g.connections},
      {"sprites_polls_pending", g.polls_pending},
      {"sprites_workers_connected", g.workers_connected},
      {"sprites_accepted_total", c.accepted},
      {"sprites_delivered_total", c.delivered},
      {"sprites_returned_total", c.returned},
      {"sprites_dropped_total", c.dropped},
      {"sprites_rejected_total", c.rejected},
      {"sprites_joins_invalid_ticket_total", c.joins_invalid_ticket},
      {"sprites_joins_rate_limited_total", c.joins_rate_limited},
      {"sprites_uptime_seconds", g.uptime_s},
      {"sprites_rss_bytes", g.rss_bytes},
  };
  std::string text = render_metrics(c, g);
  REQUIRE_FALSE(text.empty());
  CHECK(text.back() == '\n');
  auto metrics = parse_metrics(text);
  // Besides these, only the labelled families and the histogram.
  const std::map<std::string, std::string> labelled = {{"sprites_throws_rejected_total", "counter"},
                                                       {"sprites_delivery_seconds", "histogram"},
                                                       {"sprites_build_info", "gauge"}};
  for (const auto& [name, m] : metrics) {
    if (m.help.empty()) continue;  // a labelled sample or a histogram series
    CAPTURE(name);
    CHECK((expected.count(name) == 1 || (labelled.count(name) == 1 && labelled.at(name) == m.type)));
  }
  for (const auto& [name, type] : labelled) CHECK(metrics.count(name) == 1);
  CHECK(metrics.count("sprites_throws_rejected_total{code=\"mailbox_full\"}") == 1);
  CHECK(metrics.count("sprites_delivery_seconds_bucket{le=\"+Inf\"}") == 1);
  for (const auto& [name, value] : expected) {
    CAPTURE(name);
    REQUIRE(metrics.count(name) == 1);
    const Metric& m = metrics[name];
    CHECK_FALSE(m.help.empty());
    bool is_counter = name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0;
    CHECK(m.type == (is_counter ? "counter" : "gauge"));
    CHECK(m.samples == 1);
    CHECK(m.value == std::to_string(value));
  }
}

TEST_CASE("each metric's HELP and TYPE come before its sample") {
  std::string text = render_metrics(sample_counters(), sample_gauges());
  for (const char* name : {"sprites_nodes", "sprites_accepted_total", "sprites_rss_bytes"}) {
    CAPTURE(name);
    size_t help = text.find(std::string("# HELP ") + name + " ");
    size_t type = text.find(std::string("# TYPE ") + name + " ");
    size_t sample = text.find(std::string("\n") + name + " ");
    REQUIRE(help != std::string::npos);
    REQUIRE(type != std::string::npos);
    REQUIRE(sample != std::string::npos);
    CHECK(help < type);
    CHECK(type < sample);
  }
}

TEST_CASE("read_rss_bytes reports a plausible resident size") {
  uint64_t rss = sprites::master::read_rss_bytes();
  CHECK(rss > 1024 * 1024 / 4);
  CHECK(rss < (uint64_t{1} << 40));
}
