// See http_connection.h. The parser callbacks fill an HttpRequest taken from the
// listener's pool that the connection holds only while a request is being
// received; answers are serialised at once, in the listener's answer buffer, and
// either written (when it is their turn: what the socket does not take is
// copied into a write request) or copied into the backlog until the earlier
// answers have gone out.
//
// The header limit counts the block as it arrived, not what llhttp reports:
// every span (method, target, version, names, values) adds the bytes from a
// mark in the current read to its own end, and a read that ends inside the
// block adds its rest, so whitespace llhttp skips without a callback (before
// a value, around the target), colons and line ends are counted, across any
// split into reads. The mark lives in the request being received, so the
// count costs an idle connection nothing. Dropped alternative: counting the
// span lengths alone, which let 3,000 `a:b` lines or 100 KB of spaces before
// a value through an 8 KiB limit.
//
// A peer that pipelines and does not read is paused the same way as one at
// the in-flight limit (parser paused, input stashed, reading stopped) while
// the answer bytes it has not taken exceed max_queued_bytes; each finished
// write re-checks. Those bytes are libuv's own count of its write queue plus
// the out-of-order answers in the backlog, so the bound adds no field to the
// connection. Dropped alternative: counting only answers not yet handed to
// libuv, as the in-flight limit does; an answer handed to uv_write counted as
// written, and 200,000 pipelined GET /metrics grew the master by ~360 MB.
#include "common/http_connection.h"

#include "common/refusal_log.h"

#include <cstring>
#include <utility>

#include "common/callback_guard.h"
#include "common/http_listener.h"
#include "common/http_response.h"
#include "common/log.h"

namespace sprites::http {
namespace {

enum HeaderKind : uint8_t { kOther = 0, kAuthorization = 1, kExpect = 2, kIfNoneMatch = 3, kAcceptEncoding = 4 };

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Method method_of(uint8_t m) {
  switch (static_cast<llhttp_method_t>(m)) {
    case HTTP_GET: return Method::Get;
    case HTTP_POST: return Method::Post;
    case HTTP_DELETE: return Method::Delete;
    case HTTP_OPTIONS: return Method::Options;
    case HTTP_HEAD: return Method::Head;
    case HTTP_PUT: return Method::Put;
    case HTTP_PATCH: return Method::Patch;
    default: return Method::Other;
  }
}

HttpConnection* self(llhttp_t* p) { return static_cast<HttpConnection*>(p->data); }

struct WriteRequest {
  uv_write_t req;
  std::string bytes;
};

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace

const llhttp_settings_t* HttpConnection::settings() {
  static const llhttp_settings_t s = [] {
    llhttp_settings_t v;
    llhttp_settings_init(&v);
    v.on_message_begin = &HttpConnection::on_message_begin;
    v.on_method = &HttpConnection::on_method;
    v.on_url = &HttpConnection::on_url;
    v.on_version = &HttpConnection::on_version;
    v.on_header_field = &HttpConnection::on_header_field;
    v.on_header_value = &HttpConnection::on_header_value;
    v.on_header_value_complete = &HttpConnection::on_header_value_complete;
    v.on_headers_complete = &HttpConnection::on_headers_complete;
    v.on_chunk_header = &HttpConnection::on_chunk_header;
    v.on_body = &HttpConnection::on_body;
    v.on_message_complete = &HttpConnection::on_message_complete;
    return v;
  }();
  return &s;
}

HttpConnection::HttpConnection(HttpListener& listener, uint64_t serial)
    : listener_(listener), serial_(serial) {
  llhttp_init(&parser_, HTTP_REQUEST, settings());
  parser_.data = this;
  tcp_.data = this;
  timeout_.owner = this;
}

HttpConnection::~HttpConnection() = default;

bool HttpConnection::peer_address(sockaddr_storage& out) const {
  int length = sizeof out;
  return uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&out), &length) == 0;
}

void HttpConnection::start() {
  uv_tcp_nodelay(&tcp_, 1);
  if (listener_.tls_) {
    tls_ = std::make_unique<tls::TlsStream>(*listener_.tls_);
    // The handshake is bounded like a request: the request timeout, not the
    // idle one.
    listener_.receiving_.enter(&timeout_, uv_now(listener_.loop()));
  } else {
    listener_.idle_.enter(&timeout_, uv_now(listener_.loop()));
  }
  reading_ = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_),
                           [](uv_handle_t*, size_t, uv_buf_t* buf) { *buf = lend_read_buffer(); },
                           &HttpConnection::on_read) == 0;
  if (!reading_) close();
}

