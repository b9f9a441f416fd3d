// See wire.h.
#include "cluster/wire.h"

#include <cstring>

#include "common/identifiers.h"
#include "common/json_limits.h"

namespace sprites::cluster {
namespace {

constexpr size_t kHeader = 9;
constexpr size_t kMaxNameBytes = 64 * 4;
constexpr size_t kMaxSpriteBytes = 1u << 20;
constexpr size_t kMaxListItems = 1u << 20;

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void str(std::string_view s) {
    u32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  void ref(const Ref& r) {
    str(r.id);
    str(r.name);
  }

 private:
  std::string& out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool u8(uint8_t& v) {
    if (in_.size() < 1) return fail();
    v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool u32(uint32_t& v) {
    if (in_.size() < 4) return fail();
    v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(in_[i])) << (8 * i);
    in_.remove_prefix(4);
    return true;
  }
  bool u64(uint64_t& v) {
    if (in_.size() < 8) return fail();
    v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(in_[i])) << (8 * i);
    in_.remove_prefix(8);
    return true;
  }
  bool str(std::string& s, size_t max) {
    uint32_t n = 0;
    if (!u32(n) || n > max || n > in_.size()) return fail();
    s.assign(in_.substr(0, n));
    in_.remove_prefix(n);
    return true;
  }
  bool flag(bool& b) {
    uint8_t v = 0;
    if (!u8(v) || v > 1) return fail();
    b = v == 1;
    return true;
  }
  bool node(std::string& id) { return str(id, 32) && (valid_node_id(id) || fail()); }
  bool name(std::string& name) { return str(name, kMaxNameBytes) && (valid_name(name) || fail()); }
  bool group(std::string& g) { return str(g, 64) && (valid_group(g) || fail()); }
  bool ref(Ref& r) { return node(r.id) && name(r.name); }
  bool count(uint32_t& n) { return u32(n) && (n <= kMaxListItems || fail()); }
  bool done() const { return ok_ && in_.empty(); }

 private:
  bool fail() {
    ok_ = false;
    return false;
  }
  std::string_view in_;
  bool ok_ = true;
};

void write_place(Writer& w, const Place& p) {
  w.str(p.node);
  w.u64(p.version);
  w.u32(p.row);
  w.u32(p.col);
  for (const Ref& r : p.neighbours) w.ref(r);
}

bool read_place(Reader& r, Place& p) {
  if (!r.node(p.node) || !r.u64(p.version) || !r.u32(p.row) || !r.u32(p.col)) return false;
  for (Ref& n : p.neighbours) {
    if (!r.ref(n)) return false;
  }
  return true;
}

}  // namespace

void append_wire_frame(std::string& out, WireType type, uint32_t id, std::string_view body) {
  Writer w(out);
  w.u32(static_cast<uint32_t>(body.size() + 5));
  w.u8(static_cast<uint8_t>(type));
  w.u32(id);
  out.append(body);
}

bool split_wire_frames(std::string_view data, std::vector<WireFrame>& out) {
  while (!data.empty()) {
    if (data.size() < kHeader) return false;
    Reader r(data);
    uint32_t length = 0, id = 0;
    uint8_t type = 0;
    r.u32(length);
    r.u8(type);
    r.u32(id);
    if (length < 5 || length > kMaxWireFrame || length - 5 > data.size() - kHeader) return false;
    if (type == 0 || type > kLastWireType) return false;
    out.push_back(WireFrame{static_cast<WireType>(type), id, data.substr(kHeader, length - 5)});
    data.remove_prefix(kHeader + (length - 5));
  }
  return true;
}

// ---- encoders --------------------------------------------------------------

std::string encode(const JoinMessage& m) {
  std::string out;
  Writer w(out);
  w.str(m.group);
  w.str(m.node);
  w.str(m.name);
  w.u64(m.incarnation);
  return out;
}

std::string encode(const JoinResultMessage& m) {
  std::string out;
  Writer w(out);
  w.u8(static_cast<uint8_t>(m.status));
  if (m.status == JoinStatus::Placed) write_place(w, m.place);
  return out;
}

std::string encode(const LeaveMessage& m) {
  std::string out;
  Writer w(out);
  w.str(m.group);
  w.str(m.node);
  return out;
}

std::string encode(const LeaveResultMessage& m) {
  std::string out;
  Writer w(out);
  w.u8(static_cast<uint8_t>(m.status));
  return out;
}

std::string encode(const PlaceMessage& m) {
  std::string out;
  Writer w(out);
  w.str(m.group);
  w.u32(static_cast<uint32_t>(m.places.size()));
  for (const Place& p : m.places) write_place(w, p);
  return out;
}

