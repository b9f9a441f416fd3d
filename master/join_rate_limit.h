// JoinRateLimit: joins per second per source address (--join-rate-limit N,
// docs/API.md "Join control"), burst 2N, so one address cannot fill
// --max-nodes in a moment. Over the limit a join gets `429 rate_limited`
// before its body is read.
//
// Keys: an IPv4 address (also when it arrives IPv4-mapped on an IPv6
// socket), or the /64 prefix of an IPv6 address: a /64 is what one
// subscriber, or one host, is given, so keying on whole IPv6 addresses would
// hand a single attacker 2^64 buckets.
//
// Each key holds one number, the generic cell rate algorithm's theoretical
// arrival time (TAT): a join at `now` goes on when TAT - now <= (burst - 1) x
// interval, and moves TAT to max(TAT, now) + interval. A TAT at or before now
// is a full bucket, the same as no entry at all, so an entry matters only
// for burst x interval after its last join (2 s; 1/N s when N < 0.5, whose
// burst is 1).
//
// Memory is fixed whatever the number of addresses: kSlots entries of 24
// bytes (96 KiB), allocated with the first join, in an open-addressing table
// probed kProbe slots from a hash keyed with random bits drawn at start. A
// new key takes a slot of its window that is empty or full-bucket; when all
// kProbe hold addresses inside that time, the one nearest to full is
// forgotten. Forgetting only ever lets an address join sooner (a fresh full
// bucket), never later: many addresses at once are the business of tickets
// (--join-key) and of --max-nodes, not of a per-address limit.
//
// Dropped alternative: an unordered_map of buckets swept by a timer. Its size
// follows the attacker's address count, and the sweep is one more timer.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "master/relay_clock.h"

namespace sprites::master {

// The part of a peer address the limit is kept by (see above).
struct SourceKey {
  std::array<uint8_t, 16> bytes{};
  bool operator==(const SourceKey&) const = default;
};

// nullopt for an address that is neither IPv4 nor IPv6.
std::optional<SourceKey> source_key(const sockaddr_storage& address);

class JoinRateLimit {
 public:
  static constexpr size_t kSlots = 4096;
  static constexpr size_t kProbe = 8;

  // `per_second` > 0; the burst is 2 x per_second joins, at least 1.
  JoinRateLimit(const RelayClock& clock, double per_second);

  // 0 when a join from `key` may go on now (and counts it), else the whole
  // seconds until the next one may (Retry-After), at least 1.
  uint32_t admit(const SourceKey& key);

  // Keys inside their window now (full buckets are not counted); for tests.
  size_t tracked() const;

 private:
  struct Entry {
    SourceKey key;
    uint64_t tat_us = 0;  // 0: never used
  };
  size_t home_of(const SourceKey& key) const;

  const RelayClock& clock_;
  uint64_t interval_us_;   // 1 s / per_second
  uint64_t tolerance_us_;  // (burst - 1) x interval
  uint64_t seed_;
  std::unique_ptr<Entry[]> table_;
};

}  // namespace sprites::master
