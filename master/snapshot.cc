// See snapshot.h.
#include "master/snapshot.h"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/log.h"

namespace sprites::master {
namespace {

using nlohmann::json;

constexpr int kVersion = 1;

uint64_t fnv1a64(const std::string& text) {
  uint64_t h = 14695981039346656037ull;
  for (char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t wall_ms() {
  timeval tv{};
  gettimeofday(&tv, nullptr);
  return static_cast<uint64_t>(tv.tv_sec) * 1000 + static_cast<uint64_t>(tv.tv_usec) / 1000;
}

const char* kind_name(EventKind k) {
  switch (k) {
    case EventKind::Sprite: return "sprite";
    case EventKind::Neighbors: return "neighbors";
    case EventKind::Returned: return "returned";
  }
  return "sprite";
}

bool kind_from(const std::string& s, EventKind& out) {
  for (EventKind k : {EventKind::Sprite, EventKind::Neighbors, EventKind::Returned}) {
    if (s == kind_name(k)) {
      out = k;
      return true;
    }
  }
  return false;
}

void move_aside(const std::string& path, const char* suffix) {
  std::string target = path + suffix;
  if (::rename(path.c_str(), target.c_str()) != 0) ::unlink(path.c_str());
}

struct Refusal {
  std::string why;
};

// Throws Refusal (caught below) or nlohmann's exceptions on any malformed field.
void restore(Relay& relay, Counters& counters, const json& doc, uint32_t& width) {
  if (doc.at("version").get<int>() != kVersion) throw Refusal{"unknown version"};
  uint64_t age = wall_ms() - std::min(wall_ms(), doc.at("written_at_ms").get<uint64_t>());
  if (age > relay.config().node_ttl_ms) {
    throw Refusal{"stale: written " + std::to_string(age) + " ms ago, longer than the node TTL"};
  }
  width = doc.at("grid_width").get<uint32_t>();
  const json& c = doc.at("counters");
  Counters loaded;
  loaded.accepted = c.at("accepted").get<uint64_t>();
  loaded.delivered = c.at("delivered").get<uint64_t>();
  loaded.returned = c.at("returned").get<uint64_t>();
  loaded.dropped = c.at("dropped").get<uint64_t>();
  loaded.rejected = c.at("rejected").get<uint64_t>();
  for (const json& g : doc.at("groups")) {
    std::string group = g.at("name").get<std::string>();
    for (const json& n : g.at("nodes")) {
      std::string token_text = n.at("token").get<std::string>();
      if (token_text.size() != kTokenChars) throw Refusal{"a token has the wrong length"};
      Token token;
      std::copy(token_text.begin(), token_text.end(), token.begin());
      Node* node = relay.restore_node(group, n.at("id").get<std::string>(), token, n.at("name").get<std::string>(),
                                      n.at("rate_tokens").get<double>());
      if (!node) throw Refusal{"a node id appears twice"};
      std::vector<Event> events;
      for (const json& e : n.at("events")) {
        Event ev;
        ev.seq = e.at("seq").get<uint64_t>();
        if (!kind_from(e.at("kind").get<std::string>(), ev.kind)) throw Refusal{"an event of unknown kind"};
        ev.tail_at = e.at("tail_at").get<uint32_t>();
        ev.text = e.at("text").get<std::string>();
        ev.thrower = e.at("thrower").get<std::string>();
        if (ev.tail_at > ev.text.size()) throw Refusal{"an event's tail lies past its end"};
        events.push_back(std::move(ev));
      }
      if (!node->mailbox.restore(n.at("last_seq").get<uint64_t>(), std::move(events))) {
        throw Refusal{"a mailbox's seqs are not consecutive"};
      }
    }
  }
  counters = loaded;
}

}  // namespace

std::string snapshot_path_for(const std::string& ipc_path) { return ipc_path + ".snapshot"; }

std::string snapshot_header(const std::string& json_text) {
  char line[96];
  std::snprintf(line, sizeof line, "sprites-snapshot %d %zu %016" PRIx64 "\n", kVersion, json_text.size(),
                fnv1a64(json_text));
  return line;
}

bool write_snapshot(const Relay& relay, const Counters& counters, uint32_t grid_width, const std::string& path) {
  json doc;
  doc["version"] = kVersion;
  doc["written_at_ms"] = wall_ms();
  doc["grid_width"] = grid_width;
  doc["counters"] = {{"accepted", counters.accepted}, {"delivered", counters.delivered},
                     {"returned", counters.returned}, {"dropped", counters.dropped},
                     {"rejected", counters.rejected}};
  json groups = json::array();
  size_t nodes = 0;
  relay.for_each_group([&](const Group& group) {
    json list = json::array();
    for (uint32_t slot = 0; slot < group.grid.size(); ++slot) {
      const Node& n = *static_cast<const Node*>(group.grid.at(slot));
      json events = json::array();
      n.mailbox.for_each([&](const Event& e) {
        events.push_back({{"seq", e.seq}, {"kind", kind_name(e.kind)}, {"tail_at", e.tail_at}, {"text", e.text},
                          {"thrower", e.thrower}});
      });
      list.push_back({{"id", n.id},
                      {"token", std::string(token_text(n.token))},
                      {"name", n.name},
                      {"rate_tokens", n.rate_tokens},
                      {"last_seq", n.mailbox.last_seq()},
                      {"events", std::move(events)}});
      ++nodes;
    }
    groups.push_back({{"name", group.name}, {"nodes", std::move(list)}});
  });
  doc["groups"] = std::move(groups);
  std::string text = doc.dump();
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << snapshot_header(text) << text;
    out.flush();
    if (!out) {
      LOG_ERROR("cannot write the snapshot %s: %s", tmp.c_str(), std::strerror(errno));
      ::unlink(tmp.c_str());
      return false;
    }
  }
  int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    LOG_ERROR("cannot move the snapshot into place at %s: %s", path.c_str(), std::strerror(errno));
    ::unlink(tmp.c_str());
    return false;
  }
  LOG_INFO("snapshot written to %s: %zu nodes, %zu bytes", path.c_str(), nodes, text.size());
  return true;
}

SnapshotLoad load_snapshot(Relay& relay, Counters& counters, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return SnapshotLoad::Absent;
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string all = buffer.str();
  in.close();

  auto refuse = [&](const std::string& why) {
    LOG_ERROR("snapshot %s refused (%s): starting empty", path.c_str(), why.c_str());
    move_aside(path, ".refused");
    return SnapshotLoad::Refused;
  };
  size_t newline = all.find('\n');
  if (newline == std::string::npos) return refuse("no header line");
  std::string header = all.substr(0, newline + 1);
  std::string text = all.substr(newline + 1);
  int version = 0;
  size_t length = 0;
  char hash[32] = {};
  if (std::sscanf(header.c_str(), "sprites-snapshot %d %zu %31s", &version, &length, hash) != 3) {
    return refuse("malformed header line");
  }
  if (version != kVersion) return refuse("unknown version " + std::to_string(version));
  if (text.size() != length) {
    return refuse("truncated or padded: " + std::to_string(text.size()) + " bytes, header says " +
                  std::to_string(length));
  }
  if (header != snapshot_header(text)) return refuse("checksum mismatch");

  uint32_t width = 0;
  try {
    json doc = json::parse(text);
    restore(relay, counters, doc, width);
  } catch (const Refusal& r) {
    relay.clear();
    return refuse(r.why);
  } catch (const std::exception& e) {
    relay.clear();
    return refuse(std::string("malformed content: ") + e.what());
  }
  if (width != relay.config().grid_width) {
    LOG_WARN("snapshot grid width %u differs from --grid-width %u: every node is told its new place", width,
             relay.config().grid_width);
    relay.announce_all_places();
  }
  LOG_INFO("snapshot %s loaded: %zu nodes in %zu groups", path.c_str(), relay.node_count(), relay.group_count());
  ::unlink(path.c_str());  // consumed: a later crash restart must not find it
  return SnapshotLoad::Loaded;
}

}  // namespace sprites::master
