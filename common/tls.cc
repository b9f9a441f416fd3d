// See tls.h. The BIO below is the whole trick: its read hands OpenSSL the
// bytes of the read being fed (a span the stream points at only during
// read()), and its write appends to one buffer per thread that flush() hands
// to the connection after every OpenSSL call. OpenSSL's error queue is per
// thread and shared by every connection, so it is cleared before each call
// (SSL_get_error reads it) and after a failure has been put into words.
#include "common/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>

#include <cstring>
#include <ctime>

#include "common/key_file.h"

namespace sprites::tls {
namespace {

// One stream's feed: where the BIO reads from while read() runs.
struct Feed {
  const char* data = nullptr;
  size_t size = 0;
};

thread_local std::string t_out;          // ciphertext made by the current OpenSSL call
thread_local char t_plain[16 * 1024];    // one record's plaintext at a time

int bio_write(BIO* bio, const char* data, int size) {
  (void)bio;
  if (size <= 0) return 0;
  t_out.append(data, static_cast<size_t>(size));
  return size;
}

int bio_read(BIO* bio, char* data, int size) {
  BIO_clear_retry_flags(bio);
  auto* feed = static_cast<Feed*>(BIO_get_data(bio));
  if (!feed || feed->size == 0 || size <= 0) {
    BIO_set_retry_read(bio);  // not EOF: the socket may bring more
    return -1;
  }
  size_t n = feed->size < static_cast<size_t>(size) ? feed->size : static_cast<size_t>(size);
  std::memcpy(data, feed->data, n);
  feed->data += n;
  feed->size -= n;
  return static_cast<int>(n);
}

long bio_ctrl(BIO* bio, int cmd, long num, void* ptr) {
  (void)bio;
  (void)num;
  (void)ptr;
  switch (cmd) {
    case BIO_CTRL_FLUSH:
    case BIO_CTRL_DUP:
      return 1;
    default:
      return 0;
  }
}

int bio_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

const BIO_METHOD* relay_bio_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sprites socket");
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);
    return m;
  }();
  return method;
}

// A key file must not ask for a passphrase: there is nobody to type it, and
// OpenSSL's default would read the terminal and hang the start.
int no_passphrase(char*, int, int, void*) { return -1; }

std::string openssl_reason(std::string_view fallback) {
  unsigned long code = ERR_peek_error();  // the first: the cause, where the last says which layer gave up
  ERR_clear_error();
  if (code == 0) return std::string(fallback);
  // A file that does not open is a system error, which OpenSSL 3 has no
  // reason string for: errno's text says it ("No such file or directory").
  if (ERR_GET_LIB(code) == ERR_LIB_SYS) return std::strerror(ERR_GET_REASON(code));
  const char* reason = ERR_reason_error_string(code);
  return reason ? reason : std::string(fallback);
}

int64_t not_after_of(X509* cert) {
  if (!cert) return 0;
  struct tm tm {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

SSL_CTX* new_context(const SSL_METHOD* method) {
  SSL_CTX* ctx = SSL_CTX_new(method);
  if (!ctx) return nullptr;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // Idle connections give their record buffers back (tls.h).
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
  return ctx;
}

}  // namespace

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

std::shared_ptr<TlsContext> TlsContext::server(const std::string& cert_path, const std::string& key_path,
                                               std::string& why) {
  ERR_clear_error();
  SSL_CTX* ctx = new_context(TLS_server_method());
  if (!ctx) {
    why = "cannot create a TLS context: " + openssl_reason("out of memory");
    return nullptr;
  }
  std::shared_ptr<TlsContext> context(new TlsContext(ctx, true));
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  // No per-session state on the server: one stateless ticket per handshake
  // lets a reconnecting client resume.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 1);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_path.c_str()) != 1) {
    why = "the certificate file " + cert_path + " does not load as a PEM certificate chain: " +
          openssl_reason("unreadable");
    return nullptr;
  }
  std::string pem;
  if (std::string bad = read_key_file(key_path, pem); !bad.empty()) {
    why = bad;
    return nullptr;
  }
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio, nullptr, no_passphrase, nullptr) : nullptr;
  BIO_free(bio);
  OPENSSL_cleanse(pem.data(), pem.size());
  if (!key) {
    why = "the key file " + key_path + " does not hold an unencrypted PEM private key: " +
          openssl_reason("unreadable");
    return nullptr;
  }
  int used = SSL_CTX_use_PrivateKey(ctx, key);
  EVP_PKEY_free(key);
  if (used != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    why = "the key in " + key_path + " does not belong to the certificate in " + cert_path + ": " +
          openssl_reason("mismatch");
    return nullptr;
  }
  context->not_after_ = not_after_of(SSL_CTX_get0_certificate(ctx));
  return context;
}

