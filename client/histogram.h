// Histogram: a log-bucket histogram of non-negative integers (the swarm
// records send->delivery latencies in nanoseconds), with percentiles, merge
// and a sparse JSON form that travels from the swarm's children to its parent.
//
// Buckets: values below 128 have a bucket each; above, every power of two is
// split into 64 equal buckets, so a bucket is at most 1/64 (1.6 %) of its
// values wide, whatever their size, and the whole uint64 range fits in 3776
// counters (30 KiB, allocated up to the highest bucket used). min, max, count
// and sum are kept exactly. A percentile is the nearest-rank value rounded up
// to its bucket's highest value, never above the exact max: p100 is the max.
//
// Dropped alternative: keeping every sample and sorting. Exact, but it costs
// memory per delivery and the children would ship millions of samples through
// a pipe; 1.6 % is far below what loopback jitter moves a percentile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

namespace sprites::client {

class Histogram {
 public:
  static constexpr unsigned kSubBucketBits = 6;  // 64 buckets per power of two
  static constexpr size_t kBucketCount = 128 + (64 - 7) * 64;

  void record(uint64_t value, uint64_t count = 1);
  void merge(const Histogram& other);
  void clear();

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  uint64_t sum() const { return sum_; }
  double mean() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(count_); }
  // p in [0, 100]; 0 when empty.
  uint64_t percentile(double p) const;

  // {"min":..,"max":..,"sum":..,"buckets":[[index,count],...]} with empty
  // buckets left out.
  nlohmann::json to_json() const;
  // nullopt for anything to_json() would not have written.
  static std::optional<Histogram> from_json(const nlohmann::json& value);

  static size_t bucket_of(uint64_t value);
  static uint64_t lowest_in(size_t bucket);
  static uint64_t highest_in(size_t bucket);

 private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  uint64_t sum_ = 0;
};

}  // namespace sprites::client
