// Base64url (RFC 4648 §5) without padding, the encoding of the three parts of
// a JSON Web Token (RFC 7515 §2): the master decodes join tickets with it
// (master/join_ticket.h), sprites-cli encodes the tickets it mints.
//
// Decoding is strict: only the 64 characters of the URL-safe alphabet, no
// '=' padding, no whitespace, and no length that leaves 1 character over (it
// cannot end a group). A signed text is compared as sent, so strictness here
// only keeps odd encodings from reaching the JSON parser.
//
// Dropped alternative: OpenSSL's EVP_DecodeBlock. It speaks the other
// alphabet, wants padding and pads its output with zero bytes, so every call
// would need a copy translated first and a length fixed afterwards.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sprites {

std::string base64url_encode(std::string_view bytes);
// nullopt when `text` is not unpadded base64url.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace sprites
