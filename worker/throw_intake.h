// ThrowIntake: the worker port's HTTP endpoints (docs/API.md "Worker port").
//
// It does the checks a worker can do alone, in the protocol's order: the
// Authorization header (401), the size (413, from Content-Length before the
// body is read, or while a chunked body streams), the body (400), and then
// forwards the throw to the master, which checks node, token, rate and mailbox.
// The client's answer waits for the master's acknowledgement: a 202 means the
// sprite is in the receiver's mailbox.
#pragma once

#include "common/http_connection.h"
#include "common/http_listener.h"
#include "worker/master_link.h"

namespace sprites::worker {

class ThrowIntake : public http::HttpService {
 public:
  ThrowIntake(MasterLink& link, uint32_t max_body_bytes);
  void attach(http::HttpListener& listener) { listener_ = &listener; }

  std::optional<http::EarlyResponse> on_headers(http::HttpConnection& conn, const http::HttpRequest& req) override;
  void on_request(http::HttpConnection& conn, http::HttpRequest& req, uint32_t slot) override;
  void on_close(http::HttpConnection& conn) override;
  void on_refused(const http::HttpRequest* req, uint16_t status) override;

  // The master's answer to a forwarded throw.
  void on_result(const MasterLink::Waiter& waiter, uint16_t status, std::string_view body);
  // Requests to the throw endpoint so far, whatever their answer.
  uint64_t throws() const { return throws_; }

 private:
  void reject(http::HttpConnection& conn, uint32_t slot, uint16_t status, std::string_view code,
              std::string_view message);

  MasterLink& link_;
  http::HttpListener* listener_ = nullptr;
  uint32_t max_body_bytes_;
  uint64_t throws_ = 0;
};

}  // namespace sprites::worker
