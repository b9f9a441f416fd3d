// HttpClient: one keep-alive HTTP/1.1 client connection over libuv, parsed by
// llhttp in HTTP_RESPONSE mode, with a queue of requests answered in order.
//
// It owns the socket, the parser and the queue, and nothing of the protocol
// above HTTP (that is NodeSession's). It connects lazily on the first request,
// keeps the connection open between requests, pipelines up to
// `max_in_flight` requests, and reconnects by itself when a request is queued
// after the server closed (a `Connection: close` answer, an idle close).
// TCP_NODELAY is set on every socket; the client side can be bound to a source
// address (the swarm spreads its sockets over 127.0.0.2, 127.0.0.3, ... to get
// past the ~28k ephemeral ports of one address pair) with
// IP_BIND_ADDRESS_NO_PORT, so the port is picked at connect time per 4-tuple
// instead of at bind time per address.
//
// Addresses: the server's endpoint comes resolved (client/resolver.h) and may
// have several addresses (a name with IPv4 and IPv6 ones). A connect starts
// at the address that connected last (the first, at first); one that fails
// falls through to the next, and only when every address failed is the queue
// failed, with each address's reason. The source address is IPv4 and binds
// only sockets to IPv4 addresses (the caller sees to it: the swarm refuses an
// IPv6 target with source addresses).
//
// Failure: a request that got no answer (refused, reset, closed before its
// answer, an unparseable response) is answered with status 0 and a reason. A
// request not yet written when the connection went away is sent on the next
// connection; a connect that fails fails every queued request (so a dead
// server cannot make the client spin). Nothing is retried after it was
// written: a POST is not idempotent, the caller decides.
//
// TLS (an https:// endpoint): with a context in the options the connection
// speaks TLS (common/tls.h). After the TCP connect the client runs the
// handshake, sending the endpoint's host as written (name or IP literal) as
// the name the certificate must carry, and only once it is done writes the
// queued requests; a failed handshake fails every queued request with the
// TLS reason ("TLS handshake with relay.example.com:8443 failed: certificate
// verify failed (unable to get local issuer certificate)") and is not tried
// on the next address (a certificate is the same whichever address served
// it). A peer's close_notify ends the connection like a TCP end of file. An
// https:// endpoint without a context fails its requests instead of sending
// them, token and all, in the clear.
//
// Cost while idle (a held long-poll is idle): the uv_tcp_t, the llhttp_t, an
// empty queue and a few words; with TLS also the TlsStream (OpenSSL's SSL
// object, whose record buffers it frees while idle). There is no
// per-connection read buffer (every read lands in one buffer per process and
// llhttp, or OpenSSL and then llhttp, consumes it at once) and no timer: a held poll ends by the server's timeout_ms, and owners that need a
// deadline keep one for all their connections.
//
// Lifetime: create() returns an owner (HttpClient::Ptr). Dropping it closes
// the socket and frees the object in the uv_close callback, never before;
// queued handlers are then dropped without being called. Dropping it from
// inside one of its own handlers is allowed. Exceptions thrown by a handler are
// caught and logged (callback_guard.h), never let through libuv or llhttp.
//
// Dropped alternative: a connection pool shared by many nodes. Real clients
// each hold their own keep-alive connection, and a pool would hide exactly the
// per-connection cost the relay has to carry.
#pragma once

#include <llhttp.h>
#include <netinet/in.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/endpoint.h"
#include "client/transport.h"
#include "common/tls.h"

namespace sprites::client {

struct HttpClientOptions {
  Endpoint server;
  std::optional<sockaddr_in> source;  // bind the client side to this address (port 0); IPv4 targets only
  uint32_t max_in_flight = 1;         // requests written and not yet answered
  uint32_t max_response_bytes = 16u << 20;
  // Non-null: speak TLS with this context (the owner sets it for an https://
  // endpoint; tls_for() below). Shared by every client of a process.
  std::shared_ptr<const tls::TlsContext> tls;
};

// `context` when `server` is https://, else none: what an owner puts in
// HttpClientOptions::tls for a client of `server`.
inline std::shared_ptr<const tls::TlsContext> tls_for(const Endpoint& server,
                                                      std::shared_ptr<const tls::TlsContext> context) {
  return server.tls ? std::move(context) : nullptr;
}

class HttpClient final : public Transport {
 public:
  struct Closer {
    void operator()(HttpClient* client) const { client->release(); }
  };
  using Ptr = std::unique_ptr<HttpClient, Closer>;

