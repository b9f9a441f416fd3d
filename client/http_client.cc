// See http_client.h. A read is parsed at once; responses it completes are
// collected in `completed_` and handed to their handlers only after
// llhttp_execute returned, so a handler may queue the next request or drop the
// client without the parser being on the stack. With TLS a read goes through
// TlsStream::read, which hands each record's plaintext to llhttp as it is
// decrypted; handlers run only after the read returned, so neither OpenSSL
// nor llhttp is on the stack when a handler writes the next request.
#include "client/http_client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "common/callback_guard.h"
#include "common/log.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace sprites::client {
namespace {

// Every read of every connection lands here and is parsed before the next one
// (one loop, one thread per process).
constexpr size_t kReadBufferBytes = 64 * 1024;
char g_read_buffer[kReadBufferBytes];

struct WriteRequest {
  uv_write_t req;
  std::string bytes;
};

HttpClient* self(llhttp_t* parser) { return static_cast<HttpClient*>(parser->data); }

std::string serialise(const Request& request, const std::string& host) {
  std::string out;
  out.reserve(request.target.size() + request.body.size() + request.token.size() + 128);
  out.append(request.method).append(" ").append(request.target).append(" HTTP/1.1\r\nHost: ");
  out.append(host).append("\r\n");
  if (!request.token.empty()) out.append("Authorization: Bearer ").append(request.token).append("\r\n");
  if (!request.body.empty() || request.method == "POST") {
    if (!request.body.empty()) out.append("Content-Type: application/json\r\n");
    out.append("Content-Length: ").append(std::to_string(request.body.size())).append("\r\n");
  }
  out.append("\r\n").append(request.body);
  return out;
}

}  // namespace

const llhttp_settings_t* HttpClient::settings() {
  static const llhttp_settings_t s = [] {
    llhttp_settings_t v;
    llhttp_settings_init(&v);
    v.on_message_begin = &HttpClient::on_message_begin;
    v.on_body = &HttpClient::on_body;
    v.on_message_complete = &HttpClient::on_message_complete;
    return v;
  }();
  return &s;
}

HttpClient::Ptr HttpClient::create(uv_loop_t* loop, HttpClientOptions options) {
  return Ptr(new HttpClient(loop, std::move(options)));
}

HttpClient::HttpClient(uv_loop_t* loop, HttpClientOptions options) : loop_(loop), options_(std::move(options)) {
  if (options_.max_in_flight == 0) options_.max_in_flight = 1;
}

HttpClient::~HttpClient() = default;

void HttpClient::release() {
  released_ = true;
  queue_.clear();  // handlers are dropped, never called
  written_ = 0;
  // A TLS peer is told the connection ends on purpose (close_notify), not
  // cut; best effort, like the rest of a close.
  if (tls_ && state_ == State::Open) tls_->shutdown(tls_io());
  if (handle_open_) {
    if (state_ != State::Closing) begin_close("released");
    return;  // freed in on_closed
  }
  if (in_callback_ == 0) delete this;  // else finish_callback frees it
}

void HttpClient::send(Request request, ResponseHandler on_response) {
  if (released_) return;
  queue_.push_back(Pending{serialise(request, options_.server.text), std::move(on_response)});
  flush();
}

// ---- connecting -------------------------------------------------------------

int HttpClient::open_socket() {
  const int family = address().family();
  if (options_.source && family != AF_INET) return UV_EAFNOSUPPORT;  // an IPv4 source for an IPv6 server
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (options_.source) {
    ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in source = *options_.source;
    source.sin_port = 0;
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&source), sizeof source) != 0) {
      int err = -errno;
      ::close(fd);
      return err;
    }
  }
  int rc = uv_tcp_open(&tcp_, fd);
  if (rc != 0) ::close(fd);
  return rc;
}