// ---- reading and parsing -------------------------------------------------

void HttpConnection::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<HttpConnection*>(stream->data);
  if (nread < 0) {
    if (nread == UV_EOF) {
      c->on_peer_eof();
    } else {
      c->close();
    }
    return;
  }
  // After the last request this connection will answer, input is drained
  // unread; the body of that last request itself is still read.
  if (nread == 0 || c->state_ != State::Open || (c->stop_parsing_ && !c->request_)) return;
  if (c->tls_) {
    c->read_tls(std::string_view(buf->base, static_cast<size_t>(nread)));
    return;
  }
  c->take_input(buf->base, static_cast<size_t>(nread));
}

// EOF (or a TLS close_notify). Answers not given yet are dropped (a held
// poll is released): the service hears on_close now. Bytes already being
// written are finished first, since a client that half-closed after its last
// request still reads them; then the connection closes.
void HttpConnection::on_peer_eof() {
  if (writes_pending_ > 0 && state_ < State::Closed) {
    peer_done_ = true;
    if (reading_) uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    reading_ = false;
    begin_linger();
    return;
  }
  close();
}

void HttpConnection::take_input(const char* data, size_t size) {
  if (paused_) {
    backlog().stash.append(data, size);
    return;
  }
  parse(data, size);
}

void HttpConnection::read_tls(std::string_view ciphertext) {
  const bool shaking_hands = !tls_->handshake_done();
  tls::TlsStream::Status status = tls_->read(ciphertext, tls_io());
  if (state_ != State::Open) return;
  if (shaking_hands && tls_->handshake_done()) settle();  // from the handshake's timeout to the idle one
  if (status == tls::TlsStream::Status::Closed) {
    on_peer_eof();
  } else if (status == tls::TlsStream::Status::Failed) {
    if (tls_->peer_spoke_plain_http()) {
      // An http:// client on an https:// port: tell it so, in its language.
      tls_.reset();
      fail(400, "tls_required", "this port speaks TLS: use https://");
      return;
    }
    LOG_DEBUG("tls: closing a connection: %s", tls_->error().c_str());
    close();
  }
}

void HttpConnection::tls_send(void* owner, std::string_view ciphertext) {
  static_cast<HttpConnection*>(owner)->write_raw(ciphertext);
}

bool HttpConnection::tls_deliver(void* owner, std::string_view plaintext) {
  auto* c = static_cast<HttpConnection*>(owner);
  c->take_input(plaintext.data(), plaintext.size());
  return c->state_ == State::Open && !(c->stop_parsing_ && !c->request_);
}

void HttpConnection::parse(const char* data, size_t size) {
  if (request_) request_->mark = data;  // the request began in an earlier read
  in_parse_ = true;
  llhttp_errno_t err = llhttp_execute(&parser_, data, size);
  in_parse_ = false;
  if (state_ != State::Open) return;
  if (err == HPE_OK) {
    // What llhttp skipped without a callback (whitespace) still counts, and
    // is refused now rather than once the line it belongs to ends.
    if (request_ && request_->in_header_block) count_header_rest(data + size);
    return;
  }
  if (err == HPE_PAUSED) {
    if (stop_parsing_) return;  // nothing after this request will be read
    // In-flight or queued-bytes limit reached: keep the rest for later and
    // stop reading until answers leave (deliver, on_write).
    const char* pos = llhttp_get_error_pos(&parser_);
    size_t used = pos ? static_cast<size_t>(pos - data) : size;
    backlog().stash.assign(data + used, size - used);
    paused_ = true;
    if (reading_) {
      uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
      reading_ = false;
    }
    resume_if_possible();  // answers may all have been given synchronously
    return;
  }
  if (err == HPE_PAUSED_UPGRADE) {
    // An Upgrade or CONNECT request was answered like any other (the relay
    // upgrades nothing); what follows it is the next request.
    const char* pos = llhttp_get_error_pos(&parser_);
    llhttp_resume_after_upgrade(&parser_);
    if (stop_parsing_ || !pos) return;
    parse(pos, size - static_cast<size_t>(pos - data));
    return;
  }
  if (stop_parsing_) return;  // a callback already answered (413, 431)
  fail(400, "bad_request", llhttp_get_error_reason(&parser_) ? llhttp_get_error_reason(&parser_)
                                                               : "malformed HTTP request");
}

