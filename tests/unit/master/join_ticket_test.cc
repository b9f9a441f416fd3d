// Join tickets (docs/API.md "Join control"): which tickets admit a join and
// which fault each bad one gets. Every ticket here is built by the test
// itself, signed with OpenSSL's HMAC and encoded with OpenSSL's base64, so
// the checker is held against an independent signer, not against itself.
#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <string_view>
#include <variant>

#include "master/join_ticket.h"

using nlohmann::json;
using sprites::master::admit;
using sprites::master::check_join_ticket;
using sprites::master::JoinBody;
using sprites::master::JoinTicket;
using sprites::master::kMaxTicketBytes;
using sprites::master::kTicketLeewayS;
using sprites::master::TicketFault;

namespace {

const std::string kKey = "0123456789abcdef0123456789abcdef-site";
const std::string kOtherKey = "fedcba9876543210fedcba9876543210-other";
constexpr int64_t kNow = 1700000000;

// Base64url without padding, by way of OpenSSL's standard base64.
std::string b64url(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

std::string hmac(const EVP_MD* md, const std::string& key, const std::string& text) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(text.data()), text.size(),
       mac, &length);
  return std::string(reinterpret_cast<const char*>(mac), length);
}

// header.claims.signature, the signature made with `md` under `key` over
// the first two parts as encoded.
std::string sign(const json& header, const json& claims, const std::string& key = kKey,
                 const EVP_MD* md = EVP_sha256()) {
  const std::string text = b64url(header.dump()) + "." + b64url(claims.dump());
  return text + "." + b64url(hmac(md, key, text));
}

json hs256() { return {{"alg", "HS256"}, {"typ", "JWT"}}; }

json claims_for(const std::string& group) { return {{"group", group}, {"exp", kNow + 300}, {"iat", kNow}}; }

std::variant<JoinTicket, TicketFault> check(const std::string& ticket, int64_t now = kNow) {
  return check_join_ticket(kKey, ticket, now);
}

TicketFault fault_of(const std::string& ticket, int64_t now = kNow) {
  auto r = check(ticket, now);
  REQUIRE(std::holds_alternative<TicketFault>(r));
  return std::get<TicketFault>(r);
}

JoinTicket admitted(const std::string& ticket, int64_t now = kNow) {
  auto r = check(ticket, now);
  if (auto* f = std::get_if<TicketFault>(&r)) FAIL("refused: " << sprites::master::ticket_fault_message(*f));
  return std::get<JoinTicket>(r);
}

}  // namespace

TEST_CASE("a ticket signed with the join key admits its group") {
  JoinTicket t = admitted(sign(hs256(), claims_for("office-7")));
  CHECK(t.group == "office-7");
  CHECK_FALSE(t.name.has_value());

  json named = claims_for("");
  named["name"] = "l\u00e4ptop";
  named["role"] = "ignored";  // other claims are ignored
  JoinTicket n = admitted(sign(json{{"alg", "HS256"}}, named));
  CHECK(n.group.empty());
  REQUIRE(n.name.has_value());
  CHECK(*n.name == "l\xC3\xA4ptop");
}

TEST_CASE("a ticket signed with another key is refused") {
  CHECK(fault_of(sign(hs256(), claims_for("g"), kOtherKey)) == TicketFault::BadSignature);
  // The key is used whole: a prefix of it is another key.
  CHECK(fault_of(sign(hs256(), claims_for("g"), kKey.substr(0, 32))) == TicketFault::BadSignature);
}

TEST_CASE("a ticket whose claims were changed after signing is refused") {
  const std::string good = sign(hs256(), claims_for("mine"));
  const size_t first = good.find('.');
  const size_t second = good.find('.', first + 1);
  const std::string forged = good.substr(0, first + 1) + b64url(claims_for("theirs").dump()) + good.substr(second);
  CHECK(fault_of(forged) == TicketFault::BadSignature);
  // A signature cut short, or one byte off.
  CHECK(fault_of(good.substr(0, good.size() - 1)) == TicketFault::BadSignature);
  std::string flipped = good;
  flipped[second + 1] = flipped[second + 1] == 'A' ? 'B' : 'A';
  CHECK(fault_of(flipped) == TicketFault::BadSignature);
}

