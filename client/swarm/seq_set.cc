// See seq_set.h. Words are serialised little-endian, trailing zero words left out.
#include "client/swarm/seq_set.h"

#include <algorithm>
#include <bit>

namespace sprites::swarm {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int decode_char(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

uint64_t word_at(const std::vector<uint64_t>& words, size_t i) { return i < words.size() ? words[i] : 0; }

}  // namespace

bool SeqSet::test_and_set(uint64_t seq) {
  size_t w = static_cast<size_t>(seq / 64);
  uint64_t bit = uint64_t{1} << (seq % 64);
  if (w >= words_.size()) words_.resize(std::max(w + 1, words_.size() * 2), 0);
  bool was = (words_[w] & bit) != 0;
  words_[w] |= bit;
  return was;
}

bool SeqSet::test(uint64_t seq) const {
  return (word_at(words_, static_cast<size_t>(seq / 64)) & (uint64_t{1} << (seq % 64))) != 0;
}

uint64_t SeqSet::count() const {
  uint64_t n = 0;
  for (uint64_t w : words_) n += static_cast<uint64_t>(std::popcount(w));
  return n;
}

void SeqSet::merge(const SeqSet& other) {
  if (other.words_.size() > words_.size()) words_.resize(other.words_.size(), 0);
  for (size_t i = 0; i < other.words_.size(); ++i) words_[i] |= other.words_[i];
}

uint64_t SeqSet::count_missing_from(const SeqSet& a, const SeqSet& b) const {
  uint64_t n = 0;
  for (size_t i = 0; i < words_.size(); ++i) {
    n += static_cast<uint64_t>(std::popcount(words_[i] & ~word_at(a.words_, i) & ~word_at(b.words_, i)));
  }
  return n;
}

uint64_t SeqSet::count_common(const SeqSet& other) const {
  uint64_t n = 0;
  for (size_t i = 0; i < words_.size(); ++i) n += static_cast<uint64_t>(std::popcount(words_[i] & word_at(other.words_, i)));
  return n;
}

std::string SeqSet::to_base64() const {
  size_t used = words_.size();
  while (used > 0 && words_[used - 1] == 0) --used;
  std::string bytes;
  bytes.reserve(used * 8);
  for (size_t i = 0; i < used; ++i) {
    for (int b = 0; b < 8; ++b) bytes.push_back(static_cast<char>((words_[i] >> (8 * b)) & 0xff));
  }
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t chunk = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (i + 1 < bytes.size()) chunk |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    if (i + 2 < bytes.size()) chunk |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 2]));
    out.push_back(kAlphabet[(chunk >> 18) & 63]);
    out.push_back(kAlphabet[(chunk >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? kAlphabet[(chunk >> 6) & 63] : '=');
    out.push_back(i + 2 < bytes.size() ? kAlphabet[chunk & 63] : '=');
  }
  return out;
}

std::optional<SeqSet> SeqSet::from_base64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string bytes;
  bytes.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = text[i + static_cast<size_t>(k)];
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad != 0) return std::nullopt;
      v[k] = decode_char(c);
      if (v[k] < 0) return std::nullopt;
    }
    uint32_t chunk = static_cast<uint32_t>(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
    bytes.push_back(static_cast<char>((chunk >> 16) & 0xff));
    if (pad < 2) bytes.push_back(static_cast<char>((chunk >> 8) & 0xff));
    if (pad < 1) bytes.push_back(static_cast<char>(chunk & 0xff));
  }
  if (bytes.size() % 8 != 0) return std::nullopt;
  SeqSet out;
  out.words_.resize(bytes.size() / 8, 0);
  for (size_t i = 0; i < out.words_.size(); ++i) {
    uint64_t w = 0;
    for (int b = 0; b < 8; ++b) w |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i * 8 + static_cast<size_t>(b)])) << (8 * b);
    out.words_[i] = w;
  }
  return out;
}

}  // namespace sprites::swarm
