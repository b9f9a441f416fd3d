// See snapshot.h.
//
// Loading treats the file as hostile input: only the relay's user can write
// the directory it lives in, but a file that someone (or a bug, or a disk)
// damaged must never crash the master, stall it, or bring back a state the
// relay could not have reached by itself. So every field is checked as if it
// came from the network (restore() below), and a stored event's text is
// accepted only if it is byte for byte what the relay builds from its parts.
#include "master/snapshot.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <new>
#include <nlohmann/json.hpp>
#include <set>

#include "common/fnv1a.h"
#include "common/identifiers.h"
#include "common/json_limits.h"
#include "common/log.h"
#include "common/private_dir.h"
#include "master/event_text.h"

namespace sprites::master {
namespace {

using nlohmann::json;

constexpr int kVersion = 1;
// Seqs and counters stay exact in every client's JSON numbers (2^53), and a
// relay that issues one seq at a time never gets near it.
constexpr uint64_t kMaxCount = 1ull << 53;
// Clocks of two processes on one host agree; this only absorbs a step of the
// wall clock between the write and the read.
constexpr uint64_t kFutureSkewMs = 1000;
// The snapshot document nests 6 levels (event texts are strings).
constexpr int kMaxDocumentDepth = 8;

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

// Moves a refused file aside, once: a later start finds nothing to refuse.
// The name is moved, never what it points to (rename does not follow a
// symlink); a regular file of ours is closed to others, whatever its mode
// was, since it may hold tokens.
void move_aside(const std::string& path, const char* suffix) {
  std::string target = path + suffix;
  if (::rename(path.c_str(), target.c_str()) != 0) {
    ::unlink(path.c_str());
    return;
  }
  struct stat st {};
  if (::lstat(target.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == ::geteuid()) {
    ::chmod(target.c_str(), 0600);
  }
}

struct Refusal {
  std::string why;
};

[[noreturn]] void refuse(std::string why) { throw Refusal{std::move(why)}; }

// The largest file a relay of this configuration could write, and at most a
// quarter of the machine's memory (the text and its parsed form are held at
// once while loading).
uint64_t size_bound(const RelayConfig& config) {
  const uint64_t event = 2 * (static_cast<uint64_t>(config.max_body_bytes) + 2048);  // quotes escaped in a string
  // A node: its fields and place (in a cluster, four neighbours of escaped
  // names), its mailbox, and in a cluster the copies of what it threw to
  // other relays' nodes: at most its four neighbours' mailboxes.
  const uint64_t node = 4096 + (static_cast<uint64_t>(config.mailbox_limit) + 1) * event * 5;
  const uint64_t written = 4096 + std::min<uint64_t>(config.max_nodes, 1ull << 32) * node;
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page = ::sysconf(_SC_PAGESIZE);
  const uint64_t memory = pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) / 4
                                                : 1ull << 30;
  return std::min(written, memory);
}

// ---- typed reads that refuse with the field's name ------------------------

const json& field(const json& object, const char* key) {
  if (!object.is_object()) refuse(std::string("an object was expected around ") + key);
  auto it = object.find(key);
  if (it == object.end()) refuse(std::string("missing field ") + key);
  return *it;
}

uint64_t uint_field(const json& object, const char* key, uint64_t max) {
  const json& v = field(object, key);
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
    refuse(std::string(key) + " is not a non-negative integer");
  }
  const uint64_t n = v.get<uint64_t>();
  if (n > max) refuse(std::string(key) + " is " + std::to_string(n) + ", more than " + std::to_string(max));
  return n;
}

const std::string& string_field(const json& object, const char* key) {
  const json& v = field(object, key);
  if (!v.is_string()) refuse(std::string(key) + " is not a string");
  return v.get_ref<const std::string&>();
}

const json& array_field(const json& object, const char* key) {
  const json& v = field(object, key);
  if (!v.is_array()) refuse(std::string(key) + " is not an array");
  return v;
}

// ---- events ---------------------------------------------------------------

// A sprite or returned event's text (stored whole, seq included, as it was
// sent) must be exactly what event_text.h builds from its parts: its head and
// tail are rebuilt from the parsed parts (each checked as the worker checks a
// throw), the sprite between them must be a JSON object within the protocol's
// nesting and the body limit, and the stored tail offset and thrower must
// match. Then the event is kept as a mailbox keeps it, without its seq.
void check_sprite_text(Event& e, uint32_t max_body_bytes) {
  json doc = json::parse(e.text, [](int depth, json::parse_event_t, json&) {
    if (depth > static_cast<int>(kMaxJsonDepth) + 1) refuse("an event nests too deep");
    return true;
  });
  if (!doc.is_object()) refuse("an event is not a JSON object");
  if (uint_field(doc, "seq", kMaxCount) != e.seq) refuse("an event's text names another seq");
  if (string_field(doc, "type") != kind_name(e.kind)) refuse("an event's text names another type");
  const bool sprite = e.kind == EventKind::Sprite;
  const json& ref = field(doc, sprite ? "from" : "to");
  const std::string& node = string_field(ref, "node");
  const std::string& name = string_field(ref, "name");
  if (!valid_node_id(node) || !valid_name(name)) refuse("an event names a node outside the protocol");
  std::optional<Direction> direction = parse_direction(string_field(doc, "direction"));
  if (!direction) refuse("an event has no valid direction");
  std::optional<std::string_view> id;
  if (doc.contains("id")) {
    id = std::string_view(string_field(doc, "id"));
    if (!valid_name(*id)) refuse("an event's sprite id is outside the protocol");
  }
  if (!field(doc, "sprite").is_object()) refuse("an event's sprite is not an object");

  uint32_t tail_at = 0;
  std::string shell = sprite_event_text(EventRef{node, name}, *direction, id, "", tail_at);
  if (!sprite) shell = returned_event_text(EventRef{node, name}, std::string_view(shell).substr(tail_at), tail_at);
  const size_t seq_prefix = with_seq(e.seq, "").size();
  shell = with_seq(e.seq, shell);
  const std::string_view head = std::string_view(shell).substr(0, shell.size() - 1);  // all but the final '}'
  const std::string_view text = e.text;
  if (text.size() < head.size() + 2 || text.substr(0, head.size()) != head || text.back() != '}') {
    refuse("an event's text is not the relay's own");
  }
  const std::string_view raw = text.substr(head.size(), text.size() - head.size() - 1);
  if (raw.size() > max_body_bytes || !is_json_object_within(raw, kMaxJsonDepth - 1)) {
    refuse("an event's sprite is not a JSON object within the protocol's limits");
  }
  if (e.tail_at != seq_prefix + tail_at) refuse("an event's tail offset is wrong");
  if (e.thrower != (sprite ? node : std::string())) refuse("an event names another thrower");
  e.text.erase(0, seq_prefix);
  e.tail_at = tail_at;
}

Event read_event(const json& stored, const RelayConfig& config, bool clustered) {
  Event e;
  e.seq = uint_field(stored, "seq", kMaxCount);
  if (stored.contains("copy")) {
    if (!clustered) refuse("a kept-copy key in a relay without a cluster");
    e.copy = uint_field(stored, "copy", kMaxCount);
  }
  if (!kind_from(string_field(stored, "kind"), e.kind)) refuse("an event of unknown kind");
  e.tail_at = static_cast<uint32_t>(uint_field(stored, "tail_at", UINT32_MAX));
  e.thrower = string_field(stored, "thrower");
  if (e.kind == EventKind::Neighbors) {
    // Rebuilt from the restored grid once every node is back: only the
    // latest set matters, and it is the grid's.
    string_field(stored, "text");
    if (e.tail_at != 0 || !e.thrower.empty()) refuse("a neighbors event carries sprite fields");
    return e;
  }
  e.text = string_field(stored, "text");
  check_sprite_text(e, config.max_body_bytes);
  if (e.copy != 0 && e.kind != EventKind::Sprite) refuse("a kept-copy key on a returned event");
  return e;
}

NodeView read_view(const json& stored) {
  NodeView v;
  v.version = uint_field(stored, "version", kMaxCount);
  v.row = static_cast<uint32_t>(uint_field(stored, "row", UINT32_MAX));
  v.col = static_cast<uint32_t>(uint_field(stored, "col", UINT32_MAX));
  const json& placed = field(stored, "placed");
  if (!placed.is_boolean()) refuse("a place's placed is not a boolean");
  v.placed = placed.get<bool>();
  const json& neighbours = array_field(stored, "neighbors");
  if (neighbours.size() != 4) refuse("a place without four neighbours");
  for (size_t i = 0; i < 4; ++i) {
    v.neighbours[i].id = string_field(neighbours[i], "node");
    v.neighbours[i].name = string_field(neighbours[i], "name");
    const bool unset = !v.placed && v.neighbours[i].id.empty() && v.neighbours[i].name.empty();
    if (!unset && (!valid_node_id(v.neighbours[i].id) || !valid_name(v.neighbours[i].name))) {
      refuse("a place names a node outside the protocol");
    }
  }
  return v;
}

// ---- the document -----------------------------------------------------------

// Throws Refusal (caught below) on anything the relay could not have written.
void restore(Relay& relay, Counters& counters, const json& doc, uint32_t& width, SnapshotCluster* cluster) {
  const RelayConfig& config = relay.config();
  const bool clustered = relay.clustered();
  if (doc.contains("cluster") != clustered) {
    refuse(clustered ? "written by a relay without a cluster" : "written by a relay in a cluster");
  }
  if (uint_field(doc, "version", INT32_MAX) != kVersion) refuse("unknown version");
  const uint64_t written = uint_field(doc, "written_at_ms", UINT64_MAX);
  const uint64_t now = wall_ms();
  if (written > now + kFutureSkewMs) refuse("dated " + std::to_string(written - now) + " ms in the future");
  const uint64_t age = now > written ? now - written : 0;
  if (age > config.node_ttl_ms) {
    refuse("stale: written " + std::to_string(age) + " ms ago, longer than the node TTL");
  }
  if (cluster) {
    cluster->age_ms = age;
    cluster->part = clustered ? doc["cluster"] : json();
  }
  width = static_cast<uint32_t>(uint_field(doc, "grid_width", 1000000));
  if (width == 0) refuse("grid_width is 0");
  const json& c = field(doc, "counters");
  Counters loaded;
  loaded.accepted = uint_field(c, "accepted", kMaxCount);
  loaded.delivered = uint_field(c, "delivered", kMaxCount);
  loaded.returned = uint_field(c, "returned", kMaxCount);
  loaded.dropped = uint_field(c, "dropped", kMaxCount);
  loaded.rejected = uint_field(c, "rejected", kMaxCount);
  // Absent from the snapshots of masters built before join control.
  if (c.contains("joins_invalid_ticket")) loaded.joins_invalid_ticket = uint_field(c, "joins_invalid_ticket", kMaxCount);
  if (c.contains("joins_rate_limited")) loaded.joins_rate_limited = uint_field(c, "joins_rate_limited", kMaxCount);

  std::set<std::string> groups_seen;
  uint64_t nodes = 0;
  for (const json& g : array_field(doc, "groups")) {
    const std::string& group = string_field(g, "name");
    if (!valid_group(group)) refuse("a group name outside the protocol");
    if (!groups_seen.insert(group).second) refuse("a group appears twice");
    const json& members = array_field(g, "nodes");
    if (members.empty()) refuse("a group without nodes");
    for (const json& n : members) {
      if (++nodes > config.max_nodes) refuse("more nodes than --max-nodes " + std::to_string(config.max_nodes));
      const std::string& id = string_field(n, "id");
      if (!valid_node_id(id)) refuse("a node id outside the protocol");
      const std::string& token_text = string_field(n, "token");
      if (token_text.size() != kTokenChars || !valid_node_id(token_text)) refuse("a token of the wrong form");
      Token token;
      std::copy(token_text.begin(), token_text.end(), token.begin());
      const std::string& name = string_field(n, "name");
      if (!valid_name(name)) refuse("a node name outside the protocol");
      const json& rate = field(n, "rate_tokens");
      if (!rate.is_number() || !std::isfinite(rate.get<double>()) || rate.get<double>() < 0) {
        refuse("rate_tokens is not a finite non-negative number");
      }
      const uint64_t last_seq = uint_field(n, "last_seq", kMaxCount);
      const json& stored = array_field(n, "events");
      if (stored.size() > static_cast<size_t>(config.mailbox_limit) + 2) {
        refuse("a mailbox holds more events than --mailbox-limit allows");
      }
      std::vector<Event> events;
      size_t thrown = 0;
      for (const json& e : stored) {
        events.push_back(read_event(e, config, clustered));
        if (events.back().kind != EventKind::Neighbors) ++thrown;
      }
      if (thrown > config.mailbox_limit) refuse("a mailbox holds more sprites than --mailbox-limit");
      if (n.contains("view") != clustered) refuse(clustered ? "a node without its place" : "a node with a place");
      Node* node = relay.restore_node(group, id, token, name, rate.get<double>());
      if (!node) refuse("a node id appears twice");
      if (clustered) relay.restore_view(*node, read_view(n["view"]));
      if (!node->mailbox.restore(last_seq, std::move(events))) {
        refuse("a mailbox's seqs are not consecutive up to its last seq, or it holds more than two neighbors events");
      }
    }
  }
  counters = loaded;
}

// Reads the whole regular file behind `fd`, at most `bound` bytes; refuses
// anything else.
std::string read_bounded(int fd, uint64_t bound) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) refuse(std::string("cannot inspect it: ") + std::strerror(errno));
  if (static_cast<uint64_t>(st.st_size) > bound) {
    refuse(std::to_string(st.st_size) + " bytes, more than the " + std::to_string(bound) +
           " a snapshot of this relay can hold");
  }
  std::string all(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (true) {
    char extra;
    char* into = got < all.size() ? all.data() + got : &extra;
    const size_t want = got < all.size() ? all.size() - got : 1;
    const ssize_t n = ::read(fd, into, want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) refuse(std::string("cannot read it: ") + std::strerror(errno));
    if (n == 0) break;
    if (got >= all.size()) refuse("it grew while it was read");
    got += static_cast<size_t>(n);
  }
  all.resize(got);
  return all;
}

}  // namespace

