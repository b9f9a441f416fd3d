// Resolver: turns an Endpoint's host name into its addresses with
// uv_getaddrinfo, on the loop (getaddrinfo itself blocks; libuv runs it on its
// thread pool), IPv4 and IPv6 alike (AF_UNSPEC), in the order the system's
// resolver ranks them, duplicates dropped.
//
// The tools resolve once per endpoint before their run starts
// (resolve_before_run), and sprites-cli once more per redirect (resolve);
// nothing resolves per connection. A name that does not resolve is one clear
// error, "cannot resolve relay.example.com: Name or service not known" (the
// resolver's own words, as getent and curl print them); the caller decides
// the exit status.
//
// Deliberately left out: AI_ADDRCONFIG (it hides ::1 on hosts without a
// global IPv6 address, and these tools mostly talk to loopback), caching
// (each name is resolved once per run anyway), and racing the addresses
// (Happy Eyeballs): HttpClient tries them in order.
//
// Dropped alternative: a blocking getaddrinfo in main() before the loop runs.
// It would do for the start of a run, but not for a redirect met while a
// listener is polling, and one path for both keeps the error the same.
#pragma once

#include <uv.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "client/endpoint.h"

namespace sprites::client {

// The endpoint with its addresses filled in, or nullopt and why.
using ResolvedHandler = std::function<void(std::optional<Endpoint> endpoint, std::string error)>;

// Resolves `endpoint` on `loop` and calls `done` once from a loop callback.
// An endpoint already resolved (a literal) is handed to `done` at once, from
// inside resolve().
void resolve(uv_loop_t* loop, Endpoint endpoint, ResolvedHandler done);

// Resolves every endpoint of `endpoints` not yet resolved, all at once, and
// runs `loop` until each has its answer (for the start of a tool, before
// anything else is on the loop). "" when all resolved, else the first
// failure; resolved endpoints are updated in place either way.
std::string resolve_before_run(uv_loop_t* loop, const std::vector<Endpoint*>& endpoints);

}  // namespace sprites::client
