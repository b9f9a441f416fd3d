// See join_ticket.h. Joins are rare next to throws, so the claims are read
// into a DOM (a few hundred bytes).
#include "master/join_ticket.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>

#include "common/base64url.h"
#include "common/identifiers.h"
#include "common/json_limits.h"

namespace sprites::master {
namespace {

using nlohmann::json;

constexpr size_t kSignatureBytes = 32;  // SHA-256

// A JSON object nested no deeper than a join body may be; discarded when it
// is not one.
json parse_object(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) return json(json::value_t::discarded);
  bool too_deep = false;
  auto bounded = [&too_deep](int depth, json::parse_event_t, json&) {
    if (depth >= static_cast<int>(kMaxJsonDepth)) too_deep = true;
    return !too_deep;
  };
  json doc = json::parse(text, bounded, /*allow_exceptions=*/false);
  if (too_deep || !doc.is_object()) return json(json::value_t::discarded);
  return doc;
}

bool signature_matches(std::string_view key, std::string_view signed_text, std::string_view signature) {
  if (signature.size() != kSignatureBytes) return false;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(), mac, &length) ||
      length != kSignatureBytes) {
    return false;
  }
  return CRYPTO_memcmp(mac, signature.data(), kSignatureBytes) == 0;
}

// A NumericDate claim (RFC 7519 §2: seconds, maybe with a fraction). False
// when present and not a number.
bool time_claim(const json& claims, const char* name, std::optional<double>& out) {
  auto it = claims.find(name);
  if (it == claims.end()) return true;
  if (!it->is_number()) return false;
  out = it->get<double>();
  return true;
}

}  // namespace

std::variant<JoinTicket, TicketFault> check_join_ticket(std::string_view key, std::string_view ticket, int64_t now_s) {
  if (ticket.size() > kMaxTicketBytes) return TicketFault::TooLarge;
  const size_t first_dot = ticket.find('.');
  const size_t second_dot = first_dot == std::string_view::npos ? first_dot : ticket.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos || ticket.find('.', second_dot + 1) != std::string_view::npos) {
    return TicketFault::Malformed;
  }
  std::optional<std::string> header_text = base64url_decode(ticket.substr(0, first_dot));
  std::optional<std::string> signature = base64url_decode(ticket.substr(second_dot + 1));
  if (!header_text || header_text->empty() || !signature) return TicketFault::Malformed;

  const json header = parse_object(*header_text);
  if (header.is_discarded() || header.contains("crit")) return TicketFault::BadHeader;
  auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string() || alg->get_ref<const std::string&>() != "HS256") {
    return TicketFault::WrongAlgorithm;
  }
  if (!signature_matches(key, ticket.substr(0, second_dot), *signature)) return TicketFault::BadSignature;

  std::optional<std::string> claims_text = base64url_decode(ticket.substr(first_dot + 1, second_dot - first_dot - 1));
  if (!claims_text) return TicketFault::Malformed;
  const json claims = parse_object(*claims_text);
  if (claims.is_discarded()) return TicketFault::BadClaims;
  std::optional<double> exp, nbf, iat;
  if (!time_claim(claims, "exp", exp) || !time_claim(claims, "nbf", nbf) || !time_claim(claims, "iat", iat)) {
    return TicketFault::BadClaims;
  }
  const double now = static_cast<double>(now_s);
  const double leeway = static_cast<double>(kTicketLeewayS);
  if (!exp) return TicketFault::NoExpiry;
  if (now > *exp + leeway) return TicketFault::Expired;
  if (nbf && now + leeway < *nbf) return TicketFault::NotYetValid;
  if (iat && now + leeway < *iat) return TicketFault::IssuedLater;

  JoinTicket out;
  auto group = claims.find("group");
  if (group == claims.end() || !group->is_string() || !valid_group(group->get_ref<const std::string&>())) {
    return TicketFault::BadGroup;
  }
  out.group = group->get<std::string>();
  if (auto name = claims.find("name"); name != claims.end()) {
    if (!name->is_string() || !valid_name(name->get_ref<const std::string&>())) return TicketFault::BadName;
    out.name = name->get<std::string>();
  }
  return out;
}

std::optional<TicketFault> admit(const JoinTicket& ticket, JoinBody& body) {
  if (body.has_group && body.group != ticket.group) return TicketFault::OtherGroup;
  if (ticket.name && body.has_name && body.name != *ticket.name) return TicketFault::OtherName;
  body.group = ticket.group;
  body.has_group = true;
  if (ticket.name) {
    body.name = *ticket.name;
    body.has_name = true;
  }
  return std::nullopt;
}

std::string_view ticket_fault_message(TicketFault fault) {
  switch (fault) {
    case TicketFault::Missing:
      return "this relay admits joins with a ticket only: send Authorization: Bearer <ticket>";
    case TicketFault::TooLarge:
      return "the ticket is longer than 4096 bytes";
    case TicketFault::Malformed:
      return "the ticket is not a JWT: three base64url parts separated by dots";
    case TicketFault::BadHeader:
      return "the ticket's header is not a JSON object, or has crit";
    case TicketFault::WrongAlgorithm:
      return "the ticket's alg must be HS256";
    case TicketFault::BadSignature:
      return "the ticket is not signed with this relay's join key";
    case TicketFault::BadClaims:
      return "the ticket's claims are not a JSON object with numeric exp, nbf and iat";
    case TicketFault::NoExpiry:
      return "the ticket has no exp claim";
    case TicketFault::Expired:
      return "the ticket has expired";
    case TicketFault::NotYetValid:
      return "the ticket is not valid yet (nbf)";
    case TicketFault::IssuedLater:
      return "the ticket is issued in the future (iat)";
    case TicketFault::BadGroup:
      return "the ticket has no group claim, or one that is not a valid group";
    case TicketFault::BadName:
      return "the ticket's name claim is not a valid name";
    case TicketFault::OtherGroup:
      return "the body's group is not the group the ticket admits";
    case TicketFault::OtherName:
      return "the body's name is not the name the ticket gives";
  }
  return "invalid ticket";
}

}  // namespace sprites::master
