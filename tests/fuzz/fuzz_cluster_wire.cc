// Fuzzes what another relay (or anything else on the cluster's NATS) can send
// a relay: the frame split of a NATS message and every message decoder of
// cluster/wire.h. A message is split into frames; each frame must re-encode
// with append_wire_frame to exactly its bytes; each body goes to every
// decoder, and a body a decoder accepts must re-encode to the same bytes
// (the layouts are canonical) and hold only valid identifiers.
//
// Seeds: corpus/fuzz_cluster_wire/ holds messages built with the encoders,
// written by this binary when SPRITES_FUZZ_WRITE_SEEDS names a directory, so
// they follow the codec if its format changes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "cluster/wire.h"
#include "common/identifiers.h"

namespace {

using namespace sprites::cluster;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_cluster_wire: %s\n", what);
  std::abort();
}

#define CHECK(cond)           \
  do {                        \
    if (!(cond)) fail(#cond); \
  } while (0)

template <typename M>
void round_trip(std::string_view body) {
  M m;
  if (decode(body, m)) CHECK(encode(m) == body);
}

void check_body(std::string_view body) {
  round_trip<JoinMessage>(body);
  round_trip<JoinResultMessage>(body);
  round_trip<LeaveMessage>(body);
  round_trip<LeaveResultMessage>(body);
  round_trip<PlaceMessage>(body);
  round_trip<ClaimMessage>(body);
  round_trip<CensusMessage>(body);
  round_trip<DeliverMessage>(body);
  round_trip<DeliverResultMessage>(body);
  round_trip<CopiesMessage>(body);
  PlaceMessage pm;
  if (decode(body, pm)) {
    CHECK(sprites::valid_group(pm.group));
    for (const Place& p : pm.places) {
      CHECK(sprites::valid_node_id(p.node));
      for (const Ref& r : p.neighbours) CHECK(sprites::valid_node_id(r.id) && sprites::valid_name(r.name));
    }
  }
  DeliverMessage dm;
  if (decode(body, dm)) CHECK(dm.copy != 0 && sprites::valid_node_id(dm.receiver) && !dm.sprite.empty());
}

void write_seed(const std::string& dir, const std::string& name, const std::string& bytes) {
  std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
}

void write_seeds(const std::string& dir) {
  Place p;
  p.node = "ra-AbCd1234";
  p.version = 9;
  p.row = 1;
  p.col = 2;
  for (size_t i = 0; i < 4; ++i) p.neighbours[i] = Ref{"rb-x" + std::to_string(i), "n\xc3\xa9"};
  std::string s;
  append_wire_frame(s, WireType::Join, 1, encode(JoinMessage{"office-7", "ra-AbCd1234", "laptop", 1733350000123456}));
  append_wire_frame(s, WireType::JoinResult, 1, encode(JoinResultMessage{JoinStatus::Placed, p}));
  write_seed(dir, "join", s);
  s.clear();
  append_wire_frame(s, WireType::Place, 2, encode(PlaceMessage{"", {p, p}}));
  append_wire_frame(s, WireType::PlaceAck, 2, "");
  append_wire_frame(s, WireType::Leave, 3, encode(LeaveMessage{"g", "ra-AbCd1234"}));
  append_wire_frame(s, WireType::LeaveResult, 3, encode(LeaveResultMessage{JoinStatus::NotOwner}));
  write_seed(dir, "place-leave", s);
  s.clear();
  append_wire_frame(s, WireType::Census, 0, encode(CensusMessage{"g"}));
  append_wire_frame(s, WireType::Claim, 0,
                    encode(ClaimMessage{"g", {{"ra-a", "a", 3, 7, true}, {"ra-b", "", 0, 0, false}}, true, 42}));
  write_seed(dir, "census-claim", s);
  s.clear();
  append_wire_frame(s, WireType::Deliver, 4,
                    encode(DeliverMessage{5, "rb-r", Ref{"ra-t", "t"}, sprites::Direction::Down, true, "s-1",
                                          R"({"kind":"ball","v":[1,2.5,-3e10,{"x":null}]})"}));
  append_wire_frame(s, WireType::DeliverResult, 4, encode(DeliverResultMessage{DeliverStatus::MailboxFull}));
  append_wire_frame(s, WireType::Acked, 0, encode(CopiesMessage{{5, 6}}));
  append_wire_frame(s, WireType::Returned, 0, encode(CopiesMessage{{7}}));
  write_seed(dir, "deliver-copies", s);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("SPRITES_FUZZ_WRITE_SEEDS")) {
    write_seeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string message(reinterpret_cast<const char*>(data), size);
  std::vector<WireFrame> frames;
  split_wire_frames(message, frames);
  std::string again;
  for (const WireFrame& f : frames) {
    append_wire_frame(again, f.type, f.id, f.body);
    check_body(f.body);
  }
  CHECK(message.compare(0, again.size(), again) == 0);
  return 0;
}