void HttpClient::connect() {
  uv_tcp_init(loop_, &tcp_);
  tcp_.data = this;
  handle_open_ = true;
  ever_connected_ = false;
  ending_ = false;
  ++connects_;
  llhttp_init(&parser_, HTTP_RESPONSE, settings());
  parser_.data = this;
  if (!options_.server.resolved()) {
    // A caller that skipped client/resolver.h: fail the queue, do not guess.
    begin_close("connect to " + options_.server.text + ": the name was not resolved");
    return;
  }
  if (options_.server.tls && !options_.tls) {
    // An owner that forgot the context: never send the request (and its
    // token) in the clear to an https:// relay.
    begin_close("connect to " + options_.server.text + ": https:// without a TLS context");
    return;
  }
  int rc = open_socket();  // TCP_NODELAY is set there
  if (rc == 0) {
    auto* req = new uv_connect_t;
    rc = uv_tcp_connect(req, &tcp_, &address().any, &HttpClient::on_connect);
    if (rc != 0) delete req;
  }
  // Reading starts with the connect, so one epoll_ctl registers both
  // interests; started in the connect callback it cost two more (libuv forgets
  // the registration when POLLOUT is dropped, then re-adds and hits EEXIST).
  // Nothing is read before on_connect: libuv hands a connecting stream's
  // events to the connect, and on_read ignores a connection not yet Open.
  if (rc == 0) {
    rc = uv_read_start(
        reinterpret_cast<uv_stream_t*>(&tcp_),
        [](uv_handle_t*, size_t, uv_buf_t* buf) { *buf = uv_buf_init(g_read_buffer, kReadBufferBytes); },
        &HttpClient::on_read);
  }
  if (rc != 0) {
    // Failed before anything was in flight: the close callback (next loop
    // turn) tries the next address or fails the queue, so send() never calls
    // a handler itself.
    connect_failed(rc);
    return;
  }
  state_ = State::Connecting;
}

// The connect to address_ failed: fall through to the next address not yet
// tried in this connect, or fail the queue once every address failed. The
// message names the addresses only for a name (a literal is its address).
void HttpClient::connect_failed(int status) {
  const Endpoint& server = options_.server;
  if (!connect_failures_.empty()) connect_failures_.append("; ");
  if (server.is_name()) connect_failures_.append(address_text(address())).append(": ");
  connect_failures_.append(uv_strerror(status));
  const auto count = static_cast<uint32_t>(server.addresses.size());
  if (++tried_ < count) {
    address_ = (address_ + 1) % count;
    next_address_ = true;
    begin_close({});
    return;
  }
  std::string reason = "connect to " + server.text + ": " + std::exchange(connect_failures_, std::string());
  tried_ = 0;
  address_ = preferred_;
  begin_close(std::move(reason));
}

void HttpClient::on_connect(uv_connect_t* req, int status) {
  auto* c = static_cast<HttpClient*>(req->handle->data);
  delete req;
  if (status == UV_ECANCELED || c->state_ == State::Closing) return;
  guarded("http client: connect", [&] { c->connected(status); });
}

void HttpClient::connected(int status) {
  if (status != 0) {
    connect_failed(status);
    return;
  }
  preferred_ = address_;
  tried_ = 0;
  connect_failures_.clear();
  if (!options_.tls) return opened();
  // The requests wait for the handshake; its answers arrive in received().
  state_ = State::Handshaking;
  tls_ = std::make_unique<tls::TlsStream>(*options_.tls, options_.server.host);
  tls_->start(tls_io());
  if (state_ == State::Handshaking && !tls_->error().empty()) {
    begin_close("TLS handshake with " + options_.server.text + " failed: " + tls_->error());
  }
}

// The connection is ready for requests: TCP connected, and with TLS the
// handshake done.
void HttpClient::opened() {
  state_ = State::Open;
  ever_connected_ = true;
  flush();
}

void HttpClient::flush() {
  if (released_) return;
  if (state_ == State::Idle) {
    if (!queue_.empty()) connect();
    return;
  }
  while (state_ == State::Open && !ending_ && written_ < queue_.size() && written_ < options_.max_in_flight) {
    std::string bytes = std::exchange(queue_[written_].bytes, std::string());
    ++written_;
    if (!tls_) {
      write_bytes(bytes);
    } else if (!tls_->write(bytes, tls_io()) && state_ == State::Open) {
      begin_close("TLS error with " + options_.server.text + ": " + tls_->error());
    }
  }
}

