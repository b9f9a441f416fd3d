// client/histogram: percentiles against a model (the sorted samples, nearest
// rank), within the bucket precision the histogram promises; merge; the JSON
// form the swarm's children send to their parent.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "client/histogram.h"

using sprites::client::Histogram;

namespace {

// The nearest-rank percentile of sorted samples: the model.
uint64_t model_percentile(const std::vector<uint64_t>& sorted, double p) {
  if (p >= 100) return sorted.back();
  auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

// The histogram's answer is the exact value rounded up within its bucket: at
// least the model, and above it by at most a bucket's width (1/64 of it).
void check_against_model(const Histogram& h, std::vector<uint64_t> samples) {
  std::sort(samples.begin(), samples.end());
  for (double p : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 100.0}) {
    uint64_t exact = model_percentile(samples, p);
    uint64_t got = h.percentile(p);
    INFO("p" << p << ": model " << exact << ", histogram " << got);
    CHECK(got >= exact);
    CHECK(got <= Histogram::highest_in(Histogram::bucket_of(exact)));
    CHECK(static_cast<double>(got - exact) <= static_cast<double>(exact) / 64.0 + 1.0);
  }
  CHECK(h.max() == samples.back());
  CHECK(h.min() == samples.front());
  CHECK(h.count() == samples.size());
}

}  // namespace

TEST_CASE("every value falls in the bucket whose bounds contain it", "[client][histogram]") {
  std::mt19937_64 rng(7);
  std::vector<uint64_t> values = {0, 1, 127, 128, 129, 255, 256, 1000, 123456789, UINT64_MAX - 1, UINT64_MAX};
  for (int i = 0; i < 10000; ++i) values.push_back(rng() >> (rng() % 64));
  for (uint64_t v : values) {
    size_t b = Histogram::bucket_of(v);
    INFO("value " << v << " bucket " << b);
    REQUIRE(b < Histogram::kBucketCount);
    CHECK(Histogram::lowest_in(b) <= v);
    CHECK(v <= Histogram::highest_in(b));
  }
  // Buckets tile the range: each starts right after the previous one ends.
  for (size_t b = 1; b < Histogram::kBucketCount; ++b) {
    REQUIRE(Histogram::lowest_in(b) == Histogram::highest_in(b - 1) + 1);
  }
  CHECK(Histogram::highest_in(Histogram::kBucketCount - 1) == UINT64_MAX);
}

TEST_CASE("percentiles match the sorted samples within bucket precision", "[client][histogram]") {
  std::mt19937_64 rng(42);
  SECTION("latencies spread over six orders of magnitude") {
    Histogram h;
    std::vector<uint64_t> samples;
    std::lognormal_distribution<double> latency(13.0, 1.5);  // ns: around 0.5 ms, long tail
    for (int i = 0; i < 100000; ++i) {
      auto v = static_cast<uint64_t>(latency(rng));
      samples.push_back(v);
      h.record(v);
    }
    check_against_model(h, samples);
  }
  SECTION("small exact values") {
    Histogram h;
    std::vector<uint64_t> samples;
    for (uint64_t v = 0; v < 128; ++v) {
      samples.push_back(v);
      h.record(v);
    }
    check_against_model(h, samples);
    CHECK(h.percentile(50) == 63);  // below 128 every value has its own bucket
  }
  SECTION("a single sample is every percentile") {
    Histogram h;
    h.record(123456);
    for (double p : {0.0, 50.0, 99.9, 100.0}) CHECK(h.percentile(p) == 123456);
  }
}

TEST_CASE("an empty histogram answers zero", "[client][histogram]") {
  Histogram h;
  CHECK(h.count() == 0);
  CHECK(h.percentile(99) == 0);
  CHECK(h.max() == 0);
  CHECK(h.min() == 0);
  CHECK(h.mean() == 0);
}

TEST_CASE("merging histograms equals recording every sample in one", "[client][histogram]") {
  std::mt19937_64 rng(3);
  Histogram a, b, all;
  std::vector<uint64_t> samples;
  for (int i = 0; i < 20000; ++i) {
    uint64_t v = rng() % 50000000;
    (i % 3 == 0 ? a : b).record(v);
    all.record(v);
    samples.push_back(v);
  }
  Histogram merged;
  merged.merge(a);
  merged.merge(b);
  merged.merge(Histogram());  // an empty one changes nothing
  CHECK(merged.count() == all.count());
  CHECK(merged.sum() == all.sum());
  CHECK(merged.min() == all.min());
  CHECK(merged.max() == all.max());
  for (double p : {50.0, 90.0, 99.0, 99.9}) CHECK(merged.percentile(p) == all.percentile(p));
  check_against_model(merged, samples);
}

TEST_CASE("a histogram survives its JSON form", "[client][histogram]") {
  Histogram h;
  for (uint64_t v : {5u, 5u, 900u, 70000u, 3000000u}) h.record(v);
  auto back = Histogram::from_json(h.to_json());
  REQUIRE(back);
  CHECK(back->count() == h.count());
  CHECK(back->sum() == h.sum());
  CHECK(back->min() == 5);
  CHECK(back->max() == 3000000);
  for (double p : {20.0, 50.0, 90.0, 100.0}) CHECK(back->percentile(p) == h.percentile(p));

  CHECK_FALSE(Histogram::from_json(nlohmann::json::array()));
  CHECK_FALSE(Histogram::from_json({{"min", 0}, {"max", 0}, {"sum", 0}, {"buckets", {{999999, 1}}}}));
  auto empty = Histogram::from_json(Histogram().to_json());
  REQUIRE(empty);
  CHECK(empty->count() == 0);
}