std::string encode(const ClaimMessage& m) {
  std::string out;
  Writer w(out);
  w.str(m.group);
  w.u32(static_cast<uint32_t>(m.seats.size()));
  for (const auto& s : m.seats) {
    w.str(s.node);
    w.str(s.name);
    w.u32(s.slot);
    w.u64(s.version);
    w.u8(s.placed ? 1 : 0);
  }
  w.u8(m.last ? 1 : 0);
  w.u64(m.incarnation);
  return out;
}

std::string encode(const CensusMessage& m) {
  std::string out;
  Writer w(out);
  w.str(m.group);
  return out;
}

std::string encode(const DeliverMessage& m) {
  std::string out;
  Writer w(out);
  w.u64(m.copy);
  w.str(m.receiver);
  w.ref(m.thrower);
  w.u8(static_cast<uint8_t>(m.direction));
  w.u8(m.has_id ? 1 : 0);
  w.str(m.sprite_id);
  w.str(m.sprite);
  return out;
}

std::string encode(const DeliverResultMessage& m) {
  std::string out;
  Writer w(out);
  w.u8(static_cast<uint8_t>(m.status));
  return out;
}

std::string encode(const CopiesMessage& m) {
  std::string out;
  Writer w(out);
  w.u32(static_cast<uint32_t>(m.copies.size()));
  for (uint64_t c : m.copies) w.u64(c);
  return out;
}

// ---- decoders --------------------------------------------------------------

bool decode(std::string_view body, JoinMessage& out) {
  Reader r(body);
  return r.group(out.group) && r.node(out.node) && r.name(out.name) && r.u64(out.incarnation) && r.done();
}

bool decode(std::string_view body, JoinResultMessage& out) {
  Reader r(body);
  uint8_t status = 0;
  if (!r.u8(status) || status > 2) return false;
  out.status = static_cast<JoinStatus>(status);
  if (out.status == JoinStatus::Placed && !read_place(r, out.place)) return false;
  return r.done();
}

bool decode(std::string_view body, LeaveMessage& out) {
  Reader r(body);
  return r.group(out.group) && r.node(out.node) && r.done();
}

bool decode(std::string_view body, LeaveResultMessage& out) {
  Reader r(body);
  uint8_t status = 0;
  if (!r.u8(status) || (status != 0 && status != 2) || !r.done()) return false;
  out.status = static_cast<JoinStatus>(status);
  return true;
}

bool decode(std::string_view body, PlaceMessage& out) {
  Reader r(body);
  uint32_t n = 0;
  if (!r.group(out.group) || !r.count(n)) return false;
  out.places.clear();
  for (uint32_t i = 0; i < n; ++i) {
    Place p;
    if (!read_place(r, p)) return false;
    out.places.push_back(std::move(p));
  }
  return r.done();
}

bool decode(std::string_view body, ClaimMessage& out) {
  Reader r(body);
  uint32_t n = 0;
  if (!r.group(out.group) || !r.count(n)) return false;
  out.seats.clear();
  for (uint32_t i = 0; i < n; ++i) {
    ClaimMessage::Seat s;
    if (!r.node(s.node) || !r.name(s.name) || !r.u32(s.slot) || !r.u64(s.version) || !r.flag(s.placed)) return false;
    out.seats.push_back(std::move(s));
  }
  return r.flag(out.last) && r.u64(out.incarnation) && r.done();
}

bool decode(std::string_view body, CensusMessage& out) {
  Reader r(body);
  return r.group(out.group) && r.done();
}

bool decode(std::string_view body, DeliverMessage& out) {
  Reader r(body);
  uint8_t direction = 0;
  if (!r.u64(out.copy) || !r.node(out.receiver) || !r.ref(out.thrower) || !r.u8(direction) || direction > 3 ||
      !r.flag(out.has_id) || !r.name(out.sprite_id) || !r.str(out.sprite, kMaxSpriteBytes) || !r.done()) {
    return false;
  }
  out.direction = static_cast<Direction>(direction);
  // The sprite goes into a client's events byte for byte: it must be what a
  // worker lets through.
  return out.copy != 0 && is_json_object_within(out.sprite, kMaxJsonDepth);
}

bool decode(std::string_view body, DeliverResultMessage& out) {
  Reader r(body);
  uint8_t status = 0;
  if (!r.u8(status) || status > 2 || !r.done()) return false;
  out.status = static_cast<DeliverStatus>(status);
  return true;
}

bool decode(std::string_view body, CopiesMessage& out) {
  Reader r(body);
  uint32_t n = 0;
  if (!r.count(n)) return false;
  out.copies.clear();
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t c = 0;
    if (!r.u64(c)) return false;
    out.copies.push_back(c);
  }
  return r.done();
}

}  // namespace sprites::cluster