TEST_CASE("a ticket of alg none is refused, signed or not") {
  const json none = {{"alg", "none"}, {"typ", "JWT"}};
  const std::string unsigned_ticket = b64url(none.dump()) + "." + b64url(claims_for("g").dump()) + ".";
  CHECK(fault_of(unsigned_ticket) == TicketFault::WrongAlgorithm);
  CHECK(fault_of(sign(none, claims_for("g"))) == TicketFault::WrongAlgorithm);
}

TEST_CASE("only HS256 is taken: HS512, RS256, a lower-case name and no alg are refused") {
  CHECK(fault_of(sign(json{{"alg", "HS512"}}, claims_for("g"), kKey, EVP_sha512())) == TicketFault::WrongAlgorithm);
  // An HS256 signature under a header that names another algorithm.
  CHECK(fault_of(sign(json{{"alg", "HS384"}}, claims_for("g"))) == TicketFault::WrongAlgorithm);
  CHECK(fault_of(sign(json{{"alg", "RS256"}}, claims_for("g"))) == TicketFault::WrongAlgorithm);
  CHECK(fault_of(sign(json{{"alg", "hs256"}}, claims_for("g"))) == TicketFault::WrongAlgorithm);
  CHECK(fault_of(sign(json{{"typ", "JWT"}}, claims_for("g"))) == TicketFault::WrongAlgorithm);
  CHECK(fault_of(sign(json{{"alg", json::array({"HS256"})}}, claims_for("g"))) == TicketFault::WrongAlgorithm);
}

TEST_CASE("a ticket header that is not a JSON object, or has crit, is refused") {
  CHECK(fault_of(sign(json{{"alg", "HS256"}, {"crit", json::array({"exp"})}}, claims_for("g"))) ==
        TicketFault::BadHeader);
  CHECK(fault_of(sign(json::array({"HS256"}), claims_for("g"))) == TicketFault::BadHeader);
  const std::string text = b64url("{\"alg\":\"HS256\"") + "." + b64url(claims_for("g").dump());
  CHECK(fault_of(text + "." + b64url(hmac(EVP_sha256(), kKey, text))) == TicketFault::BadHeader);
}

TEST_CASE("an expired ticket is refused, within the leeway it is not") {
  json claims = claims_for("g");
  claims["exp"] = kNow - kTicketLeewayS - 1;
  CHECK(fault_of(sign(hs256(), claims)) == TicketFault::Expired);
  claims["exp"] = kNow - kTicketLeewayS;
  CHECK(admitted(sign(hs256(), claims)).group == "g");
  // The same ticket, checked later.
  const std::string ticket = sign(hs256(), claims_for("g"));
  CHECK(fault_of(ticket, kNow + 300 + kTicketLeewayS + 1) == TicketFault::Expired);
  // A NumericDate may have a fraction.
  claims["exp"] = static_cast<double>(kNow) + 0.5;
  CHECK(admitted(sign(hs256(), claims)).group == "g");
}

TEST_CASE("a ticket without exp, or with a time claim that is not a number, is refused") {
  json claims = claims_for("g");
  claims.erase("exp");
  CHECK(fault_of(sign(hs256(), claims)) == TicketFault::NoExpiry);
  claims["exp"] = std::to_string(kNow + 300);
  CHECK(fault_of(sign(hs256(), claims)) == TicketFault::BadClaims);
  claims = claims_for("g");
  claims["nbf"] = nullptr;
  CHECK(fault_of(sign(hs256(), claims)) == TicketFault::BadClaims);
}

TEST_CASE("a ticket not valid yet by nbf or iat is refused beyond the leeway") {
  json claims = claims_for("g");
  claims["nbf"] = kNow + kTicketLeewayS + 1;
  CHECK(fault_of(sign(hs256(), claims)) == TicketFault::NotYetValid);
  claims["nbf"] = kNow + kTicketLeewayS;
  CHECK(admitted(sign(hs256(), claims)).group == "g");
  claims = claims_for("g");
  claims["iat"] = kNow + kTicketLeewayS + 1;
  CHECK(fault_of(sign(hs256(), claims)) == TicketFault::IssuedLater);
}

