// The log lines: JSON lines are one valid object each, whatever a client put
// into a name or group; text lines read `event key="value"`; a field that
// does not fit is left out whole, never cut into invalid JSON.
#include "common/log.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace {

std::vector<std::string> lines;
void keep(std::string_view line) { lines.emplace_back(line); }

struct Captured {
  explicit Captured(sprites::log::Format format) {
    lines.clear();
    sprites::log::set_sink(keep);
    sprites::log::init("master", sprites::log::Level::Info, format);
  }
  ~Captured() {
    sprites::log::set_sink(nullptr);
    sprites::log::init("sprites", sprites::log::Level::Info, sprites::log::Format::Text);
  }
};

}  // namespace

using sprites::log::Event;
using sprites::log::Format;
using sprites::log::Level;

TEST_CASE("a JSON event line is one object with the event and its fields, client text escaped") {
  Captured c(Format::Json);
  const std::string hostile = "a\"b\\c\nd\x01 \xc3\xa9";
  Event(Level::Info, "join").str("node", "Qm3x0c").str("name", hostile).num("nodes", 42);
  REQUIRE(lines.size() == 1);
  REQUIRE(lines[0].back() == '\n');
  REQUIRE(lines[0].find('\n') == lines[0].size() - 1);  // one line, the newline in the name escaped
  auto j = nlohmann::json::parse(lines[0]);
  CHECK(j["level"] == "info");
  CHECK(j["process"] == "master");
  CHECK(j["event"] == "join");
  CHECK(j["node"] == "Qm3x0c");
  CHECK(j["name"] == hostile);
  CHECK(j["nodes"] == 42);
  CHECK(j["time"].get<std::string>().size() == 24);  // 2026-12-05T01:02:03.456Z
}

TEST_CASE("a JSON message line carries the message in msg") {
  Captured c(Format::Json);
  LOG_WARN("cannot listen on %s: %s", "127.0.0.1:80", "permission \"denied\"");
  LOG_DEBUG("below the level: %d", 1);
  REQUIRE(lines.size() == 1);
  auto j = nlohmann::json::parse(lines[0]);
  CHECK(j["level"] == "warn");
  CHECK(j["msg"] == "cannot listen on 127.0.0.1:80: permission \"denied\"");
}

TEST_CASE("a text event line reads event key=value with quoted strings") {
  Captured c(Format::Text);
  Event(Level::Info, "leave").str("node", "Qm3x0c").str("reason", "ttl").num("nodes", 7);
  REQUIRE(lines.size() == 1);
  const std::string& line = lines[0];
  CHECK(line.find(" info master: leave node=\"Qm3x0c\" reason=\"ttl\" nodes=7\n") != std::string::npos);
}

TEST_CASE("a field too long for the line is left out whole and the line stays valid JSON") {
  Captured c(Format::Json);
  Event(Level::Info, "join").str("node", "Qm3x0c").str("name", std::string(5000, '"')).num("nodes", 1);
  REQUIRE(lines.size() == 1);
  auto j = nlohmann::json::parse(lines[0]);
  CHECK(j["node"] == "Qm3x0c");
  CHECK_FALSE(j.contains("name"));
  CHECK(lines[0].size() <= 2048);
}

TEST_CASE("log formats parse, auto included") {
  Format f = Format::Text;
  CHECK(sprites::log::parse_format("json", f));
  CHECK(f == Format::Json);
  CHECK(sprites::log::parse_format("text", f));
  CHECK(f == Format::Text);
  CHECK(sprites::log::parse_format("auto", f));
  CHECK_FALSE(sprites::log::parse_format("xml", f));
}
