// client/swarm/seq_set: the bitmap of throw seqs behind the swarm's lost and
// duplicated counts, and its base64 form in the children's reports.
#include <catch2/catch.hpp>

#include <random>
#include <set>

#include "client/swarm/seq_set.h"

using sprites::swarm::SeqSet;

TEST_CASE("a seq set says whether a seq was seen before", "[swarm][seq_set]") {
  SeqSet s;
  CHECK_FALSE(s.test_and_set(5));
  CHECK(s.test_and_set(5));
  CHECK_FALSE(s.test_and_set(100000));  // grows on demand
  CHECK(s.test(5));
  CHECK(s.test(100000));
  CHECK_FALSE(s.test(6));
  CHECK_FALSE(s.test(10000000));  // beyond the end reads as absent
  CHECK(s.count() == 2);
}

TEST_CASE("lost throws are the accepted ones in neither delivered nor returned", "[swarm][seq_set]") {
  SeqSet accepted, delivered_a, delivered_b, returned;
  for (uint64_t i = 0; i < 1000; ++i) accepted.test_and_set(i);
  for (uint64_t i = 0; i < 1000; i += 2) delivered_a.test_and_set(i);
  for (uint64_t i = 1; i < 990; i += 2) delivered_b.test_and_set(i);
  returned.test_and_set(991);
  SeqSet delivered;
  delivered.merge(delivered_a);
  delivered.merge(delivered_b);
  CHECK(delivered.count() == 995);
  CHECK(accepted.count_missing_from(delivered, returned) == 4);  // 993, 995, 997, 999
  CHECK(delivered_a.count_common(delivered_b) == 0);
  delivered_b.test_and_set(0);
  CHECK(delivered_a.count_common(delivered_b) == 1);
}

TEST_CASE("a seq set survives its base64 form", "[swarm][seq_set]") {
  std::mt19937_64 rng(11);
  for (int round = 0; round < 20; ++round) {
    SeqSet s;
    std::set<uint64_t> model;
    int n = static_cast<int>(rng() % 200);
    for (int i = 0; i < n; ++i) {
      uint64_t v = rng() % 5000;
      s.test_and_set(v);
      model.insert(v);
    }
    auto back = SeqSet::from_base64(s.to_base64());
    REQUIRE(back);
    CHECK(back->count() == model.size());
    for (uint64_t v : model) CHECK(back->test(v));
  }
  CHECK(SeqSet().to_base64().empty());
  CHECK(SeqSet::from_base64("")->count() == 0);
  CHECK_FALSE(SeqSet::from_base64("abc"));       // not a multiple of 4
  CHECK_FALSE(SeqSet::from_base64("a*cd"));      // not base64
  CHECK_FALSE(SeqSet::from_base64("AAAA"));      // 3 bytes: not whole words
}