bool HttpConnection::over_limits() const {
  const HttpLimits& limits = listener_.limits();
  if (next_slot_ - write_slot_ >= limits.max_in_flight) return true;
  size_t queued = uv_stream_get_write_queue_size(reinterpret_cast<const uv_stream_t*>(&tcp_));
  if (backlog_) {
    for (const Ready& r : backlog_->ready) queued += r.bytes.size();
  }
  return queued > limits.max_queued_bytes;
}

void HttpConnection::resume_if_possible() {
  if (!paused_ || in_parse_ || stop_parsing_ || state_ != State::Open) return;
  if (over_limits()) return;
  paused_ = false;
  llhttp_resume(&parser_);
  std::string input = backlog_ ? std::exchange(backlog_->stash, {}) : std::string();
  trim_backlog();
  parse(input.data(), input.size());
  if (state_ == State::Open && !paused_ && !reading_) {
    reading_ = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_),
                             [](uv_handle_t*, size_t, uv_buf_t* buf) { *buf = lend_read_buffer(); },
                             &HttpConnection::on_read) == 0;
  }
}

// Every span of the header block (method, target, version, names, values)
// counts the bytes from the mark to its end: the spaces, colons and line ends
// between spans included. Only the line ends after the last span (at most
// four bytes) are not counted.
int HttpConnection::count_header(const char* at, size_t len) {
  Incoming& r = *request_;
  if (!r.mark) r.mark = at;  // the request's first byte
  r.header_bytes += static_cast<size_t>(at + len - r.mark);
  r.mark = at + len;
  if (r.header_bytes > listener_.limits().max_header_bytes) {
    fail(431, "headers_too_large", "the request line and headers exceed the limit");
    return -1;
  }
  return 0;
}

// The rest of a read that ended inside the header block.
void HttpConnection::count_header_rest(const char* end) {
  Incoming& r = *request_;
  if (!r.mark) return;
  r.header_bytes += static_cast<size_t>(end - r.mark);
  r.mark = end;
  if (r.header_bytes > listener_.limits().max_header_bytes) {
    fail(431, "headers_too_large", "the request line and headers exceed the limit");
  }
}

int HttpConnection::on_message_begin(llhttp_t* p) {
  HttpConnection* c = self(p);
  c->request_ = c->listener_.take_request();
  c->current_slot_ = c->next_slot_++;
  c->listener_.receiving_.enter(&c->timeout_, uv_now(c->listener_.loop()));
  c->skip_dispatch_ = false;
  return 0;
}

int HttpConnection::on_method(llhttp_t* p, const char* at, size_t len) {
  return self(p)->count_header(at, len);
}

int HttpConnection::on_url(llhttp_t* p, const char* at, size_t len) {
  HttpConnection* c = self(p);
  if (c->count_header(at, len) != 0) return -1;
  c->request_->target.append(at, len);
  return 0;
}

int HttpConnection::on_version(llhttp_t* p, const char* at, size_t len) {
  return self(p)->count_header(at, len);
}

int HttpConnection::on_header_field(llhttp_t* p, const char* at, size_t len) {
  HttpConnection* c = self(p);
  if (c->count_header(at, len) != 0) return -1;
  c->request_->header_name.append(at, len);
  return 0;
}

int HttpConnection::on_header_value(llhttp_t* p, const char* at, size_t len) {
  HttpConnection* c = self(p);
  if (c->count_header(at, len) != 0) return -1;
  Incoming& r = *c->request_;
  if (!r.header_name.empty()) {
    // First piece of this value: classify the name once.
    if (iequals(r.header_name, "authorization")) {
      r.header_state = kAuthorization;
      r.has_authorization = true;
      r.authorization.clear();
    } else if (iequals(r.header_name, "expect")) {
      r.header_state = kExpect;
    } else if (iequals(r.header_name, "if-none-match")) {
      r.header_state = kIfNoneMatch;
      r.if_none_match.clear();
    } else if (iequals(r.header_name, "accept-encoding")) {
      // A list header: a second field adds to the first (RFC 9110 5.3).
      r.header_state = kAcceptEncoding;
      if (!r.accept_encoding.empty()) r.accept_encoding.append(", ");
    } else {
      r.header_state = kOther;
    }
    r.header_name.clear();
  }
  if (r.header_state == kAuthorization) r.authorization.append(at, len);
  if (r.header_state == kExpect) r.expect.append(at, len);
  if (r.header_state == kIfNoneMatch) r.if_none_match.append(at, len);
  if (r.header_state == kAcceptEncoding) r.accept_encoding.append(at, len);
  return 0;
}

