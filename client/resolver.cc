// See resolver.h.
#include "client/resolver.h"

#include <netdb.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>

#include "common/callback_guard.h"

namespace sprites::client {
namespace {

struct Lookup {
  uv_getaddrinfo_t req{};
  Endpoint endpoint;
  ResolvedHandler done;
};

// The resolver's own words for a failure (libuv renumbers the EAI_ codes and
// words them differently from gai_strerror, which is what people know).
std::string resolver_error(int status) {
  static const std::pair<int, int> kCodes[] = {
      {UV_EAI_ADDRFAMILY, EAI_ADDRFAMILY}, {UV_EAI_AGAIN, EAI_AGAIN},     {UV_EAI_BADFLAGS, EAI_BADFLAGS},
      {UV_EAI_FAIL, EAI_FAIL},             {UV_EAI_FAMILY, EAI_FAMILY},   {UV_EAI_MEMORY, EAI_MEMORY},
      {UV_EAI_NODATA, EAI_NODATA},         {UV_EAI_NONAME, EAI_NONAME},   {UV_EAI_OVERFLOW, EAI_OVERFLOW},
      {UV_EAI_SERVICE, EAI_SERVICE},       {UV_EAI_SOCKTYPE, EAI_SOCKTYPE},
  };
  for (const auto& [uv_code, gai_code] : kCodes) {
    if (status == uv_code) return ::gai_strerror(gai_code);
  }
  return uv_strerror(status);
}

std::string cannot_resolve(const Endpoint& endpoint, const std::string& why) {
  return "cannot resolve " + endpoint.host + ": " + why;
}

bool same(const Address& a, const Address& b) { return a.size() == b.size() && std::memcmp(&a, &b, a.size()) == 0; }

void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* result) {
  std::unique_ptr<Lookup> lookup(static_cast<Lookup*>(req->data));
  guarded("resolver: answer", [&] {
    Endpoint& endpoint = lookup->endpoint;
    std::string error;
    if (status != 0) {
      error = cannot_resolve(endpoint, resolver_error(status));
    } else {
      for (const addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
        std::optional<Address> address = address_of(ai->ai_addr);
        if (!address) continue;
        bool seen = std::any_of(endpoint.addresses.begin(), endpoint.addresses.end(),
                                [&](const Address& a) { return same(a, *address); });
        if (!seen) endpoint.addresses.push_back(*address);
      }
      if (endpoint.addresses.empty()) error = cannot_resolve(endpoint, "no IPv4 or IPv6 address");
    }
    if (error.empty()) lookup->done(std::move(endpoint), {});
    else lookup->done(std::nullopt, std::move(error));
  });
  uv_freeaddrinfo(result);
}

}  // namespace

void resolve(uv_loop_t* loop, Endpoint endpoint, ResolvedHandler done) {
  if (endpoint.resolved()) return done(std::move(endpoint), {});
  auto lookup = std::make_unique<Lookup>();
  lookup->endpoint = std::move(endpoint);
  lookup->endpoint.addresses.clear();
  lookup->done = std::move(done);
  lookup->req.data = lookup.get();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;  // one entry per address, not one per socket type
  hints.ai_flags = AI_NUMERICSERV;
  const std::string port = std::to_string(lookup->endpoint.port);
  int rc = uv_getaddrinfo(loop, &lookup->req, &on_resolved, lookup->endpoint.host.c_str(), port.c_str(), &hints);
  if (rc != 0) {
    std::string error = cannot_resolve(lookup->endpoint, resolver_error(rc));
    return lookup->done(std::nullopt, std::move(error));
  }
  lookup.release();  // freed in on_resolved
}

std::string resolve_before_run(uv_loop_t* loop, const std::vector<Endpoint*>& endpoints) {
  std::vector<std::string> errors(endpoints.size());
  size_t pending = 0;
  for (size_t i = 0; i < endpoints.size(); ++i) {
    if (endpoints[i]->resolved()) continue;
    ++pending;
    resolve(loop, *endpoints[i], [&, i](std::optional<Endpoint> endpoint, std::string error) {
      --pending;
      if (endpoint) *endpoints[i] = std::move(*endpoint);
      else errors[i] = std::move(error);
    });
  }
  // Every lookup keeps the loop alive until it is answered.
  while (pending > 0 && uv_run(loop, UV_RUN_ONCE) != 0) {
  }
  for (const std::string& error : errors) {
    if (!error.empty()) return error;
  }
  return pending == 0 ? std::string() : std::string("the resolver never answered");
}

}  // namespace sprites::client
