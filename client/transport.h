// Transport: the seam between the protocol logic of a node (NodeSession) and
// the sockets it runs over. A session only ever sends requests and receives
// their answers in order; HttpClient is the real transport, tests hand the
// session a fake that records requests and answers them with canned
// responses, so cursor, dedup and neighbour tracking are tested without a
// socket or a loop.
//
// An answer is a status and a body; status 0 means there was none (refused,
// reset, closed before the answer, unparseable HTTP) and `failure` says why.
// Headers are deliberately not surfaced: nothing in docs/API.md asks a client
// to act on one (Retry-After is advice a load generator counts, not obeys).
//
// Dropped alternative: a virtual per-endpoint API (join(), poll(), ...) on the
// transport. It would move the protocol into every fake; with plain requests
// the fake stays ten lines and the session owns every protocol decision.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace sprites::client {

struct Request {
  std::string_view method;  // "GET", "POST", "DELETE"
  std::string target;       // "/v1/nodes/x/events?after=3"
  std::string token;        // sent as "Authorization: Bearer <token>" when not empty
  std::string body;         // sent with Content-Type: application/json when not empty
};

struct Response {
  int status = 0;       // 0: no answer, see `failure`
  std::string body;
  std::string failure;  // why there was no answer

  bool answered() const { return status != 0; }
};

using ResponseHandler = std::function<void(Response&&)>;

class Transport {
 public:
  virtual ~Transport() = default;
  // Queues `request`; `on_response` runs exactly once with its answer, from a
  // later loop callback (never from inside send), unless the transport is
  // destroyed first, in which case it never runs. Answers come in send order.
  virtual void send(Request request, ResponseHandler on_response) = 0;
};

}  // namespace sprites::client