// Bytes for the socket (a request, or TLS records). False after a failed
// write began the close.
bool HttpClient::write_bytes(std::string_view bytes) {
  auto* stream = reinterpret_cast<uv_stream_t*>(&tcp_);
  // A write libuv finishes inside uv_write still costs an epoll_ctl (it
  // drops POLLOUT interest) and defers its callback a loop turn, so the
  // socket is offered the bytes directly first. uv_try_write refuses while
  // an earlier uv_write is queued, which keeps the bytes in order.
  uv_buf_t whole = uv_buf_init(const_cast<char*>(bytes.data()), static_cast<unsigned>(bytes.size()));
  int sent = uv_try_write(stream, &whole, 1);
  if (sent == static_cast<int>(bytes.size())) return true;
  if (sent < 0 && sent != UV_EAGAIN) {
    begin_close(std::string("write to ") + options_.server.text + ": " + uv_strerror(sent));
    return false;
  }
  auto* w = new WriteRequest;
  w->bytes = bytes.substr(sent > 0 ? static_cast<size_t>(sent) : 0);
  uv_buf_t rest = uv_buf_init(w->bytes.data(), static_cast<unsigned>(w->bytes.size()));
  w->req.data = this;
  int rc = uv_write(&w->req, stream, &rest, 1, &HttpClient::on_write);
  if (rc != 0) {
    delete w;
    begin_close(std::string("write to ") + options_.server.text + ": " + uv_strerror(rc));
    return false;
  }
  return true;
}

// TLS records OpenSSL made (handshake messages, requests, alerts): to the
// socket, while there is one to write to.
void HttpClient::tls_send(void* owner, std::string_view ciphertext) {
  auto* c = static_cast<HttpClient*>(owner);
  if (c->handle_open_ && c->state_ != State::Closing) c->write_bytes(ciphertext);
}

// One record's plaintext: parsed at once. False stops the read at a parse
// error (received_tls reads the reason from the parser).
bool HttpClient::tls_deliver(void* owner, std::string_view plaintext) {
  auto* c = static_cast<HttpClient*>(owner);
  return llhttp_execute(&c->parser_, plaintext.data(), plaintext.size()) == HPE_OK;
}

void HttpClient::on_write(uv_write_t* req, int status) {
  auto* w = reinterpret_cast<WriteRequest*>(req);
  auto* c = static_cast<HttpClient*>(req->data);
  delete w;
  if (status == 0 || status == UV_ECANCELED) return;
  if (c->state_ == State::Open || c->state_ == State::Connecting || c->state_ == State::Handshaking) {
    guarded("http client: write", [&] {
      c->begin_close(std::string("write to ") + c->options_.server.text + ": " + uv_strerror(status));
    });
  }
}

// ---- reading ----------------------------------------------------------------

int HttpClient::on_message_begin(llhttp_t* parser) {
  self(parser)->body_.clear();
  return 0;
}

// The llhttp callbacks allocate: an exception must not cross llhttp (C) either.
int HttpClient::on_body(llhttp_t* parser, const char* at, size_t length) {
  HttpClient* c = self(parser);
  if (c->body_.size() + length > c->options_.max_response_bytes) return -1;
  int rc = -1;
  guarded("http client: body", [&] {
    c->body_.append(at, length);
    rc = 0;
  });
  return rc;
}

int HttpClient::on_message_complete(llhttp_t* parser) {
  HttpClient* c = self(parser);
  int status = llhttp_get_status_code(parser);
  if (status >= 100 && status < 200) return 0;  // interim (100 Continue): the final answer follows
  int rc = -1;
  guarded("http client: response", [&] {
    c->completed_.push_back(Completed{status, std::move(c->body_), llhttp_should_keep_alive(parser) != 0});
    c->body_ = std::string();
    rc = 0;
  });
  return rc;
}

void HttpClient::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<HttpClient*>(stream->data);
  if (c->state_ != State::Open && c->state_ != State::Handshaking) return;
  if (nread == 0) return;
  ++c->in_callback_;
  guarded("http client: read", [&] { c->received(nread, buf); });
  c->finish_callback();
}

void HttpClient::received(ssize_t nread, const uv_buf_t* buf) {
  std::string problem;
  const bool handshaking = state_ == State::Handshaking;
  if (nread > 0) {
    std::string_view bytes(buf->base, static_cast<size_t>(nread));
    problem = tls_ ? received_tls(bytes) : parse(bytes);
  } else if (nread == UV_EOF) {
    // A response framed by the end of the connection completes here.
    if (!handshaking) llhttp_finish(&parser_);
    problem = "connection closed by " + options_.server.text;
  } else {
    problem = std::string("read from ") + options_.server.text + ": " + uv_strerror(static_cast<int>(nread));
  }
  if (handshaking && !problem.empty()) {
    problem = "TLS handshake with " + options_.server.text + " failed: " + problem;
  }
  // The answers this read completed are handed out before the close, and
  // a request their handlers queue waits for the next connection: this one
  // is ending.
  ending_ = !problem.empty();
  deliver();
  if (!problem.empty() && (state_ == State::Open || state_ == State::Handshaking)) begin_close(problem);
}