  static Ptr create(uv_loop_t* loop, HttpClientOptions options);

  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  void send(Request request, ResponseHandler on_response) override;

  // Requests queued or in flight.
  size_t pending() const { return queue_.size(); }
  bool connected() const { return state_ == State::Open; }
  // TCP connects attempted so far (the first one included; one per address
  // tried when an address falls through to the next).
  uint32_t connects() const { return connects_; }
  const Endpoint& server() const { return options_.server; }
  // The server address of the connection open now, or of the last one that
  // was open (the first address before any was); the endpoint is resolved.
  const Address& address() const { return options_.server.addresses[address_]; }

 private:
  enum class State : uint8_t { Idle, Connecting, Handshaking, Open, Closing };

  struct Pending {
    std::string bytes;  // moved into the write request once written
    ResponseHandler handler;
  };
  struct Completed {
    int status;
    std::string body;
    bool keep_alive;
  };

  HttpClient(uv_loop_t* loop, HttpClientOptions options);
  ~HttpClient();

  void release();
  void connect();
  void connect_failed(int status);
  int open_socket();
  void flush();
  bool write_bytes(std::string_view bytes);
  std::string parse(std::string_view bytes);
  std::string parse_problem() const;
  std::string received_tls(std::string_view ciphertext);
  void opened();
  tls::TlsIo tls_io() { return tls::TlsIo{this, &HttpClient::tls_send, &HttpClient::tls_deliver}; }
  void begin_close(std::string reason);
  void deliver();
  void fail(std::vector<Pending>& failed, const std::string& reason);
  void invoke(ResponseHandler& handler, Response&& response);
  void finish_callback();

  // Bodies of the libuv callbacks, run under guarded().
  void connected(int status);
  void received(ssize_t nread, const uv_buf_t* buf);
  void closed();

  static void on_connect(uv_connect_t* req, int status);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_closed(uv_handle_t* handle);
  static int on_message_begin(llhttp_t* parser);
  static int on_body(llhttp_t* parser, const char* at, size_t length);
  static int on_message_complete(llhttp_t* parser);
  static const llhttp_settings_t* settings();
  static void tls_send(void* owner, std::string_view ciphertext);
  static bool tls_deliver(void* owner, std::string_view plaintext);

  uv_loop_t* loop_;
  HttpClientOptions options_;
  uv_tcp_t tcp_{};
  llhttp_t parser_{};
  std::unique_ptr<tls::TlsStream> tls_;  // this connection's TLS, from its TCP connect to its close
  State state_ = State::Idle;
  bool handle_open_ = false;   // uv_tcp_init done, close callback not yet run
  bool released_ = false;      // the owner let go: free once the handle is closed
  bool ever_connected_ = false;  // the current socket got past connect (and the TLS handshake)
  bool ending_ = false;        // the last read ended the connection: write nothing more on it
  uint32_t in_callback_ = 0;   // handlers on the stack: defer the free
  uint32_t written_ = 0;       // queue_[0, written_) are on the wire
  uint32_t connects_ = 0;
  uint32_t address_ = 0;       // index into options_.server.addresses: tried now, or open
  uint32_t preferred_ = 0;     // the address that connected last: each connect starts there
  uint32_t tried_ = 0;         // addresses that failed in this connect
  bool next_address_ = false;  // the close under way falls through to address_
  std::string connect_failures_;  // each failed address's reason, for the message when all failed
  std::vector<Pending> queue_;
  std::vector<Completed> completed_;  // parsed in one read, delivered after it
  std::string body_;                  // the response being received
  std::string close_reason_;
};

}  // namespace sprites::client
