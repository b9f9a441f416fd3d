// Fnv1a: the 64-bit FNV-1a hash, fed in pieces. A fingerprint, not a defence:
// the snapshot's checksum catches a torn or hand-edited file (whose contents
// are then checked field by field anyway), and the client library remembers
// recent (thrower, sprite id) pairs by it.
#pragma once

#include <cstdint>
#include <string_view>

namespace sprites {

class Fnv1a {
 public:
  Fnv1a& add(std::string_view bytes) {
    for (const char c : bytes) {
      value_ ^= static_cast<unsigned char>(c);
      value_ *= 1099511628211ull;
    }
    return *this;
  }
  uint64_t value() const { return value_; }

 private:
  uint64_t value_ = 14695981039346656037ull;
};

// splitmix64's finaliser: every input bit moves every output bit (spreads a
// hash or a key over a table or a rendezvous weight).
inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

}  // namespace sprites
