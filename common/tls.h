// TLS: OpenSSL on the relay's own libuv sockets, for the server ports (master,
// worker, admin) and for the client library's https:// connections.
//
// TlsContext is what every connection of a process shares: the certificate and
// key a server presents (loaded from PEM files, docs/API.md "TLS"), or the CA
// a client verifies against. TlsStream is one connection's TLS state.
//
// What it owns, and why it looks like this: a held long-poll is idle for most
// of its life, so an idle TLS connection must cost as little as an idle plain
// one plus the SSL object itself. The stream's BIO therefore has no buffer of
// its own (neither a memory BIO nor a BIO pair, which keep one or two buffers
// per connection): while the stream is fed a read, the BIO reads straight from
// the bytes libuv read into the process's one shared read buffer, and what
// OpenSSL writes lands in one buffer per thread that is handed to the
// connection's `send` (which writes it to the socket; only what the socket
// refuses is copied) at the end of every OpenSSL call, so records leave in the
// order they were made. Plaintext is decrypted into one buffer per thread and
// handed to `deliver` a record at a time. SSL_MODE_RELEASE_BUFFERS lets
// OpenSSL free its own record buffers while a connection is idle; the server
// keeps no session cache (one stateless TLS 1.3 ticket is issued for
// resumption instead), does not renegotiate, and takes TLS 1.2 or 1.3 only.
//
// Deliberately left out: client certificates, OCSP stapling, ALPN (the relay
// speaks HTTP/1.1 only), reloading in place on a live process except through
// reload() (the worker's SIGHUP); the master takes new files by its planned
// restart, which starts a new process.
//
// Dropped alternative: SSL_set_fd on the socket with OpenSSL doing the I/O. It
// fights libuv's ownership of the socket and its read buffers, and puts a
// socket-sized buffer per connection back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace sprites::tls {

class TlsContext {
 public:
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // A server context presenting the PEM certificate chain at `cert_path`
  // (leaf first) with the PEM private key at `key_path`. The key file is read
  // like every secret the relay reads (common/key_file.h: not open to other
  // users) and may not ask for a passphrase. nullptr and `why` (a sentence
  // naming the file, never the key) when they do not load or do not match.
  static std::shared_ptr<TlsContext> server(const std::string& cert_path, const std::string& key_path,
                                            std::string& why);
  // A client context that verifies servers against the PEM CA bundle at
  // `ca_path`, or the system's trust store when `ca_path` is empty.
  static std::shared_ptr<TlsContext> client(const std::string& ca_path, std::string& why);

  bool is_server() const { return server_; }
  SSL_CTX* get() const { return ctx_; }
  // The leaf certificate's notAfter, as seconds since the epoch (servers).
  int64_t not_after() const { return not_after_; }

 private:
  TlsContext(SSL_CTX* ctx, bool server) : ctx_(ctx), server_(server) {}
  SSL_CTX* ctx_;
  bool server_;
  int64_t not_after_ = 0;
};

// Where a stream's bytes go. `send` takes ciphertext for the socket;
// `deliver` takes plaintext and returns false to stop reading (the connection
// closed). `owner` is passed back to both.
struct TlsIo {
  void* owner;
  void (*send)(void* owner, std::string_view ciphertext);
  bool (*deliver)(void* owner, std::string_view plaintext);
};

// Makes the client connection `ssl` send `host` as SNI (when it is a name)
// and check the server's certificate against it (a name, or an IPv4 or IPv6
// literal). An empty host checks nothing but the chain.
void expect_server(SSL* ssl, const std::string& host);

class TlsStream {
 public:
  enum class Status : uint8_t {
    Open,     // more may come
    Closed,   // the peer sent close_notify: no more plaintext will come
    Failed,   // a handshake or record error: close the connection (see error())
  };

  // A server stream, or a client stream that sends `host` as SNI (when it is a
  // name) and checks the server's certificate against it (name or IP).
  TlsStream(const TlsContext& context, std::string_view host = {});
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // A client stream: sends the ClientHello.
  void start(const TlsIo& io);
  // Feeds one read's ciphertext. Every byte is taken: handshake records are
  // answered through io.send, application data goes to io.deliver.
  Status read(std::string_view ciphertext, const TlsIo& io);
  // Encrypts `plaintext` and hands the records to io.send. False when the
  // stream has failed or its handshake is not done (a client waits for
  // handshake_done() before it writes).
  bool write(std::string_view plaintext, const TlsIo& io);
  // Sends close_notify (once).
  void shutdown(const TlsIo& io);

  bool handshake_done() const;
  // Why the stream failed: OpenSSL's reason, with the certificate check's
  // result when that is what failed.
  const std::string& error() const { return error_; }
  // The failure was a plain HTTP request sent to this TLS server.
  bool peer_spoke_plain_http() const { return plain_http_; }

 private:
  Status pump(const TlsIo& io);
  void flush(const TlsIo& io);
  void note_error(int ssl_error);
  SSL* ssl_;
  std::string error_;
  bool failed_ = false;
  bool shut_ = false;
  bool plain_http_ = false;
};

}  // namespace sprites::tls
