// Node ids and tokens: the two secrets-or-not a join hands out.
//
// Ids are 10 random base62 characters (~59 bits): short enough to stay inside
// std::string's inline buffer, and random so that a restarted master (which
// lost its state) never reissues an id an old client still holds; that client
// gets 404 unknown_node and re-joins instead of a confusing 401.
// Tokens are 128 random bits as 22 base64url characters, compared in constant
// time. Randomness comes from getrandom(2), drawn in 4 KiB batches.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace sprites::master {

inline constexpr size_t kNodeIdChars = 10;
inline constexpr size_t kTokenChars = 22;

using Token = std::array<char, kTokenChars>;

// `prefix` + random base62: 10 characters without a prefix; with one, as
// many as keep the id within std::string's inline 15 bytes, at least 8.
std::string new_node_id(std::string_view prefix = {});
Token new_token();
std::string_view token_text(const Token& t);
// Constant time in the length of `expected`; false for any other length.
bool token_equals(const Token& expected, std::string_view presented);

}  // namespace sprites::master
