// The binary messages between relays (cluster/wire.h): each survives its
// encoding, and decoders refuse what a hostile relay could send.
#include "cluster/wire.h"

#include <catch2/catch.hpp>

using namespace sprites::cluster;

namespace {

Place sample_place() {
  Place p;
  p.node = "ra-AbCdEfGh";
  p.version = 77;
  p.row = 3;
  p.col = 1;
  for (size_t i = 0; i < 4; ++i) p.neighbours[i] = Ref{"rb-N" + std::to_string(i), "name \xc3\xa9"};
  return p;
}

}  // namespace

TEST_CASE("every relay message survives its encoding", "[cluster]") {
  PlaceMessage pm{"office-7", {sample_place(), sample_place()}};
  PlaceMessage pm2;
  REQUIRE(decode(encode(pm), pm2));
  REQUIRE(pm2.places.size() == 2);
  CHECK(pm2.places[1].neighbours[3] == pm.places[1].neighbours[3]);
  CHECK(pm2.places[0].version == 77);

  JoinResultMessage jr{JoinStatus::Placed, sample_place()}, jr2;
  REQUIRE(decode(encode(jr), jr2));
  CHECK(jr2.place.node == "ra-AbCdEfGh");

  ClaimMessage cm{"", {{"ra-x", "", 4, 9, true}, {"ra-y", "y", 0, 0, false}}, false, 1733350000123456}, cm2;
  REQUIRE(decode(encode(cm), cm2));
  CHECK(cm2.incarnation == cm.incarnation);
  JoinMessage jm{"g", "ra-x", "x", 77}, jm2;
  REQUIRE(decode(encode(jm), jm2));
  CHECK(jm2.incarnation == 77);
  CHECK(cm2.seats.size() == 2);
  CHECK_FALSE(cm2.last);
  CHECK(cm2.seats[0].slot == 4);
  CHECK_FALSE(cm2.seats[1].placed);

  DeliverMessage dm;
  dm.copy = 12;
  dm.receiver = "rb-r";
  dm.thrower = Ref{"ra-t", "t"};
  dm.direction = sprites::Direction::Up;
  dm.has_id = true;
  dm.sprite_id = "s-1";
  dm.sprite = R"({"a":[1,2,{"b":null}]})";
  DeliverMessage dm2;
  REQUIRE(decode(encode(dm), dm2));
  CHECK(dm2.sprite == dm.sprite);
  CHECK(dm2.direction == sprites::Direction::Up);

  CopiesMessage c{{1, 2, 0xffffffffffffffffull}}, c2;
  REQUIRE(decode(encode(c), c2));
  CHECK(c2.copies == c.copies);
}

TEST_CASE("relay messages with bad lengths, ids, names, sprites or trailing bytes are refused", "[cluster]") {
  std::string good = encode(JoinMessage{"g", "ra-abc", "n"});
  JoinMessage j;
  REQUIRE(decode(good, j));
  CHECK_FALSE(decode(good + "x", j));
  CHECK_FALSE(decode(good.substr(0, good.size() - 1), j));
  CHECK_FALSE(decode(encode(JoinMessage{"g", "bad id!", "n"}), j));
  CHECK_FALSE(decode(encode(JoinMessage{"bad group!", "ra-a", "n"}), j));
  CHECK_FALSE(decode(encode(JoinMessage{"g", "ra-a", "\xff\xfe"}), j));
  CHECK_FALSE(decode(encode(JoinMessage{"g", "ra-a", std::string(65, 'x')}), j));

  DeliverMessage d;
  d.copy = 1;
  d.receiver = "rb-r";
  d.thrower = Ref{"ra-t", "t"};
  d.sprite = R"({"a":1})";
  DeliverMessage out;
  REQUIRE(decode(encode(d), out));
  d.sprite = R"({"a":1)";  // not JSON: it would break a client's event stream
  CHECK_FALSE(decode(encode(d), out));
  d.sprite = "[1]";  // not an object
  CHECK_FALSE(decode(encode(d), out));
  d.sprite = std::string(70, '[') + std::string(70, ']');
  CHECK_FALSE(decode(encode(d), out));
  d.sprite = "{}";
  d.copy = 0;  // no copy to report back
  CHECK_FALSE(decode(encode(d), out));

  std::string direction = encode(DeliverMessage{1, "rb-r", Ref{"ra-t", "t"}, sprites::Direction::Left, false, "", "{}"});
  direction[8 + 4 + 4 + 4 + 4 + 1] = 9;  // the direction byte after copy, receiver and thrower
  CHECK_FALSE(decode(direction, out));

  // A list length beyond what the body holds.
  std::string copies = encode(CopiesMessage{{1}});
  copies[0] = '\x7f';
  CopiesMessage c;
  CHECK_FALSE(decode(copies, c));
}

TEST_CASE("frames split exactly, and a bad length or type stops the split", "[cluster]") {
  std::string data;
  append_wire_frame(data, WireType::Join, 5, "abc");
  append_wire_frame(data, WireType::Acked, 6, "");
  std::vector<WireFrame> frames;
  REQUIRE(split_wire_frames(data, frames));
  REQUIRE(frames.size() == 2);
  CHECK(frames[0].type == WireType::Join);
  CHECK(frames[0].id == 5);
  CHECK(frames[0].body == "abc");
  CHECK(frames[1].body.empty());

  frames.clear();
  CHECK_FALSE(split_wire_frames(data.substr(0, data.size() - 1), frames));
  std::string bad_type = data;
  bad_type[4] = 99;
  frames.clear();
  CHECK_FALSE(split_wire_frames(bad_type, frames));
  std::string huge = data;
  huge[3] = '\x7f';
  frames.clear();
  CHECK_FALSE(split_wire_frames(huge, frames));
}