std::string snapshot_path_for(const std::string& ipc_path) { return ipc_path + ".snapshot"; }

bool valid_sprite_tail(std::string_view thrower, std::string_view tail, uint32_t max_body_bytes) {
  if (!valid_node_id(thrower)) return false;
  // The whole event it belongs to, as the relay would build it: its head
  // from a throw of `thrower`, then the tail; checked like a stored event.
  uint32_t head_size = 0;
  const std::string some = sprite_event_text(EventRef{thrower, ""}, Direction::Left, std::nullopt, "{}", head_size);
  Event e;
  e.seq = 1;
  e.kind = EventKind::Sprite;
  e.thrower.assign(thrower);
  const std::string text = some.substr(0, head_size) + std::string(tail);
  e.text = with_seq(1, text);
  e.tail_at = static_cast<uint32_t>(e.text.size() - text.size()) + head_size;
  try {
    check_sprite_text(e, max_body_bytes);
  } catch (const Refusal&) {
    return false;
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

std::string snapshot_header(const std::string& json_text) {
  char line[96];
  std::snprintf(line, sizeof line, "sprites-snapshot %d %zu %016" PRIx64 "\n", kVersion, json_text.size(),
                Fnv1a().add(json_text).value());
  return line;
}

namespace {

// The whole state as the document the file holds; `nodes` counts them.
json snapshot_document(const Relay& relay, const Counters& counters, uint32_t grid_width, const json& cluster,
                       size_t& nodes) {
  json doc;
  doc["version"] = kVersion;
  doc["written_at_ms"] = wall_ms();
  doc["grid_width"] = grid_width;
  doc["counters"] = {{"accepted", counters.accepted}, {"delivered", counters.delivered},
                     {"returned", counters.returned}, {"dropped", counters.dropped},
                     {"rejected", counters.rejected}, {"joins_invalid_ticket", counters.joins_invalid_ticket},
                     {"joins_rate_limited", counters.joins_rate_limited}};
  json groups = json::array();
  nodes = 0;
  relay.for_each_group([&](const Group& group) {
    json list = json::array();
    for (uint32_t slot = 0; slot < group.grid.size(); ++slot) {
      const Node& n = *static_cast<const Node*>(group.grid.at(slot));
      json events = json::array();
      n.mailbox.for_each([&](const Event& e) {
        // Whole, as it is sent: the seq prefix in front, the tail offset past it.
        const std::string text = with_seq(e.seq, e.text);
        const uint32_t tail_at = e.kind == EventKind::Neighbors
                                     ? 0
                                     : static_cast<uint32_t>(text.size() - e.text.size()) + e.tail_at;
        events.push_back({{"seq", e.seq}, {"kind", kind_name(e.kind)}, {"tail_at", tail_at}, {"text", text},
                          {"thrower", e.thrower}});
        if (e.copy != 0) events.back()["copy"] = e.copy;
      });
      list.push_back({{"id", n.id},
                      {"token", std::string(token_text(n.token))},
                      {"name", n.name},
                      {"rate_tokens", n.rate_tokens},
                      {"last_seq", n.mailbox.last_seq()},
                      {"events", std::move(events)}});
      if (n.view) {
        json neighbours = json::array();
        for (const auto& r : n.view->neighbours) neighbours.push_back({{"node", r.id}, {"name", r.name}});
        list.back()["view"] = {{"version", n.view->version}, {"row", n.view->row}, {"col", n.view->col},
                               {"placed", n.view->placed}, {"neighbors", std::move(neighbours)}};
      }
      ++nodes;
    }
    groups.push_back({{"name", group.name}, {"nodes", std::move(list)}});
  });
  doc["groups"] = std::move(groups);
  if (!cluster.is_null()) doc["cluster"] = cluster;
  return doc;
}

// Writes `text` to `path` as a fresh 0600 file, whole or not at all.
bool write_private(const std::string& path, const std::string& text) {
  // A fresh 0600 file (O_EXCL|O_NOFOLLOW: never through a link, never into
  // someone else's file), synced, then renamed over the old name.
  const std::string tmp = path + ".tmp";
  std::string why;
  const int fd = create_private_file(tmp, why);
  if (fd < 0) {
    LOG_ERROR("cannot write the snapshot: %s", why.c_str());
    return false;
  }
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  const bool ok = done == text.size() && ::fsync(fd) == 0;
  const int write_errno = errno;
  ::close(fd);
  if (!ok) {
    LOG_ERROR("cannot write the snapshot %s: %s", tmp.c_str(), std::strerror(write_errno));
    ::unlink(tmp.c_str());
    return false;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    LOG_ERROR("cannot move the snapshot into place at %s: %s", path.c_str(), std::strerror(errno));
    ::unlink(tmp.c_str());
    return false;
  }
  const int dir = ::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return true;
}

}  // namespace

bool write_snapshot(const Relay& relay, const Counters& counters, uint32_t grid_width, const std::string& path,
                    const json& cluster) {
  size_t nodes = 0;
  const std::string body = snapshot_document(relay, counters, grid_width, cluster, nodes).dump();
  const std::string text = snapshot_header(body) + body;
  if (!write_private(path, text)) return false;
  LOG_INFO("snapshot written to %s: %zu nodes, %zu bytes", path.c_str(), nodes, text.size());
  return true;
}

bool restore_snapshot(Relay& relay, Counters& counters, std::string file, std::string& why,
                      SnapshotCluster* cluster) {
  uint32_t width = 0;
  try {
    const size_t newline = file.find('\n');
    if (newline == std::string::npos || newline > 96) refuse("no header line");
    const std::string header = file.substr(0, newline + 1);
    int version = 0;
    size_t length = 0;
    char hash[32] = {};
    if (std::sscanf(header.c_str(), "sprites-snapshot %d %zu %31s", &version, &length, hash) != 3) {
      refuse("malformed header line");
    }
    if (version != kVersion) refuse("unknown version " + std::to_string(version));
    file.erase(0, newline + 1);
    if (file.size() != length) {
      refuse("truncated or padded: " + std::to_string(file.size()) + " bytes, header says " + std::to_string(length));
    }
    if (header != snapshot_header(file)) refuse("checksum mismatch");
    json doc = json::parse(file, [](int depth, json::parse_event_t, json&) {
      if (depth > kMaxDocumentDepth) refuse("the document nests too deep");
      return true;
    });
    std::string().swap(file);
    restore(relay, counters, doc, width, cluster);
  } catch (const Refusal& r) {
    why = r.why;
  } catch (const std::bad_alloc&) {
    why = "out of memory while loading it";
  } catch (const std::exception& e) {
    why = std::string("malformed content: ") + e.what();
  }
  if (!why.empty()) {
    relay.clear();
    return false;
  }
  relay.restore_places();
  if (width != relay.config().grid_width) {
    LOG_WARN("snapshot grid width %u differs from --grid-width %u: every node is told its new place", width,
             relay.config().grid_width);
    relay.announce_all_places();
  }
  return true;
}

SnapshotLoad load_snapshot(Relay& relay, Counters& counters, const std::string& path, SnapshotCluster* cluster) {
  auto refused = [&](const std::string& why) {
    LOG_ERROR("snapshot %s refused (%s): starting empty", path.c_str(), why.c_str());
    move_aside(path, ".refused");
    return SnapshotLoad::Refused;
  };
  std::string why;
  const int fd = open_private_file_for_reading(path, why);
  if (fd < 0) return why.empty() ? SnapshotLoad::Absent : refused(why);
  std::string file;
  try {
    file = read_bounded(fd, size_bound(relay.config()));
  } catch (const Refusal& r) {
    why = r.why;
  } catch (const std::bad_alloc&) {
    why = "out of memory while reading it";
  }
  ::close(fd);
  if (!why.empty()) return refused(why);
  if (!restore_snapshot(relay, counters, std::move(file), why, cluster)) return refused(why);
  LOG_INFO("snapshot %s loaded: %zu nodes in %zu groups", path.c_str(), relay.node_count(), relay.group_count());
  ::unlink(path.c_str());  // consumed: a later crash restart must not find it
  return SnapshotLoad::Loaded;
}

}  // namespace sprites::master
