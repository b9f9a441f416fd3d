// The blocking test client: see http_client.h for what it covers and why.
//
// Reads go through one buffer per connection, so a pipelined answer that
// arrives in the same segment as the previous one is kept for the next
// read_response(). A connection reset counts as a close by the peer: a server
// that closes with unread request bytes in its socket makes the kernel send RST
// instead of FIN, and a test cannot (and need not) tell the two apart.
#include "support/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace sprites::test {
namespace {

std::runtime_error io_error(std::string_view what, int error) {
  return std::runtime_error(std::string(what) + ": " + std::strerror(error));
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return std::string(s);
}

bool contains_token(std::string_view list, std::string_view token) {
  std::size_t start = 0;
  while (start <= list.size()) {
    std::size_t end = list.find(',', start);
    if (end == std::string_view::npos) end = list.size();
    if (iequals(trim(list.substr(start, end - start)), token)) return true;
    start = end + 1;
  }
  return false;
}

bool frames_body(const HeaderList& headers) {
  return std::any_of(headers.begin(), headers.end(), [](const auto& h) {
    return iequals(h.first, "Content-Length") || iequals(h.first, "Transfer-Encoding");
  });
}

// `source`: the IPv4 address to bind the client side to (port 0), or empty
// for the one the kernel picks.
int open_socket(std::uint16_t port, int* connect_errno, const std::string& source = {}) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw io_error("socket", errno);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (!source.empty()) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    if (::inet_pton(AF_INET, source.c_str(), &local.sin_addr) != 1) {
      ::close(fd);
      throw std::runtime_error("not an IPv4 address: " + source);
    }
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) {
      const int error = errno;
      ::close(fd);
      throw io_error("bind to " + source, error);
    }
  }
  timeval guard{};
  guard.tv_sec = kIoGuard.count();
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof guard);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &guard, sizeof guard);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    *connect_errno = errno;
    ::close(fd);
    return -1;
  }
  *connect_errno = 0;
  return fd;
}

}  // namespace

// ---- Headers ----------------------------------------------------------------

void Headers::add(std::string name, std::string value) { fields_.emplace_back(std::move(name), std::move(value)); }

std::optional<std::string> Headers::get(std::string_view name) const {
  for (const auto& [key, value] : fields_) {
    if (iequals(key, name)) return value;
  }
  return std::nullopt;
}

std::size_t Headers::count(std::string_view name) const {
  return static_cast<std::size_t>(
      std::count_if(fields_.begin(), fields_.end(), [&](const auto& f) { return iequals(f.first, name); }));
}

// ---- Response ---------------------------------------------------------------

std::string Response::header(std::string_view name) const { return headers.get(name).value_or(""); }

Json Response::json() const {
  try {
    return Json::parse(body);
  } catch (const Json::exception& e) {
    throw std::runtime_error("response body is not JSON (" + std::string(e.what()) + "): " + summary());
  }
}

OrderedJson Response::ordered_json() const {
  try {
    return OrderedJson::parse(body);
  } catch (const OrderedJson::exception& e) {
    throw std::runtime_error("response body is not JSON (" + std::string(e.what()) + "): " + summary());
  }
}

std::string Response::outcome() const {
  std::string out = std::to_string(status);
  if (status >= 400) {
    Json parsed = Json::parse(body, nullptr, false);
    if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_string()) {
      out += " " + parsed["error"].get<std::string>();
    } else {
      out += " <no JSON error>";
    }
  }
  return out;
}

std::string Response::summary() const {
  std::string out = version + " " + std::to_string(status) + " " + reason;
  out += " body(" + std::to_string(body.size()) + "): ";
  out += body.substr(0, 400);
  if (body.size() > 400) out += "...";
  return out;
}

// ---- Connection ---------------------------------------------------------------

Connection::Connection(std::uint16_t port) : port_(port) {
  int error = 0;
  fd_ = open_socket(port, &error);
  if (fd_ < 0) throw io_error("connect to 127.0.0.1:" + std::to_string(port), error);
}

