// Fuzzes what a TLS port reads from a client before it has proved anything:
// the bytes fed to a server TlsStream (common/tls.h), as HttpConnection feeds
// them, one socket read at a time. Most of the parsing is OpenSSL's; what is
// ours, and checked here under ASan and UBSan, is the glue: the BIO that reads
// straight from the caller's bytes and writes into the per-thread output
// buffer, the read loop and its statuses, and the error paths (alerts, a
// plain HTTP request, failures in the middle of a read).
//
// The first byte picks the size of the reads (1 to 256 bytes), so records and
// handshake messages split across reads are explored; the rest is what the
// client sends. Checks: every status after Failed or Closed stays so, a
// failed stream says why, write() refuses before the handshake is done, and
// nothing is delivered before it is.
//
// Seeds: real ClientHellos (TLS 1.3 and 1.2 only, with and without SNI) made
// by a client TlsStream, written by this binary when SPRITES_FUZZ_WRITE_SEEDS
// names a directory, plus a plain HTTP request.
//
// The server's certificate and key are made once, in memory, and written to a
// private temporary directory that is removed once the contexts have read
// them.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "common/tls.h"

namespace {

using sprites::tls::TlsContext;
using sprites::tls::TlsIo;
using sprites::tls::TlsStream;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_tls_stream: %s\n", what);
  std::abort();
}

std::shared_ptr<TlsContext> make_server_context(std::string* ca_out) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  X509* cert = X509_new();
  if (!key || !cert) fail("cannot make a key");
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  if (X509_sign(cert, key, EVP_sha256()) == 0) fail("cannot sign the certificate");

  char dir[] = "/tmp/sprites-fuzz-tls-XXXXXX";
  if (!::mkdtemp(dir)) fail("mkdtemp");
  const std::string cert_path = std::string(dir) + "/cert.pem";
  const std::string key_path = std::string(dir) + "/key.pem";
  FILE* f = std::fopen(cert_path.c_str(), "w");
  if (!f || PEM_write_X509(f, cert) != 1) fail("cannot write the certificate");
  std::fclose(f);
  const mode_t old_mask = ::umask(077);
  f = std::fopen(key_path.c_str(), "w");
  ::umask(old_mask);
  if (!f || PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) != 1) fail("cannot write the key");
  std::fclose(f);
  if (ca_out) *ca_out = cert_path;

  std::string why;
  std::shared_ptr<TlsContext> context = TlsContext::server(cert_path, key_path, why);
  if (!context) {
    std::fprintf(stderr, "fuzz_tls_stream: %s\n", why.c_str());
    std::abort();
  }
  ::unlink(key_path.c_str());
  if (!ca_out) {
    ::unlink(cert_path.c_str());
    ::rmdir(dir);
  }
  X509_free(cert);
  EVP_PKEY_free(key);
  return context;
}

void write_seed(const std::string& dir, const std::string& name, std::string_view bytes) {
  FILE* f = std::fopen((dir + "/" + name).c_str(), "wb");
  if (!f) fail("cannot write a seed");
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

// A client's first flight, as a client TlsStream sends it.
std::string client_hello(const TlsContext& client, std::string_view host) {
  std::string sent;
  TlsStream stream(client, host);
  TlsIo io{&sent, [](void* owner, std::string_view bytes) { static_cast<std::string*>(owner)->append(bytes); },
           [](void*, std::string_view) { return true; }};
  stream.start(io);
  return sent;
}

void write_seeds(const std::string& dir) {
  std::string ca;
  make_server_context(&ca);
  std::string why;
  std::shared_ptr<TlsContext> client = TlsContext::client(ca, why);
  if (!client) fail("cannot make a client context");
  ::unlink(ca.c_str());
  ::rmdir(ca.substr(0, ca.rfind('/')).c_str());
  // Read size byte first: 255 (whole reads) and 4 (split records).
  write_seed(dir, "hello-sni", "\xff" + client_hello(*client, "localhost"));
  write_seed(dir, "hello-ip-split", "\x04" + client_hello(*client, "127.0.0.1"));
  write_seed(dir, "plain-http", "\xff" "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("SPRITES_FUZZ_WRITE_SEEDS")) {
    write_seeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::shared_ptr<TlsContext> server = make_server_context(nullptr);
  if (size == 0) return 0;
  const size_t piece = static_cast<size_t>(data[0]) + 1;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);

  struct Seen {
    const TlsStream* stream;
    size_t delivered = 0;
  } seen{nullptr};
  TlsStream stream(*server);
  seen.stream = &stream;
  TlsIo io{&seen, [](void*, std::string_view) {},
           [](void* owner, std::string_view plaintext) {
             auto* s = static_cast<Seen*>(owner);
             if (!s->stream->handshake_done()) fail("plaintext delivered before the handshake was done");
             s->delivered += plaintext.size();
             return true;
           }};
  if (stream.write("early", io)) fail("write() took plaintext before the handshake");
  TlsStream::Status status = TlsStream::Status::Open;
  while (!rest.empty()) {
    std::string_view read = rest.substr(0, piece);
    rest.remove_prefix(read.size());
    status = stream.read(read, io);
    if (status != TlsStream::Status::Open) break;
  }
  if (status == TlsStream::Status::Failed) {
    if (stream.error().empty()) fail("a failed stream does not say why");
    if (stream.read("more", io) != TlsStream::Status::Failed) fail("a failed stream read again");
  }
  stream.shutdown(io);
  return 0;
}