TEST_CASE("a ticket without a valid group claim is refused") {
  json claims = claims_for("g");
  claims.erase("group");
  CHECK(fault_of(sign(hs256(), claims)) == TicketFault::BadGroup);
  claims["group"] = 7;
  CHECK(fault_of(sign(hs256(), claims)) == TicketFault::BadGroup);
  claims["group"] = "no spaces";
  CHECK(fault_of(sign(hs256(), claims)) == TicketFault::BadGroup);
  claims["group"] = std::string(65, 'g');
  CHECK(fault_of(sign(hs256(), claims)) == TicketFault::BadGroup);
}

TEST_CASE("a ticket with a name claim that is not a valid name is refused") {
  json claims = claims_for("g");
  claims["name"] = 1;
  CHECK(fault_of(sign(hs256(), claims)) == TicketFault::BadName);
  claims["name"] = std::string(65, 'n');
  CHECK(fault_of(sign(hs256(), claims)) == TicketFault::BadName);
}

TEST_CASE("a ticket that is not three base64url parts is malformed") {
  const std::string good = sign(hs256(), claims_for("g"));
  CHECK(fault_of("") == TicketFault::Malformed);
  CHECK(fault_of("abc") == TicketFault::Malformed);
  CHECK(fault_of(good.substr(0, good.rfind('.'))) == TicketFault::Malformed);  // two parts
  CHECK(fault_of(good + ".x") == TicketFault::Malformed);                     // four parts
  CHECK(fault_of(".." + good.substr(good.rfind('.') + 1)) == TicketFault::Malformed);  // empty header
  // Standard base64's characters, padding and whitespace are not base64url.
  std::string plus = good;
  plus[1] = '+';
  CHECK(fault_of(plus) == TicketFault::Malformed);
  CHECK(fault_of(good.substr(0, good.find('.')) + "=" + good.substr(good.find('.'))) == TicketFault::Malformed);
  CHECK(fault_of(" " + good) == TicketFault::Malformed);
  // One character over a group of four cannot be base64.
  CHECK(fault_of("eyJhb." + good.substr(good.find('.') + 1)) == TicketFault::Malformed);
}

TEST_CASE("a ticket over 4 KiB is refused before it is decoded, however well signed") {
  json claims = claims_for("g");
  claims["padding"] = std::string(kMaxTicketBytes, 'x');
  const std::string big = sign(hs256(), claims);
  REQUIRE(big.size() > kMaxTicketBytes);
  CHECK(fault_of(big) == TicketFault::TooLarge);
  CHECK(fault_of(std::string(1 << 20, 'a')) == TicketFault::TooLarge);
}

TEST_CASE("a join body is held against its ticket's group") {
  const JoinTicket ticket{"office", std::nullopt};
  JoinBody omitted;  // the body names no group: the ticket's is used
  REQUIRE_FALSE(admit(ticket, omitted).has_value());
  CHECK(omitted.group == "office");

  JoinBody same{"office", "laptop", true, true};
  REQUIRE_FALSE(admit(ticket, same).has_value());
  CHECK(same.name == "laptop");  // a ticket without a name lets the body name the node

  JoinBody other{"elsewhere", "", true, false};
  CHECK(admit(ticket, other) == TicketFault::OtherGroup);
  // The default group, named, is a group like any other.
  JoinBody named_default{"", "", true, false};
  CHECK(admit(ticket, named_default) == TicketFault::OtherGroup);
}

TEST_CASE("a ticket with a name fixes the node's name") {
  const JoinTicket ticket{"g", std::string("alice")};
  JoinBody omitted{"", "", false, false};
  REQUIRE_FALSE(admit(ticket, omitted).has_value());
  CHECK(omitted.group == "g");
  CHECK(omitted.name == "alice");

  JoinBody same{"g", "alice", true, true};
  CHECK_FALSE(admit(ticket, same).has_value());

  JoinBody other{"g", "mallory", true, true};
  CHECK(admit(ticket, other) == TicketFault::OtherName);
}

TEST_CASE("every ticket fault has a message of its own") {
  std::set<std::string_view> seen;
  for (int f = static_cast<int>(TicketFault::Missing); f <= static_cast<int>(TicketFault::OtherName); ++f) {
    std::string_view message = sprites::master::ticket_fault_message(static_cast<TicketFault>(f));
    CHECK_FALSE(message.empty());
    CHECK(seen.insert(message).second);
  }
}