int HttpConnection::on_header_value_complete(llhttp_t* p) {
  HttpConnection* c = self(p);
  Incoming& r = *c->request_;
  if (++r.header_fields > c->listener_.limits().max_headers) {
    c->fail(431, "headers_too_large", "the request has more header fields than the limit");
    return -1;
  }
  if (!r.header_name.empty()) {  // a header with an empty value
    if (iequals(r.header_name, "authorization")) {
      r.has_authorization = true;
      r.authorization.clear();
    }
    r.header_name.clear();
  }
  if (r.header_state == kExpect) {
    r.expect_continue = iequals(trim(r.expect), "100-continue");
    r.expect.clear();
  }
  r.header_state = kOther;
  return 0;
}

int HttpConnection::on_headers_complete(llhttp_t* p) {
  HttpConnection* c = self(p);
  Incoming& r = *c->request_;
  r.in_header_block = false;
  r.method = method_of(p->method);
  bool http10 = p->http_major == 1 && p->http_minor == 0;
  r.keep_alive = llhttp_should_keep_alive(p) != 0 && !http10;
  r.has_content_length = (p->flags & F_CONTENT_LENGTH) != 0;
  r.content_length = r.has_content_length ? p->content_length : 0;
  r.has_body = (p->flags & F_CHUNKED) != 0 || ((p->flags & F_CONTENT_LENGTH) != 0 && p->content_length > 0);
  uint32_t slot = c->current_slot_;
  if (!r.keep_alive) {
    c->close_slot_ = slot;
    c->stop_parsing_ = true;  // takes effect once this message is complete
  }
  if (r.method == Method::Head) c->backlog().head_slots.push_back(slot);
  std::optional<EarlyResponse> early;
  if (!guarded("http: service on_headers", [&] { early = c->listener_.service().on_headers(*c, r); })) {
    early = EarlyResponse{500, error_body("internal_error", "the server failed to handle the request"), {}};
  }
  if (c->state_ != State::Open) return HPE_PAUSED;
  if (early) {
    // deliver() may start the close, which frees the request: copy first.
    const bool has_body = r.has_body;
    c->skip_dispatch_ = true;
    if (has_body) {
      c->close_slot_ = slot;
      c->stop_parsing_ = true;
    }
    c->respond(slot, early->status, kJsonType, early->body, early->extra_headers);
    return has_body ? HPE_PAUSED : 0;
  }
  if (r.expect_continue && r.has_body) {
    if (c->write_slot_ == slot) {
      c->write_bytes(kContinue);
    } else {
      c->backlog().continue_slot = slot;  // a pipelining client: the backlog exists or is due
    }
  }
  return 0;
}

int HttpConnection::on_chunk_header(llhttp_t* p) {
  // The last chunk (size 0): trailers may follow, counted as header lines.
  if (p->content_length == 0) self(p)->request_->in_header_block = true;
  return 0;
}

int HttpConnection::on_body(llhttp_t* p, const char* at, size_t len) {
  HttpConnection* c = self(p);
  Incoming& r = *c->request_;
  if (r.body.size() + len > c->listener_.limits().max_body_bytes) {
    c->fail(413, "too_large", "the request body exceeds the limit");
    return -1;
  }
  r.body.append(at, len);
  r.mark = at + len;  // trailers are counted from the body's end
  return 0;
}