Connection::Connection(std::uint16_t port, const std::string& source) : port_(port) {
  int error = 0;
  fd_ = open_socket(port, &error, source);
  if (fd_ < 0) throw io_error("connect from " + source + " to 127.0.0.1:" + std::to_string(port), error);
}

Connection::~Connection() { close(); }

Connection::Connection(Connection&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      port_(other.port_),
      buffer_(std::move(other.buffer_)),
      eof_(other.eof_),
      tls_context_(std::move(other.tls_context_)),
      tls_(std::exchange(other.tls_, nullptr)),
      tls_clean_close_(other.tls_clean_close_) {}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    port_ = other.port_;
    buffer_ = std::move(other.buffer_);
    eof_ = other.eof_;
    tls_context_ = std::move(other.tls_context_);
    tls_ = std::exchange(other.tls_, nullptr);
    tls_clean_close_ = other.tls_clean_close_;
  }
  return *this;
}

void Connection::close() {
  SSL_free(std::exchange(tls_, nullptr));
  tls_context_.reset();
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

namespace {

std::string tls_failure(SSL* ssl, const char* what) {
  std::string reason = what;
  unsigned long code = ERR_get_error();
  if (code != 0) {
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    reason += std::string(": ") + text;
  }
  ERR_clear_error();
  if (ssl && SSL_get_verify_result(ssl) != X509_V_OK) {
    reason += std::string(" (") + X509_verify_cert_error_string(SSL_get_verify_result(ssl)) + ")";
  }
  return reason;
}

}  // namespace

std::string Connection::try_start_tls(const std::string& ca_file, const std::string& host) {
  if (fd_ < 0 || tls_) return "not a plain open connection";
  std::string why;
  tls_context_ = tls::TlsContext::client(ca_file, why);
  if (!tls_context_) return why;
  ERR_clear_error();
  tls_ = SSL_new(tls_context_->get());
  SSL_set_fd(tls_, fd_);
  tls::expect_server(tls_, host);
  if (SSL_connect(tls_) != 1) return tls_failure(tls_, "TLS handshake");
  return {};
}

void Connection::start_tls(const std::string& ca_file, const std::string& host) {
  std::string why = try_start_tls(ca_file, host);
  if (!why.empty()) throw std::runtime_error(why);
}

std::string Connection::tls_version() const { return tls_ ? SSL_get_version(tls_) : ""; }

std::string Connection::peer_certificate_pem() const {
  if (!tls_) return {};
  X509* cert = SSL_get1_peer_certificate(tls_);
  if (!cert) return {};
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  X509_free(cert);
  return pem;
}

bool Connection::try_send_raw(std::string_view bytes) {
  if (fd_ < 0) return false;
  if (tls_) {
    while (!bytes.empty()) {
      ERR_clear_error();
      size_t written = 0;
      if (SSL_write_ex(tls_, bytes.data(), bytes.size(), &written) != 1) {
        if (SSL_get_error(tls_, 0) == SSL_ERROR_WANT_WRITE) throw std::runtime_error("send: timed out (guard)");
        ERR_clear_error();
        return false;
      }
      bytes.remove_prefix(written);
    }
    return true;
  }
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE || errno == ECONNRESET) return false;
      if (errno == EAGAIN || errno == EWOULDBLOCK) throw std::runtime_error("send: timed out (guard)");
      throw io_error("send", errno);
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void Connection::send_raw(std::string_view bytes) {
  if (!try_send_raw(bytes)) throw std::runtime_error("send: the peer closed the connection");
}

void Connection::send_request(std::string_view method, std::string_view target, const HeaderList& headers,
                              std::string_view body) {
  std::string out;
  out.reserve(256 + body.size());
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  bool has_host = std::any_of(headers.begin(), headers.end(), [](const auto& h) { return iequals(h.first, "Host"); });
  if (!has_host) out += "Host: 127.0.0.1:" + std::to_string(port_) + "\r\n";
  for (const auto& [name, value] : headers) out += name + ": " + value + "\r\n";
  if (!frames_body(headers) && (!body.empty() || method == "POST" || method == "PUT")) {
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  out += "\r\n";
  out.append(body);
  send_raw(out);
}

bool Connection::fill() {
  if (eof_ || fd_ < 0) return false;
  char chunk[65536];
  if (tls_) {
    ERR_clear_error();
    size_t got = 0;
    if (SSL_read_ex(tls_, chunk, sizeof chunk, &got) == 1) {
      buffer_.append(chunk, got);
      return true;
    }
    const int error = SSL_get_error(tls_, 0);
    if (error == SSL_ERROR_WANT_READ) {
      throw std::runtime_error("recv: no answer within " + std::to_string(kIoGuard.count()) + " s (guard)");
    }
    ERR_clear_error();
    tls_clean_close_ = error == SSL_ERROR_ZERO_RETURN;
    eof_ = true;  // close_notify, a FIN without it, or a reset
    return false;
  }
  for (;;) {
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) {
      buffer_.append(chunk, static_cast<std::size_t>(n));
      return true;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == ECONNRESET) {
      eof_ = true;
      return false;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      throw std::runtime_error("recv: no answer within " + std::to_string(kIoGuard.count()) + " s (guard)");
    }
    throw io_error("recv", errno);
  }
}

std::string Connection::read_line() {
  for (;;) {
    std::size_t end = buffer_.find("\r\n");
    if (end != std::string::npos) {
      std::string line = buffer_.substr(0, end);
      buffer_.erase(0, end + 2);
      return line;
    }
    if (buffer_.size() > 65536) throw std::runtime_error("response line longer than 64 KiB");
    if (!fill()) throw std::runtime_error("connection closed in the middle of a response line");
  }
}

std::string Connection::read_exact(std::size_t n) {
  while (buffer_.size() < n) {
    if (!fill()) throw std::runtime_error("connection closed in the middle of a response body");
  }
  std::string out = buffer_.substr(0, n);
  buffer_.erase(0, n);
  return out;
}

Response Connection::read_response(bool return_interim) {
  for (;;) {
    if (buffer_.empty() && !fill()) throw std::runtime_error("connection closed before a response");
    Response response;
    std::string status_line = read_line();
    // "HTTP/1.1 200 OK"
    std::size_t first = status_line.find(' ');
    if (first == std::string::npos || status_line.compare(0, 5, "HTTP/") != 0) {
      throw std::runtime_error("malformed status line: " + status_line);
    }
    response.version = status_line.substr(0, first);
    std::size_t second = status_line.find(' ', first + 1);
    std::string code = status_line.substr(first + 1, second == std::string::npos ? std::string::npos : second - first - 1);
    if (code.size() != 3 || !std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      throw std::runtime_error("malformed status line: " + status_line);
    }
    response.status = std::stoi(code);
    if (second != std::string::npos) response.reason = status_line.substr(second + 1);
    for (;;) {
      std::string line = read_line();
      if (line.empty()) break;
      std::size_t colon = line.find(':');
      if (colon == std::string::npos) throw std::runtime_error("malformed header line: " + line);
      response.headers.add(line.substr(0, colon), trim(std::string_view(line).substr(colon + 1)));
    }
    if (response.status >= 100 && response.status < 200) {
      if (return_interim) return response;
      continue;
    }
    if (response.status == 204 || response.status == 304) return response;
    if (auto te = response.headers.get("Transfer-Encoding"); te && contains_token(*te, "chunked")) {
      response.chunked = true;
      for (;;) {
        std::string size_line = read_line();
        std::size_t size = std::stoul(size_line.substr(0, size_line.find(';')), nullptr, 16);
        if (size == 0) {
          while (!read_line().empty()) {
          }
          break;
        }
        response.body += read_exact(size);
        if (!read_line().empty()) throw std::runtime_error("chunk not followed by CRLF");
      }
    } else if (auto length = response.headers.get("Content-Length")) {
      response.body = read_exact(std::stoul(*length));
    } else {
      while (fill()) {
      }
      response.body = std::move(buffer_);
      buffer_.clear();
    }
    return response;
  }
}

Response Connection::request(std::string_view method, std::string_view target, const HeaderList& headers,
                             std::string_view body) {
  send_request(method, target, headers, body);
  return read_response();
}

bool Connection::is_closed_by_peer(std::chrono::milliseconds guard) {
  if (!buffer_.empty()) return false;
  if (eof_ || fd_ < 0) return true;
  if (tls_ && SSL_pending(tls_) > 0) return false;
  pollfd p{fd_, POLLIN, 0};
  int rc;
  do {
    rc = ::poll(&p, 1, static_cast<int>(guard.count()));
  } while (rc < 0 && errno == EINTR);
  if (rc == 0) return false;
  try {
    return !fill();
  } catch (const std::runtime_error&) {
    return false;
  }
}

bool connection_refused(std::uint16_t port) {
  int error = 0;
  int fd = open_socket(port, &error);
  if (fd >= 0) {
    ::close(fd);
    return false;
  }
  return error == ECONNREFUSED;
}

// ---- The protocol ---------------------------------------------------------------

HeaderList bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

Response join_raw(std::uint16_t master_port, std::string_view body, const HeaderList& headers) {
  HeaderList all = headers;
  if (!body.empty()) all.emplace_back("Content-Type", "application/json");
  return Connection(master_port).request("POST", "/v1/nodes", all, body);
}

Node join(std::uint16_t master_port, const Json& body) {
  Response r = join_raw(master_port, body.dump());
  REQUIRE_STATUS(r, 201);
  Json j = r.json();
  REQUIRE(j.is_object());
  REQUIRE(j.contains("node"));
  REQUIRE(j.contains("token"));
  Node node;
  node.id = j["node"].get<std::string>();
  node.token = j["token"].get<std::string>();
  node.name = j.value("name", "");
  node.group = j.value("group", "");
  node.joined = std::move(j);
  return node;
}

Node join(std::uint16_t master_port, std::string_view group, std::string_view name) {
  return join(master_port, Json{{"group", group}, {"name", name}});
}

std::string events_target(const std::string& node, std::uint64_t after, std::uint64_t timeout_ms) {
  return "/v1/nodes/" + node + "/events?after=" + std::to_string(after) +
         "&timeout_ms=" + std::to_string(timeout_ms);
}

Response poll(std::uint16_t master_port, const Node& node, std::uint64_t after, std::uint64_t timeout_ms) {
  return Connection(master_port).request("GET", events_target(node.id, after, timeout_ms), bearer(node.token));
}

void send_poll(Connection& connection, const Node& node, std::uint64_t after, std::uint64_t timeout_ms) {
  connection.send_request("GET", events_target(node.id, after, timeout_ms), bearer(node.token));
}

Response node_info(std::uint16_t master_port, const Node& node) {
  return Connection(master_port).request("GET", "/v1/nodes/" + node.id, bearer(node.token));
}

Response leave(std::uint16_t master_port, const Node& node) {
  return Connection(master_port).request("DELETE", "/v1/nodes/" + node.id, bearer(node.token));
}

std::string throw_body(std::string_view direction, std::string_view sprite_json, const std::optional<std::string>& id) {
  std::string body = "{\"direction\":" + Json(direction).dump() + ",\"sprite\":";
  body.append(sprite_json);
  if (id) body += ",\"id\":" + Json(*id).dump();
  body += "}";
  return body;
}

Response throw_sprite(std::uint16_t worker_port, const std::string& node, const std::string& token,
                      std::string_view direction, std::string_view sprite_json, const std::optional<std::string>& id) {
  HeaderList headers = bearer(token);
  headers.emplace_back("Content-Type", "application/json");
  return Connection(worker_port)
      .request("POST", "/v1/nodes/" + node + "/sprites", headers, throw_body(direction, sprite_json, id));
}

Response throw_sprite(std::uint16_t worker_port, const Node& node, std::string_view direction,
                      std::string_view sprite_json, const std::optional<std::string>& id) {
  return throw_sprite(worker_port, node.id, node.token, direction, sprite_json, id);
}

Json stats(std::uint16_t master_port) {
  Response r = Connection(master_port).request("GET", "/v1/stats");
  REQUIRE_STATUS(r, 200);
  return r.json();
}

Json stats_when(std::uint16_t master_port, const std::function<bool(Json&)>& done,
                std::chrono::milliseconds guard) {
  auto deadline = std::chrono::steady_clock::now() + guard;
  Connection connection(master_port);
  for (;;) {
    Response r = connection.request("GET", "/v1/stats");
    REQUIRE_STATUS(r, 200);
    Json figures = r.json();
    bool ok = false;
    try {
      ok = done(figures);
    } catch (const Json::exception&) {
      ok = false;  // a missing field: the caller's assertions will say which
    }
    if (ok || std::chrono::steady_clock::now() >= deadline) return figures;
  }
}

void wait_until_polls_pending(std::uint16_t master_port, int count) {
  Json s = stats_when(master_port, [&](Json& j) { return j["polls_pending"] == count; });
  REQUIRE(s["polls_pending"] == count);
}

bool retry_until(const std::function<bool()>& attempt, std::chrono::milliseconds guard) {
  auto deadline = std::chrono::steady_clock::now() + guard;
  for (;;) {
    if (attempt()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// ---- Inbox ----------------------------------------------------------------------

Inbox::Inbox(std::uint16_t master_port, Node node) : port_(master_port), node_(std::move(node)) {}

std::vector<Json> Inbox::poll(std::uint64_t timeout_ms) {
  Response r = sprites::test::poll(port_, node_, cursor_, timeout_ms);
  REQUIRE_STATUS(r, 200);
  Json j = r.json();
  INFO(r.summary());
  REQUIRE(j["events"].is_array());
  REQUIRE(j["cursor"].is_number_unsigned());
  std::vector<Json> fresh;
  for (const Json& event : j["events"]) {
    REQUIRE(event.contains("seq"));
    REQUIRE(event.at("seq").is_number_unsigned());
    std::uint64_t seq = event.at("seq").get<std::uint64_t>();
    if (seq > highest_seq_) {
      highest_seq_ = seq;
      fresh.push_back(event);
    }
  }
  cursor_ = j["cursor"].get<std::uint64_t>();
  return fresh;
}

Json Inbox::wait_for(const std::function<bool(const Json&)>& match, std::chrono::milliseconds guard,
                     std::vector<Json>* skipped) {
  auto deadline = std::chrono::steady_clock::now() + guard;
  while (std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    // Never above the server's own maximum, which it may clamp or refuse.
    std::int64_t longest = node_.joined.value("poll_timeout_ms", std::int64_t{5000});
    std::uint64_t timeout =
        static_cast<std::uint64_t>(std::clamp<std::int64_t>(left.count(), 0, std::min<std::int64_t>(5000, longest)));
    for (Json& event : poll(timeout)) {
      if (match(event)) return event;
      if (skipped) skipped->push_back(std::move(event));
    }
  }
  FAIL("node " << node_.id << ": no matching event within " << guard.count() << " ms");
  return {};
}

std::vector<Json> Inbox::drain() {
  std::vector<Json> all;
  for (int round = 0; round < 1000; ++round) {
    std::vector<Json> fresh = poll(0);
    if (fresh.empty()) return all;
    all.insert(all.end(), fresh.begin(), fresh.end());
  }
  FAIL("node " << node_.id << ": mailbox never ran dry");
  return all;
}

void check_error(const Response& response, int status, std::string_view code) {
  INFO(response.summary());
  CHECK(response.status == status);
  CHECK(response.header("Content-Type").rfind("application/json", 0) == 0);
  Json body = Json::parse(response.body, nullptr, false);
  REQUIRE(body.is_object());
  CHECK(body.value("error", "") == code);
  REQUIRE(body.contains("message"));
  CHECK(body["message"].is_string());
  CHECK_FALSE(body.value("message", "").empty());
}

std::vector<Json> of_type(const std::vector<Json>& events, std::string_view type) {
  std::vector<Json> out;
  for (const Json& e : events) {
    if (e.value("type", "") == type) out.push_back(e);
  }
  return out;
}

}  // namespace sprites::test
