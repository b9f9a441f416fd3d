// See ticket_mint.h.
#include "client/ticket_mint.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>

#include "common/base64url.h"

namespace sprites::client {

std::string mint_join_ticket(std::string_view key, std::string_view group, const std::optional<std::string>& name,
                             int64_t now_s, int64_t ttl_s) {
  nlohmann::ordered_json claims;
  claims["group"] = group;
  if (name) claims["name"] = *name;
  claims["iat"] = now_s;
  claims["exp"] = now_s + ttl_s;
  std::string ticket = base64url_encode(R"({"alg":"HS256","typ":"JWT"})");
  ticket.push_back('.');
  ticket.append(base64url_encode(claims.dump()));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(ticket.data()),
       ticket.size(), mac, &length);
  ticket.push_back('.');
  ticket.append(base64url_encode(std::string_view(reinterpret_cast<const char*>(mac), length)));
  return ticket;
}

}  // namespace sprites::client
