// See join_rate_limit.h.
#include "master/join_rate_limit.h"

#include "common/fnv1a.h"

#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

namespace sprites::master {
namespace {

uint64_t mix(uint64_t x) { return mix64(x); }

uint64_t random_seed() {
  uint64_t seed = 0;
  if (::getentropy(&seed, sizeof seed) != 0) seed = std::random_device{}();
  return seed;
}

}  // namespace

std::optional<SourceKey> source_key(const sockaddr_storage& address) {
  SourceKey key;
  if (address.ss_family == AF_INET) {
    sockaddr_in v4{};
    std::memcpy(&v4, &address, sizeof v4);
    key.bytes[10] = key.bytes[11] = 0xFF;  // ::ffff:a.b.c.d, as an IPv4-mapped address
    std::memcpy(&key.bytes[12], &v4.sin_addr, 4);
    return key;
  }
  if (address.ss_family == AF_INET6) {
    sockaddr_in6 v6{};
    std::memcpy(&v6, &address, sizeof v6);
    std::memcpy(key.bytes.data(), &v6.sin6_addr, 16);
    if (!IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) std::fill(key.bytes.begin() + 8, key.bytes.end(), 0);
    return key;
  }
  return std::nullopt;
}

JoinRateLimit::JoinRateLimit(const RelayClock& clock, double per_second) : clock_(clock), seed_(random_seed()) {
  const double interval = std::max(1.0, std::round(1e6 / per_second));
  const double burst = std::max(1.0, 2 * per_second);
  interval_us_ = static_cast<uint64_t>(interval);
  tolerance_us_ = static_cast<uint64_t>((burst - 1) * interval);
}

size_t JoinRateLimit::home_of(const SourceKey& key) const {
  uint64_t high = 0;
  uint64_t low = 0;
  std::memcpy(&high, key.bytes.data(), 8);
  std::memcpy(&low, key.bytes.data() + 8, 8);
  return static_cast<size_t>(mix(mix(high ^ seed_) ^ low) % kSlots);
}

uint32_t JoinRateLimit::admit(const SourceKey& key) {
  // +1: a TAT of 0 marks a slot never used, and the clock may start at 0.
  const uint64_t now = clock_.now_ms() * 1000 + 1;
  if (!table_) table_ = std::make_unique<Entry[]>(kSlots);
  const size_t home = home_of(key);
  Entry* found = nullptr;
  Entry* free_slot = nullptr;
  Entry* nearest_full = nullptr;
  for (size_t i = 0; i < kProbe; ++i) {
    Entry& e = table_[(home + i) % kSlots];
    if (e.tat_us != 0 && e.key == key) {
      found = &e;
      break;
    }
    if (e.tat_us <= now) {
      if (!free_slot) free_slot = &e;
    } else if (!nearest_full || e.tat_us < nearest_full->tat_us) {
      nearest_full = &e;
    }
  }
  if (!found) {
    found = free_slot ? free_slot : nearest_full;
    found->key = key;
    found->tat_us = now;
  }
  const uint64_t tat = std::max(found->tat_us, now);
  if (tat - now > tolerance_us_) {
    const uint64_t wait_us = tat - tolerance_us_ - now;
    return static_cast<uint32_t>(std::max<uint64_t>(1, (wait_us + 999999) / 1000000));
  }
  found->tat_us = tat + interval_us_;
  return 0;
}

size_t JoinRateLimit::tracked() const {
  if (!table_) return 0;
  const uint64_t now = clock_.now_ms() * 1000 + 1;
  size_t n = 0;
  for (size_t i = 0; i < kSlots; ++i) n += table_[i].tat_us > now ? 1 : 0;
  return n;
}

}  // namespace sprites::master
