// Fuzzes master::check_join_ticket, the check of the ticket a join carries
// (docs/API.md "Join control"): input from anyone who reaches the master
// port, read before anything else of a join.
//
// The first byte picks a mode:
// - even: the rest is a ticket as sent. Nobody but the key's holder can
//   sign, so whatever the bytes, the answer must be a fault: a ticket
//   admitted here would mean the signature was skipped.
// - odd: the rest is a header and a claims text, split at the first '\n',
//   which the harness encodes and signs with the key itself (OpenSSL's HMAC
//   and its own base64url, not the code under test's). That reaches the
//   claims, and the answer is held against an oracle read from nlohmann's
//   DOM and the rules of join_ticket.h: admitted exactly when the header is
//   an object with alg "HS256" and no crit, the claims an object with
//   numeric times, exp within the leeway, nbf and iat not ahead of it, a
//   valid group and, if present, a valid name; the ticket's group and name
//   are the claims'.
// A fault must have a non-empty message.
//
// Dropped alternative: fuzzing only raw tickets. The fuzzer cannot find an
// HMAC, so the claims would never be read.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "common/identifiers.h"
#include "master/join_ticket.h"

namespace {

using Json = nlohmann::json;
using sprites::master::JoinTicket;
using sprites::master::TicketFault;

constexpr std::string_view kKey = "fuzzing key, thirty-two bytes or more";
constexpr int64_t kNow = 1700000000;

[[noreturn]] void fail(const char* what, size_t size) {
  std::fprintf(stderr, "fuzz_join_ticket: %s (input of %zu bytes)\n", what, size);
  std::abort();
}

std::string b64url(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t bits = 0;
  int held = 0;
  for (char c : bytes) {
    bits = (bits << 8) | static_cast<unsigned char>(c);
    held += 8;
    while (held >= 6) {
      held -= 6;
      out.push_back(kAlphabet[(bits >> held) & 63]);
    }
  }
  if (held > 0) out.push_back(kAlphabet[(bits << (6 - held)) & 63]);
  return out;
}

std::string signed_ticket(std::string_view header, std::string_view claims) {
  std::string text = b64url(header) + "." + b64url(claims);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), kKey.data(), static_cast<int>(kKey.size()), reinterpret_cast<const unsigned char*>(text.data()),
       text.size(), mac, &length);
  return text + "." + b64url(std::string_view(reinterpret_cast<const char*>(mac), length));
}

Json object_of(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) return Json(Json::value_t::discarded);
  Json doc = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  return doc.is_object() ? doc : Json(Json::value_t::discarded);
}

size_t nesting(const Json& value) {
  if (!value.is_structured()) return 0;
  size_t deepest = 0;
  for (const Json& child : value) deepest = std::max(deepest, nesting(child));
  return deepest + 1;
}

// What the claims admit, by the rules of join_ticket.h; nullopt: refused.
std::optional<JoinTicket> oracle(std::string_view header_text, std::string_view claims_text) {
  const Json header = object_of(header_text);
  if (header.is_discarded() || nesting(header) > 64 || header.contains("crit")) return std::nullopt;
  if (header.value("alg", Json()) != "HS256") return std::nullopt;
  const Json claims = object_of(claims_text);
  if (claims.is_discarded() || nesting(claims) > 64) return std::nullopt;
  for (const char* time : {"exp", "nbf", "iat"}) {
    if (claims.contains(time) && !claims[time].is_number()) return std::nullopt;
  }
  const double now = static_cast<double>(kNow);
  const double leeway = static_cast<double>(sprites::master::kTicketLeewayS);
  if (!claims.contains("exp") || now > claims["exp"].get<double>() + leeway) return std::nullopt;
  if (claims.contains("nbf") && now + leeway < claims["nbf"].get<double>()) return std::nullopt;
  if (claims.contains("iat") && now + leeway < claims["iat"].get<double>()) return std::nullopt;
  if (!claims.contains("group") || !claims["group"].is_string()) return std::nullopt;
  JoinTicket t;
  t.group = claims["group"].get<std::string>();
  if (!sprites::valid_group(t.group)) return std::nullopt;
  if (claims.contains("name")) {
    if (!claims["name"].is_string() || !sprites::valid_name(claims["name"].get_ref<const std::string&>())) {
      return std::nullopt;
    }
    t.name = claims["name"].get<std::string>();
  }
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) == 0) {
    auto r = sprites::master::check_join_ticket(kKey, input, kNow);
    const TicketFault* fault = std::get_if<TicketFault>(&r);
    if (!fault) fail("a ticket the harness did not sign was admitted", size);
    if (sprites::master::ticket_fault_message(*fault).empty()) fail("a fault without a message", size);
    return 0;
  }
  const size_t split = input.find('\n');
  const std::string_view header = std::string_view(input).substr(0, split);
  const std::string_view claims = split == std::string::npos ? std::string_view() : std::string_view(input).substr(split + 1);
  const std::string ticket = signed_ticket(header, claims);
  auto r = sprites::master::check_join_ticket(kKey, ticket, kNow);
  std::optional<JoinTicket> want =
      ticket.size() > sprites::master::kMaxTicketBytes || header.empty() ? std::nullopt : oracle(header, claims);
  if (const TicketFault* fault = std::get_if<TicketFault>(&r)) {
    if (want) fail("a ticket the oracle admits was refused", size);
    if (*fault == TicketFault::BadSignature) fail("the harness's signature was refused", size);
    if (sprites::master::ticket_fault_message(*fault).empty()) fail("a fault without a message", size);
    return 0;
  }
  if (!want) fail("a ticket the oracle refuses was admitted", size);
  const JoinTicket& got = std::get<JoinTicket>(r);
  if (got.group != want->group || got.name != want->name) fail("the ticket's group or name is not the claims'", size);
  return 0;
}
