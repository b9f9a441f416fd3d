// Api: the master port's HTTP endpoints (docs/API.md "Master port"), an
// HttpService in front of the Relay.
//
// It routes, authenticates, validates query strings and join bodies, and maps
// the Relay's results to status codes; it holds no state of its own besides the
// start time. Routing happens when the headers are complete, so an unknown
// path, a wrong method, a missing token or an oversized body is answered
// before the body is read.
//
// Joins pass join control first (docs/API.md "Join control"), when the
// operator set it: a source address over --join-rate-limit is answered 429
// and a join without a ticket 401, both from the headers alone; the ticket
// itself (join_ticket.h) is checked once the small body is in, since the body
// names the group and name it must admit.
//
// In a cluster, a poll, node info or leave for a node whose home is another
// relay is a 307 to that relay (ClusterLink::home_of), before the token is
// looked at; the join answer names this relay (`relay`).
//
// The operators' endpoints are OperatorApi's; this port hands them over when
// they share it.
//
// HttpPollAnswerer answers the polls the Relay parks: a parked poll is the
// connection's serial and the request's slot, and a connection that holds one
// points at its node (`user`) so that its close tells the relay.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "common/http_connection.h"
#include "common/http_listener.h"
#include "master/cluster_link.h"
#include "master/operator_api.h"
#include "master/join_rate_limit.h"
#include "master/join_ticket.h"
#include "master/parked_poll.h"
#include "master/relay.h"
#include "master/relay_identity.h"
#include "master/stats.h"
#include "master/web_pages.h"

namespace sprites::master {

class HttpPollAnswerer final : public PollAnswerer {
 public:
  void attach(http::HttpListener& listener) { listener_ = &listener; }
  void answer(const ParkedPoll& poll, std::string_view body) override;
  void gone(const ParkedPoll& poll) override;

 private:
  // The connection still open, its hold on a node released.
  http::HttpConnection* release(const ParkedPoll& poll);
  http::HttpListener* listener_ = nullptr;
};

class Api : public http::HttpService {
 public:
  // `gauges` fills in what other components own (connections, workers).
  Api(Relay& relay, Counters& counters, const RelayIdentity& identity, ClusterLink& cluster,
      std::function<void(Gauges&)> gauges, uint32_t max_body_bytes);

  std::optional<http::EarlyResponse> on_headers(http::HttpConnection& conn, const http::HttpRequest& req) override;
  void on_request(http::HttpConnection& conn, http::HttpRequest& req, uint32_t slot) override;
  void on_close(http::HttpConnection& conn) override;

  // The pages served to people (`/`, `/play`, `/web/{file}`); none by default.
  void set_pages(const WebPages* pages) { pages_ = pages; }
  // Where a join answered later (in a cluster) finds its connection.
  void attach(http::HttpListener& listener) { listener_ = &listener; }
  // While stopping, new polls are answered at once instead of parked.
  void set_stopping() { stopping_ = true; }
  // The operator endpoints (/v1/stats, /metrics, /v1/cluster, `/`) answer on
  // this port through `operators`; nullptr (the default) when they have a
  // port of their own, and this one answers 404 for them.
  void share_port_with(OperatorApi* operators) { operators_ = operators; }
  // The figures of /v1/stats this relay's parts own.
  Gauges gauges() const;
  // Who may join: with a key, only the holders of a ticket signed with it;
  // with a limit, a source address only that often. Neither by default.
  void set_join_key(std::string key) { join_key_ = std::move(key); }
  void set_join_rate_limit(JoinRateLimit* limit) { join_rate_limit_ = limit; }

 private:
  std::optional<http::EarlyResponse> screen_join(http::HttpConnection& conn, const http::HttpRequest& req);
  void join(http::HttpConnection& conn, const http::HttpRequest& req, uint32_t slot);
  void refuse_ticket(http::HttpConnection& conn, uint32_t slot, TicketFault fault);
  void answer_join(http::HttpConnection& conn, uint32_t slot, const Node* node, uint16_t status, std::string_view code);
  void poll(http::HttpConnection& conn, Node* node, const http::HttpRequest& req, uint32_t slot);
  void info(http::HttpConnection& conn, Node* node, uint32_t slot);
  void redirect(http::HttpConnection& conn, const http::HttpRequest& req, std::string_view master_url, uint32_t slot);

  Relay& relay_;
  Counters& counters_;
  const RelayIdentity& identity_;
  ClusterLink& cluster_;
  http::HttpListener* listener_ = nullptr;
  const WebPages* pages_ = nullptr;
  OperatorApi* operators_ = nullptr;
  std::function<void(Gauges&)> fill_gauges_;
  uint32_t max_body_bytes_;
  std::chrono::steady_clock::time_point started_;
  bool stopping_ = false;
  std::string join_key_;
  JoinRateLimit* join_rate_limit_ = nullptr;
};

}  // namespace sprites::master
