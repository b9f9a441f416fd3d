// See histogram.h. Bucket index of v >= 128: with e = floor(log2 v) (7..63)
// and the top 7 bits of v, t = v >> (e - 6) in [64, 128), the index is
// 128 + (e - 7) * 64 + (t - 64); the bucket holds [t << (e-6), (t+1) << (e-6)).
#include "client/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace sprites::client {

size_t Histogram::bucket_of(uint64_t value) {
  if (value < 128) return static_cast<size_t>(value);
  unsigned e = 63u - static_cast<unsigned>(std::countl_zero(value));
  unsigned shift = e - kSubBucketBits;
  uint64_t top = value >> shift;
  return 128 + (e - 7) * 64 + static_cast<size_t>(top - 64);
}

uint64_t Histogram::lowest_in(size_t bucket) {
  if (bucket < 128) return bucket;
  size_t e = 7 + (bucket - 128) / 64;
  uint64_t top = 64 + (bucket - 128) % 64;
  return top << (e - kSubBucketBits);
}

uint64_t Histogram::highest_in(size_t bucket) {
  if (bucket < 128) return bucket;
  size_t e = 7 + (bucket - 128) / 64;
  uint64_t top = 64 + (bucket - 128) % 64;
  unsigned shift = static_cast<unsigned>(e - kSubBucketBits);
  // (top + 1) << shift overflows only for the very last bucket.
  if (top == 127 && e == 63) return UINT64_MAX;
  return ((top + 1) << shift) - 1;
}

void Histogram::record(uint64_t value, uint64_t count) {
  if (count == 0) return;
  size_t b = bucket_of(value);
  if (b >= counts_.size()) counts_.resize(b + 1, 0);
  counts_[b] += count;
  count_ += count;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  sum_ += value * count;
}

void Histogram::merge(const Histogram& other) {
  if (other.count_ == 0) return;
  if (other.counts_.size() > counts_.size()) counts_.resize(other.counts_.size(), 0);
  for (size_t i = 0; i < other.counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

void Histogram::clear() { *this = Histogram(); }

uint64_t Histogram::percentile(double p) const {
  if (count_ == 0) return 0;
  if (!(p > 0)) return min_;
  if (p >= 100) return max_;
  double exact = std::ceil(p / 100.0 * static_cast<double>(count_));
  uint64_t rank = std::clamp<uint64_t>(static_cast<uint64_t>(exact), 1, count_);
  uint64_t seen = 0;
  for (size_t b = 0; b < counts_.size(); ++b) {
    seen += counts_[b];
    if (seen >= rank) return std::clamp(highest_in(b), min_, max_);
  }
  return max_;
}

nlohmann::json Histogram::to_json() const {
  nlohmann::json buckets = nlohmann::json::array();
  for (size_t b = 0; b < counts_.size(); ++b) {
    if (counts_[b] != 0) buckets.push_back({b, counts_[b]});
  }
  return {{"min", min()}, {"max", max_}, {"sum", sum_}, {"buckets", std::move(buckets)}};
}

std::optional<Histogram> Histogram::from_json(const nlohmann::json& value) {
  if (!value.is_object()) return std::nullopt;
  auto number = [&](const char* key, uint64_t& out) {
    auto it = value.find(key);
    if (it == value.end() || !it->is_number_unsigned()) return false;
    out = it->get<uint64_t>();
    return true;
  };
  Histogram h;
  uint64_t min = 0, max = 0, sum = 0;
  if (!number("min", min) || !number("max", max) || !number("sum", sum) || !value.contains("buckets")) {
    return std::nullopt;
  }
  const nlohmann::json& buckets = value.at("buckets");
  if (!buckets.is_array()) return std::nullopt;
  for (const auto& pair : buckets) {
    if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number_unsigned() || !pair[1].is_number_unsigned()) {
      return std::nullopt;
    }
    uint64_t index = pair[0].get<uint64_t>();
    if (index >= kBucketCount) return std::nullopt;
    size_t b = static_cast<size_t>(index);
    if (b >= h.counts_.size()) h.counts_.resize(b + 1, 0);
    h.counts_[b] += pair[1].get<uint64_t>();
    h.count_ += pair[1].get<uint64_t>();
  }
  if (h.count_ != 0) {
    h.min_ = min;
    h.max_ = max;
    h.sum_ = sum;
  }
  return h;
}

}  // namespace sprites::client