int HttpConnection::on_message_complete(llhttp_t* p) {
  HttpConnection* c = self(p);
  std::unique_ptr<Incoming> req = std::move(c->request_);
  uint32_t slot = c->current_slot_;
  TimeoutQueue::leave(&c->timeout_);
  if (c->backlog_ && c->backlog_->continue_slot == slot) {
    c->backlog_->continue_slot = kNoSlot;  // the body came without it
    c->trim_backlog();
  }
  if (!c->skip_dispatch_ &&
      !guarded("http: service on_request", [&] { c->listener_.service().on_request(*c, *req, slot); })) {
    // Whatever the service did not answer gets a 500, then the connection
    // closes: it is no longer known what this request left behind.
    c->close_slot_ = slot;
    c->stop_parsing_ = true;
    c->respond_error(slot, 500, "internal_error", "the server failed to handle the request");
  }
  c->listener_.recycle_request(std::move(req));
  c->skip_dispatch_ = false;
  c->settle();
  if (c->state_ != State::Open || c->stop_parsing_) return HPE_PAUSED;
  if (c->over_limits()) return HPE_PAUSED;
  return 0;
}

void HttpConnection::fail(uint16_t status, std::string_view code, std::string_view message) {
  if (state_ != State::Open) return;
  if (tls_ && !tls_->handshake_done()) {
    close();  // a handshake that did not finish in time: there is no one to answer
    return;
  }
  uint32_t slot = request_ ? current_slot_ : next_slot_++;
  guarded("http: service on_refused", [&] { listener_.service().on_refused(request_.get(), status); });
  request_.reset();
  close_slot_ = slot;
  stop_parsing_ = true;
  skip_dispatch_ = true;
  respond_error(slot, status, code, message);
}

// ---- answering -----------------------------------------------------------

void HttpConnection::respond(uint32_t slot, uint16_t status, std::string_view content_type,
                             std::string_view body, std::string_view extra_headers) {
  if (state_ != State::Open) return;
  if (status >= 400) log_refusal(&tcp_, status, body);
  KeptBuffer& kept = listener_.answer_buffer_;
  std::string bytes = kept.take();
  bytes.reserve(160 + body.size() + extra_headers.size());
  append_response(bytes, status, content_type, body, extra_headers, slot == close_slot_);
  // The answer to HEAD is the answer to GET without its body (Content-Length
  // still says how long the body would be).
  if (answers_head(slot)) bytes.resize(bytes.size() - body.size());
  deliver(slot, bytes);
  kept.give_back(std::move(bytes));
}

HttpConnection::Backlog& HttpConnection::backlog() {
  if (!backlog_) backlog_ = std::make_unique<Backlog>();
  return *backlog_;
}

void HttpConnection::trim_backlog() {
  if (backlog_ && backlog_->ready.empty() && backlog_->head_slots.empty() && backlog_->stash.empty() &&
      backlog_->continue_slot == kNoSlot) {
    backlog_.reset();
  }
}

bool HttpConnection::answers_head(uint32_t slot) {
  if (!backlog_) return false;
  std::vector<uint32_t>& heads = backlog_->head_slots;
  for (size_t i = 0; i < heads.size(); ++i) {
    if (heads[i] == slot) {
      heads[i] = heads.back();
      heads.pop_back();
      trim_backlog();
      return true;
    }
  }
  return false;
}

void HttpConnection::respond_error(uint32_t slot, uint16_t status, std::string_view code,
                                   std::string_view message, std::string_view extra_headers) {
  respond(slot, status, kJsonType, error_body(code, message), extra_headers);
}

void HttpConnection::deliver(uint32_t slot, std::string_view bytes) {
  if (slot != write_slot_) {
    backlog().ready.push_back(Ready{slot, std::string(bytes)});
    return;
  }
  std::string held;  // an answer taken from the backlog while it is written
  while (true) {
    write_bytes(bytes);
    uint32_t written = write_slot_++;
    if (state_ != State::Open) return;
    if (written == close_slot_) {
      begin_linger();
      return;
    }
    if (!backlog_) break;
    std::vector<Ready>& ready = backlog_->ready;
    auto next = ready.end();
    for (auto it = ready.begin(); it != ready.end(); ++it) {
      if (it->slot == write_slot_) {
        next = it;
        break;
      }
    }
    if (next == ready.end()) break;
    held = std::move(next->bytes);
    bytes = held;
    ready.erase(next);
  }
  if (backlog_ && backlog_->continue_slot == write_slot_) {
    // The request being received is now first in line: it may send its body.
    backlog_->continue_slot = kNoSlot;
    write_bytes(kContinue);
  }
  trim_backlog();
  settle();
  resume_if_possible();
}

void HttpConnection::settle() {
  if (state_ != State::Open || request_ || next_slot_ != write_slot_) return;
  listener_.idle_.enter(&timeout_, uv_now(listener_.loop()));
}

