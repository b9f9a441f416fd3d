// A small blocking HTTP/1.1 client for the black-box tests, and the protocol
// helpers built on it (join, poll, throw, stats).
//
// It owns one loopback TCP connection (from another loopback address, such
// as 127.0.0.2, when a test plays a second client machine) and speaks just
// enough HTTP to check the relay to the letter: it writes requests byte for
// byte (send_raw), reads responses one at a time in order (so pipelining is
// the caller's choice), can
// hand back interim 100 Continue responses, decodes Content-Length and chunked
// bodies, and tells a close by the peer apart from silence. Socket timeouts of
// 30 s exist only as failure guards: a test never waits on them to make progress.
//
// TLS: start_tls() turns a connection into an https one (blocking OpenSSL on
// the same socket), verifying the relay's certificate against a test CA.
//
// Deliberately left out: redirects, compression, connection pools. A test
// that needs several connections holds several Connection objects.
//
// Dropped alternative: libcurl. It hides exactly what these tests check (when the
// server closes, whether a 100 Continue came, how the body was framed) and would
// add a dependency the rest of the tree does not need.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/tls.h"

namespace sprites::test {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Response headers in arrival order; names compare case-insensitively.
class Headers {
 public:
  void add(std::string name, std::string value);
  // The first value of `name`, if any.
  std::optional<std::string> get(std::string_view name) const;
  bool has(std::string_view name) const { return get(name).has_value(); }
  std::size_t count(std::string_view name) const;
  const HeaderList& all() const { return fields_; }

 private:
  HeaderList fields_;
};

struct Response {
  std::string version;  // "HTTP/1.1"
  int status = 0;
  std::string reason;
  Headers headers;
  std::string body;
  bool chunked = false;  // the body came with Transfer-Encoding: chunked

  // The value of a header, or "" when absent.
  std::string header(std::string_view name) const;
  // The body parsed as JSON; throws (failing the test) when it is not JSON.
  Json json() const;
  // The same, keeping object keys in the order they were sent.
  OrderedJson ordered_json() const;
  // "404 unknown_node" for a JSON error, "201" otherwise: short and comparable.
  std::string outcome() const;
  // Status line and the start of the body, for failure messages.
  std::string summary() const;
};

// Failure-guard timeout of every socket read and write.
inline constexpr std::chrono::seconds kIoGuard{30};

class Connection {
 public:
  explicit Connection(std::uint16_t port);
  // From another loopback address (e.g. "127.0.0.2"): the relay sees another
  // peer, as it would another client machine.
  Connection(std::uint16_t port, const std::string& source);
  ~Connection();
  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  std::uint16_t port() const { return port_; }

  // Runs a TLS handshake on this connection, verifying the server against
  // the PEM CA in `ca_file` and `host` (a name or an IP literal); from then on
  // every request and answer is encrypted. Empty on success, else OpenSSL's
  // reason (with the certificate check's result).
  std::string try_start_tls(const std::string& ca_file, const std::string& host = "127.0.0.1");
  // The same; a failed handshake fails the test.
  void start_tls(const std::string& ca_file, const std::string& host = "127.0.0.1");
  // The TLS version the handshake agreed ("TLSv1.3"), or "" on plain HTTP.
  std::string tls_version() const;
  // The certificate the server presented, as PEM ("" on plain HTTP).
  std::string peer_certificate_pem() const;
  // The server ended the TLS session with close_notify (not a bare FIN or a
  // reset) before the end of the connection was read.
  bool tls_closed_cleanly() const { return tls_clean_close_; }

  // Writes all of `bytes`; throws when the peer has gone.
  void send_raw(std::string_view bytes);
  // Writes all of `bytes`; false when the peer reset or closed the connection.
  bool try_send_raw(std::string_view bytes);

  // Writes one request. Adds Host, and Content-Length when the body is not
  // empty or the method is POST/PUT, unless `headers` already frames the body.
  void send_request(std::string_view method, std::string_view target, const HeaderList& headers = {},
                    std::string_view body = {});
  // Reads the next response. Interim 1xx responses are skipped unless
  // `return_interim` is set, in which case a 100 Continue is returned as is.
  Response read_response(bool return_interim = false);
  // send_request + read_response.
  Response request(std::string_view method, std::string_view target, const HeaderList& headers = {},
                   std::string_view body = {});

  // True when the peer has closed (a read returns 0, or the connection was
  // reset) before it sent anything more; waits at most `guard` for it.
  bool is_closed_by_peer(std::chrono::milliseconds guard = std::chrono::seconds(10));

  void close();

