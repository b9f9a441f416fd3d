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
// The server's certificate and key come from the tests' PKI (tests/pki),
// made once per process in a private temporary directory.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "common/tls.h"
#include "pki/test_pki.h"

namespace {

using sprites::test::TestPki;
using sprites::tls::TlsContext;
using sprites::tls::TlsIo;
using sprites::tls::TlsStream;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_tls_stream: %s\n", what);
  std::abort();
}

// The test PKI (tests/pki), made once: its directory is removed at exit.
TestPki& pki() {
  static TestPki made;
  return made;
}

std::shared_ptr<TlsContext> make_server_context() {
  TestPki::Issued leaf = pki().issue("relay");
  std::string why;
  std::shared_ptr<TlsContext> context = TlsContext::server(leaf.cert_file, leaf.key_file, why);
  if (!context) {
    std::fprintf(stderr, "fuzz_tls_stream: %s\n", why.c_str());
    std::abort();
  }
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
  std::string why;
  std::shared_ptr<TlsContext> client = TlsContext::client(pki().ca_file(), why);
  if (!client) fail("cannot make a client context");
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
  static const std::shared_ptr<TlsContext> server = make_server_context();
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
