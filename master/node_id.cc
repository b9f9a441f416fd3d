// See node_id.h.
#include "master/node_id.h"

#include <sys/random.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "common/log.h"

namespace sprites::master {
namespace {

uint8_t random_byte() {
  static uint8_t pool[4096];
  static size_t left = 0;
  if (left == 0) {
    size_t got = 0;
    while (got < sizeof pool) {
      ssize_t n = getrandom(pool + got, sizeof pool - got, 0);
      if (n < 0) {
        LOG_ERROR("getrandom failed: cannot make tokens");
        std::abort();
      }
      got += static_cast<size_t>(n);
    }
    left = sizeof pool;
  }
  return pool[--left];
}

constexpr char kBase62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

}  // namespace

std::string new_node_id(std::string_view prefix) {
  const size_t random_chars =
      prefix.empty() ? kNodeIdChars : std::max<size_t>(8, prefix.size() < 15 ? 15 - prefix.size() : 0);
  std::string id(prefix);
  id.resize(prefix.size() + random_chars, '0');
  for (char& c : std::span<char>(id).subspan(prefix.size())) {
    uint8_t b;
    do {
      b = random_byte();
    } while (b >= 248);  // 248 = 4 * 62: no modulo bias
    c = kBase62[b % 62];
  }
  return id;
}

Token new_token() {
  // 22 characters of 6 bits = 132 bits drawn, at least 128 of them random.
  Token t;
  for (char& c : t) c = kBase64Url[random_byte() & 63];
  return t;
}

std::string_view token_text(const Token& t) { return std::string_view(t.data(), t.size()); }

bool token_equals(const Token& expected, std::string_view presented) {
  if (presented.size() != expected.size()) return false;
  // Constant time: every byte is compared, eight at a time, whatever differs
  // first; the empty asm keeps the compiler from returning early.
  static_assert(sizeof(Token) >= 8);
  uint64_t diff = 0;
  for (size_t i = 0; i < expected.size(); i += 8) {
    size_t at = std::min(i, expected.size() - 8);  // the last word overlaps the one before
    uint64_t a, b;
    std::memcpy(&a, expected.data() + at, 8);
    std::memcpy(&b, presented.data() + at, 8);
    diff |= a ^ b;
    asm volatile("" : "+r"(diff));
  }
  return diff == 0;
}

}  // namespace sprites::master