 private:
  // Appends what the socket has to buffer_; false at end of stream.
  bool fill();
  std::string read_line();
  std::string read_exact(std::size_t n);

  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::string buffer_;
  bool eof_ = false;
  std::shared_ptr<const tls::TlsContext> tls_context_;
  SSL* tls_ = nullptr;
  bool tls_clean_close_ = false;
};

// True when nothing accepts TCP connections on 127.0.0.1:port.
bool connection_refused(std::uint16_t port);

// ---- The protocol ---------------------------------------------------------

struct Node {
  std::string id;
  std::string token;
  std::string name;
  std::string group;
  Json joined;  // the whole 201 body
};

HeaderList bearer(const std::string& token);

// POST /v1/nodes with `body` as it is; no checks.
Response join_raw(std::uint16_t master_port, std::string_view body, const HeaderList& headers = {});
// POST /v1/nodes with `body` (a JSON object); requires 201.
Node join(std::uint16_t master_port, const Json& body = Json::object());
Node join(std::uint16_t master_port, std::string_view group, std::string_view name);

std::string events_target(const std::string& node, std::uint64_t after, std::uint64_t timeout_ms);
// GET /v1/nodes/{id}/events?after=..&timeout_ms=.. with the node's token.
Response poll(std::uint16_t master_port, const Node& node, std::uint64_t after, std::uint64_t timeout_ms);
// The same on a connection the caller holds, without reading the answer.
void send_poll(Connection& connection, const Node& node, std::uint64_t after, std::uint64_t timeout_ms);

Response node_info(std::uint16_t master_port, const Node& node);
Response leave(std::uint16_t master_port, const Node& node);

// The throw body: `sprite_json` is spliced in byte for byte.
std::string throw_body(std::string_view direction, std::string_view sprite_json,
                       const std::optional<std::string>& id = std::nullopt);
// POST /v1/nodes/{node}/sprites on the worker port.
Response throw_sprite(std::uint16_t worker_port, const std::string& node, const std::string& token,
                      std::string_view direction, std::string_view sprite_json,
                      const std::optional<std::string>& id = std::nullopt);
Response throw_sprite(std::uint16_t worker_port, const Node& node, std::string_view direction,
                      std::string_view sprite_json, const std::optional<std::string>& id = std::nullopt);

// GET /v1/stats; requires 200.
Json stats(std::uint16_t master_port);
// Asks /v1/stats again and again until `done` holds (counters that a worker
// reports over IPC reach the master a moment after the worker answered), for at
// most `guard`; returns the last figures, which the caller asserts on.
Json stats_when(std::uint16_t master_port, const std::function<bool(Json&)>& done,
                std::chrono::milliseconds guard = std::chrono::seconds(20));

// Waits (through stats_when) until the relay holds exactly `count` polls,
// and checks it.
void wait_until_polls_pending(std::uint16_t master_port, int count);

// Repeats `attempt` until it returns true, for at most `guard`; a retry loop for
// things with no event to wait on (a process being restarted). Between tries it
// yields for a few milliseconds, which paces the loop and synchronises nothing.
bool retry_until(const std::function<bool()>& attempt, std::chrono::milliseconds guard);

// One node's view of its mailbox: remembers the cursor and the seqs seen, so
// every poll acknowledges what the previous one returned.
class Inbox {
 public:
  Inbox(std::uint16_t master_port, Node node);

  const Node& node() const { return node_; }
  std::uint64_t cursor() const { return cursor_; }

  // One poll with after = cursor; returns the events not seen before and moves
  // the cursor to the answer's cursor. Requires 200.
  std::vector<Json> poll(std::uint64_t timeout_ms);
  // Polls until an event satisfies `match` (events before it are skipped and
  // returned in `skipped` if given); fails the test after `guard`.
  Json wait_for(const std::function<bool(const Json&)>& match,
                std::chrono::milliseconds guard = std::chrono::seconds(20),
                std::vector<Json>* skipped = nullptr);
  // poll(0) until nothing new comes: all events so far, acknowledged up to the
  // last but one answer.
  std::vector<Json> drain();

 private:
  std::uint16_t port_;
  Node node_;
  std::uint64_t cursor_ = 0;
  std::uint64_t highest_seq_ = 0;
};

// Checks an error answer to the letter: `status`, a JSON body
// {"error": code, "message": <non-empty text>}, Content-Type application/json.
void check_error(const Response& response, int status, std::string_view code);

// Events of one type out of a list.
std::vector<Json> of_type(const std::vector<Json>& events, std::string_view type);

}  // namespace sprites::test

// Status assertions that print the response (status line, body) on failure.
#define SPRITES_RESPONSE_ASSERT(macro, response, expected)        \
  do {                                                              \
    const auto& sprites_response_ = (response);                    \
    INFO(sprites_response_.summary());                              \
    macro(sprites_response_.status == (expected));                  \
  } while (false)
#define REQUIRE_STATUS(response, expected) SPRITES_RESPONSE_ASSERT(REQUIRE, response, expected)
#define CHECK_STATUS(response, expected) SPRITES_RESPONSE_ASSERT(CHECK, response, expected)