std::string HttpClient::parse(std::string_view bytes) {
  llhttp_execute(&parser_, bytes.data(), bytes.size());
  return parse_problem();
}

// Empty, or why the parser stopped.
std::string HttpClient::parse_problem() const {
  if (llhttp_get_errno(&parser_) == HPE_OK) return {};
  const char* reason = llhttp_get_error_reason(&parser_);
  return std::string("bad HTTP from ") + options_.server.text + ": " + (reason ? reason : "parse error");
}

// Ciphertext: handshake records while handshaking, then responses. Empty, or
// why the connection must close.
std::string HttpClient::received_tls(std::string_view ciphertext) {
  const tls::TlsStream::Status status = tls_->read(ciphertext, tls_io());
  if (state_ != State::Open && state_ != State::Handshaking) return {};  // a write failed meanwhile
  if (status == tls::TlsStream::Status::Failed) {
    return state_ == State::Handshaking ? tls_->error()
                                        : "TLS error from " + options_.server.text + ": " + tls_->error();
  }
  if (std::string bad = parse_problem(); !bad.empty()) return bad;
  if (status == tls::TlsStream::Status::Closed) {
    // close_notify: the end of the connection, as a TCP end of file is.
    if (state_ == State::Open) llhttp_finish(&parser_);
    return "connection closed by " + options_.server.text;
  }
  if (state_ == State::Handshaking && tls_->handshake_done()) opened();
  return {};
}

void HttpClient::deliver() {
  size_t i = 0;
  bool keep_alive = true;
  for (; i < completed_.size(); ++i) {
    if (released_ || state_ != State::Open) break;
    if (written_ == 0) {
      begin_close("unexpected response from " + options_.server.text);
      break;
    }
    Pending done = std::move(queue_.front());
    queue_.erase(queue_.begin());
    --written_;
    keep_alive = completed_[i].keep_alive;
    Response response;
    response.status = completed_[i].status;
    response.body = std::move(completed_[i].body);
    invoke(done.handler, std::move(response));
    if (!keep_alive) break;
  }
  completed_.clear();
  if (released_ || state_ != State::Open) return;
  // The server closes after a `Connection: close` answer: whatever was written
  // after it is lost, whatever was not is sent on the next connection.
  if (!keep_alive) {
    begin_close("the server closed the connection (Connection: close)");
    return;
  }
  flush();
}

void HttpClient::invoke(ResponseHandler& handler, Response&& response) {
  if (handler) guarded("http client: a response handler", [&] { handler(std::move(response)); });
}

void HttpClient::finish_callback() {
  --in_callback_;
  if (in_callback_ == 0 && released_ && !handle_open_) delete this;
}

// ---- closing ----------------------------------------------------------------

void HttpClient::begin_close(std::string reason) {
  if (state_ == State::Closing || !handle_open_) return;
  state_ = State::Closing;
  close_reason_ = std::move(reason);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &HttpClient::on_closed);
}

void HttpClient::fail(std::vector<Pending>& failed, const std::string& reason) {
  for (Pending& p : failed) {
    if (released_) return;
    Response response;
    response.failure = reason;
    invoke(p.handler, std::move(response));
  }
}

void HttpClient::on_closed(uv_handle_t* handle) {
  auto* c = static_cast<HttpClient*>(handle->data);
  c->handle_open_ = false;
  c->state_ = State::Idle;
  c->tls_.reset();  // a new connection starts a new TLS session
  if (c->released_) {
    if (c->in_callback_ == 0) delete c;
    return;
  }
  ++c->in_callback_;
  guarded("http client: close", [c] { c->closed(); });
  c->finish_callback();
}

void HttpClient::closed() {
  if (std::exchange(next_address_, false)) {
    // A connect failed with addresses left to try: nothing was written, the
    // queue waits for the next one.
    close_reason_.clear();
    if (!released_) flush();
    return;
  }
  // Requests on the wire got no answer. If the socket never connected, every
  // queued request fails (reconnecting at once would spin on a dead server).
  std::vector<Pending> failed;
  size_t count = ever_connected_ ? written_ : queue_.size();
  failed.reserve(count);
  for (size_t i = 0; i < count; ++i) failed.push_back(std::move(queue_[i]));
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(count));
  written_ = 0;
  std::string reason = std::move(close_reason_);
  close_reason_.clear();
  body_ = std::string();
  fail(failed, reason.empty() ? "connection closed" : reason);
  if (!released_) flush();  // unwritten requests go on a new connection
}

}  // namespace sprites::client