std::shared_ptr<TlsContext> TlsContext::client(const std::string& ca_path, std::string& why) {
  ERR_clear_error();
  SSL_CTX* ctx = new_context(TLS_client_method());
  if (!ctx) {
    why = "cannot create a TLS context: " + openssl_reason("out of memory");
    return nullptr;
  }
  std::shared_ptr<TlsContext> context(new TlsContext(ctx, false));
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (!ca_path.empty()) {
    if (SSL_CTX_load_verify_file(ctx, ca_path.c_str()) != 1) {
      why = "the CA file " + ca_path + " does not load as PEM certificates: " + openssl_reason("unreadable");
      return nullptr;
    }
  } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
    why = "the system's trust store does not load: " + openssl_reason("unreadable");
    return nullptr;
  }
  return context;
}

// ---- one connection --------------------------------------------------------

TlsStream::TlsStream(const TlsContext& context, std::string_view host) {
  ERR_clear_error();
  ssl_ = SSL_new(context.get());
  if (!ssl_) {
    error_ = "cannot create a TLS connection: " + openssl_reason("out of memory");
    failed_ = true;
    return;
  }
  BIO* bio = BIO_new(relay_bio_method());
  if (!bio) {
    error_ = "cannot create a TLS connection: " + openssl_reason("out of memory");
    failed_ = true;
    return;
  }
  SSL_set_bio(ssl_, bio, bio);
  if (context.is_server()) {
    SSL_set_accept_state(ssl_);
    return;
  }
  SSL_set_connect_state(ssl_);
  expect_server(ssl_, std::string(host));
}

void expect_server(SSL* ssl, const std::string& host) {
  unsigned char ip[16];
  bool literal = inet_pton(AF_INET, host.c_str(), ip) == 1 || inet_pton(AF_INET6, host.c_str(), ip) == 1;
  if (literal) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
  } else if (!host.empty()) {
    // SSL_set_tlsext_host_name, without the macro's C cast.
    SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(host.c_str()));
    SSL_set1_host(ssl, host.c_str());
  }
}

TlsStream::~TlsStream() { SSL_free(ssl_); }

bool TlsStream::handshake_done() const { return ssl_ && !failed_ && SSL_is_init_finished(ssl_); }

void TlsStream::flush(const TlsIo& io) {
  if (t_out.empty()) return;
  // send() writes to the socket and never calls back into OpenSSL, so the
  // buffer is empty again before the next call on any stream.
  io.send(io.owner, t_out);
  t_out.clear();
}

void TlsStream::note_error(int ssl_error) {
  failed_ = true;
  std::string reason;
  if (ssl_error == SSL_ERROR_SSL) {
    unsigned long code = ERR_peek_last_error();
    plain_http_ = ERR_GET_LIB(code) == ERR_LIB_SSL && ERR_GET_REASON(code) == SSL_R_HTTP_REQUEST;
    reason = openssl_reason("TLS error");
  } else {
    ERR_clear_error();
    reason = "TLS error " + std::to_string(ssl_error);
  }
  long verified = SSL_get_verify_result(ssl_);
  if (verified != X509_V_OK) {
    reason += std::string(" (") + X509_verify_cert_error_string(verified) + ")";
  }
  error_ = std::move(reason);
}

void TlsStream::start(const TlsIo& io) {
  if (failed_) return;
  ERR_clear_error();
  int r = SSL_do_handshake(ssl_);
  flush(io);
  if (r <= 0) {
    int e = SSL_get_error(ssl_, r);
    if (e != SSL_ERROR_WANT_READ) note_error(e);
  }
}

TlsStream::Status TlsStream::read(std::string_view ciphertext, const TlsIo& io) {
  if (failed_) return Status::Failed;
  Feed feed{ciphertext.data(), ciphertext.size()};
  BIO_set_data(SSL_get_rbio(ssl_), &feed);
  Status status = pump(io);
  BIO_set_data(SSL_get_rbio(ssl_), nullptr);
  return status;
}

TlsStream::Status TlsStream::pump(const TlsIo& io) {
  for (;;) {
    ERR_clear_error();
    size_t got = 0;
    int r = SSL_read_ex(ssl_, t_plain, sizeof t_plain, &got);
    flush(io);  // handshake messages, alerts, tickets: in the order they were made
    if (r == 1) {
      if (!io.deliver(io.owner, std::string_view(t_plain, got))) return Status::Open;
      continue;
    }
    int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_READ) return Status::Open;
    if (e == SSL_ERROR_ZERO_RETURN) {
      ERR_clear_error();
      return Status::Closed;
    }
    note_error(e);
    return Status::Failed;
  }
}

bool TlsStream::write(std::string_view plaintext, const TlsIo& io) {
  if (failed_ || !SSL_is_init_finished(ssl_)) return false;
  while (!plaintext.empty()) {
    ERR_clear_error();
    size_t written = 0;
    int r = SSL_write_ex(ssl_, plaintext.data(), plaintext.size(), &written);
    flush(io);
    if (r != 1) {
      note_error(SSL_get_error(ssl_, r));
      return false;
    }
    plaintext.remove_prefix(written);
  }
  return true;
}

void TlsStream::shutdown(const TlsIo& io) {
  if (failed_ || shut_ || !SSL_is_init_finished(ssl_)) return;
  shut_ = true;
  ERR_clear_error();
  SSL_shutdown(ssl_);
  ERR_clear_error();
  flush(io);
}

}  // namespace sprites::tls