void HttpConnection::write_bytes(std::string_view bytes) {
  if (state_ >= State::Closed || bytes.empty()) return;
  if (tls_) {
    if (!tls_->write(bytes, tls_io()) && state_ < State::Closed) close();
    return;
  }
  write_raw(bytes);
}

void HttpConnection::write_raw(std::string_view bytes) {
  if (state_ >= State::Closed || bytes.empty()) return;
  auto* stream = reinterpret_cast<uv_stream_t*>(&tcp_);
  size_t offset = 0;
  if (writes_pending_ == 0) {
    uv_buf_t buf = uv_buf_init(const_cast<char*>(bytes.data()), static_cast<unsigned>(bytes.size()));
    int n = uv_try_write(stream, &buf, 1);
    if (n == static_cast<int>(bytes.size())) return;
    if (n >= 0) {
      offset = static_cast<size_t>(n);
    } else if (n != UV_EAGAIN) {
      close();
      return;
    }
  }
  auto* w = new WriteRequest;
  w->bytes.assign(bytes.substr(offset));  // what the socket did not take now
  uv_buf_t buf = uv_buf_init(w->bytes.data(), static_cast<unsigned>(w->bytes.size()));
  if (uv_write(&w->req, stream, &buf, 1, &HttpConnection::on_write) != 0) {
    delete w;
    close();
    return;
  }
  ++writes_pending_;
}

void HttpConnection::on_write(uv_write_t* req, int status) {
  auto* w = reinterpret_cast<WriteRequest*>(req);
  auto* c = static_cast<HttpConnection*>(req->handle->data);
  delete w;
  --c->writes_pending_;
  if (status < 0) {
    c->close();
    return;
  }
  if (c->state_ == State::Lingering) {
    if (c->writes_pending_ == 0) c->after_writes();
    return;
  }
  c->resume_if_possible();  // paused while too many answer bytes were queued
}

// ---- closing -------------------------------------------------------------

void HttpConnection::begin_linger() {
  if (state_ != State::Open) return;
  state_ = State::Lingering;
  guarded("http: service on_close", [&] { listener_.service().on_close(*this); });
  request_.reset();
  backlog_.reset();
  // The linger timeout runs from the FIN (after_writes). Until the last answer
  // has left, a slow reader is bounded by the idle timeout, as on an open
  // connection: a large answer is not cut off after the short linger.
  listener_.idle_.enter(&timeout_, uv_now(listener_.loop()));
  if (!reading_ && !peer_done_) {
    reading_ = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_),
                             [](uv_handle_t*, size_t, uv_buf_t* buf) { *buf = lend_read_buffer(); },
                             &HttpConnection::on_read) == 0;
  }
  if (writes_pending_ == 0) after_writes();
}

void HttpConnection::after_writes() {
  // Everything owed has been handed to the kernel: send FIN and wait for the
  // peer's EOF (on_read closes) or the listener's linger timeout; if that EOF
  // came already, close now.
  if (peer_done_) {
    close();
    return;
  }
  if (fin_sent_) return;  // close_notify's own write finished
  fin_sent_ = true;
  if (tls_) {
    tls_->shutdown(tls_io());
    if (state_ >= State::Closed) return;
  }
  listener_.lingering_.enter(&timeout_, uv_now(listener_.loop()));
  auto* req = new uv_shutdown_t;
  if (uv_shutdown(req, reinterpret_cast<uv_stream_t*>(&tcp_), &HttpConnection::on_shutdown) != 0) {
    delete req;
    close();
  }
}

void HttpConnection::on_shutdown(uv_shutdown_t* req, int status) {
  auto* c = static_cast<HttpConnection*>(req->handle->data);
  delete req;
  if (status < 0 && c->state_ < State::Closed) c->close();
}

void HttpConnection::close() {
  if (state_ >= State::Closed) return;
  if (state_ == State::Open) guarded("http: service on_close", [&] { listener_.service().on_close(*this); });
  TimeoutQueue::leave(&timeout_);
  state_ = State::Closed;
  request_.reset();
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &HttpConnection::on_closed);
}

void HttpConnection::on_closed(uv_handle_t* handle) {
  auto* c = static_cast<HttpConnection*>(handle->data);
  if (c->state_ != State::Orphaned) c->listener_.forget(c);
  delete c;
}

}  // namespace sprites::http
