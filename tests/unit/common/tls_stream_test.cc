// common/tls: a server TlsStream and a client TlsStream wired to each other in
// memory (each one's `send` appends to an outbox the other is fed from), with
// certificates from the test PKI; and TlsContext's refusals of files it must
// not load. No sockets and no loop: the bytes each side sends are exactly
// what the other reads, in whatever pieces the test cuts them into.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <utility>

#include "common/tls.h"
#include "pki/test_pki.h"
#include "pki/tls_contexts.h"

using sprites::test::TestPki;
using sprites::test::client_context;
using sprites::test::server_context;
using sprites::tls::TlsContext;
using sprites::tls::TlsIo;
using sprites::tls::TlsStream;
using Status = TlsStream::Status;

namespace {

// One side of the connection: its stream, the ciphertext it sent that the
// peer has not read yet, the plaintext it was handed, and how its last read
// ended.
struct Side {
  std::unique_ptr<TlsStream> stream;
  std::string outbox;
  std::string received;
  Status status = Status::Open;

  TlsIo io() {
    return TlsIo{this,
                 [](void* owner, std::string_view ciphertext) { static_cast<Side*>(owner)->outbox.append(ciphertext); },
                 [](void* owner, std::string_view plaintext) {
                   static_cast<Side*>(owner)->received.append(plaintext);
                   return true;
                 }};
  }

  // Reads `bytes` in pieces of at most `piece` bytes; stops at a failure or
  // a close.
  void read(const std::string& bytes, size_t piece) {
    for (size_t at = 0; at < bytes.size() && status == Status::Open; at += piece) {
      status = stream->read(std::string_view(bytes).substr(at, piece), io());
    }
  }
};



// A server and a client stream (the client checking `host`), before the
// ClientHello.
struct Connection {
  std::shared_ptr<TlsContext> server_ctx, client_ctx;
  Side server, client;

  Connection(std::shared_ptr<TlsContext> server_context, std::shared_ptr<TlsContext> client_context,
             std::string_view host)
      : server_ctx(std::move(server_context)), client_ctx(std::move(client_context)) {
    server.stream = std::make_unique<TlsStream>(*server_ctx);
    client.stream = std::make_unique<TlsStream>(*client_ctx, host);
  }

  // Carries each outbox to the other side until both are empty (or a side
  // stopped), in pieces of at most `piece` bytes.
  void exchange(size_t piece = SIZE_MAX) {
    for (int turn = 0; turn < 100; ++turn) {
      if (client.outbox.empty() && server.outbox.empty()) return;
      server.read(std::exchange(client.outbox, std::string()), piece);
      client.read(std::exchange(server.outbox, std::string()), piece);
    }
    FAIL("the two sides kept sending to each other");
  }

  void handshake(size_t piece = SIZE_MAX) {
    client.stream->start(client.io());
    exchange(piece);
  }
};

// The test PKI's CA, a leaf for the default names, and a client that trusts
// the CA.
struct Pki {
  TestPki pki;
  TestPki::Issued leaf = pki.issue("relay");
  std::shared_ptr<TlsContext> server_ctx = server_context(leaf);
  std::shared_ptr<TlsContext> client_ctx = client_context(pki.ca_file());
};

std::string pattern(size_t size) {
  std::string out(size, '\0');
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<char>('a' + (i * 7 + i / 26) % 26);
  return out;
}

// Why TlsContext::server refuses these files (a failed check when it loads them).
std::string server_refusal(const std::string& cert_file, const std::string& key_file) {
  std::string why;
  auto context = TlsContext::server(cert_file, key_file, why);
  INFO("loaded " << cert_file << " with " << key_file);
  REQUIRE_FALSE(context);
  REQUIRE_FALSE(why.empty());
  return why;
}

}  // namespace

TEST_CASE("a TLS handshake completes and data flows both ways", "[common][tls]") {
  Pki p;
  Connection c(p.server_ctx, p.client_ctx, "localhost");
  CHECK_FALSE(c.client.stream->write("too early", c.client.io()));
  c.handshake();
  REQUIRE(c.client.status == Status::Open);
  REQUIRE(c.server.status == Status::Open);
  CHECK(c.client.stream->handshake_done());
  CHECK(c.server.stream->handshake_done());

  REQUIRE(c.client.stream->write("GET / HTTP/1.1\r\n\r\n", c.client.io()));
  c.exchange();
  CHECK(c.server.received == "GET / HTTP/1.1\r\n\r\n");

  // More than one 16 KiB record, and more than the stream's plaintext buffer.
  const std::string big = pattern(100 * 1024 + 17);
  REQUIRE(c.server.stream->write(big, c.server.io()));
  CHECK(c.server.outbox.size() > big.size());  // several records, each with its overhead
  c.exchange();
  CHECK(c.client.received == big);
  CHECK(c.client.status == Status::Open);
}

TEST_CASE("a TLS handshake read one byte at a time completes", "[common][tls]") {
  Pki p;
  Connection c(p.server_ctx, p.client_ctx, "127.0.0.1");
  c.handshake(/*piece=*/1);
  REQUIRE(c.client.status == Status::Open);
  REQUIRE(c.server.status == Status::Open);
  CHECK(c.client.stream->handshake_done());
  CHECK(c.server.stream->handshake_done());
  REQUIRE(c.server.stream->write("hello", c.server.io()));
  c.exchange(1);
  CHECK(c.client.received == "hello");
}

TEST_CASE("a TLS record cut at any byte arrives whole", "[common][tls]") {
  Pki p;
  Connection c(p.server_ctx, p.client_ctx, "::1");
  c.handshake();
  REQUIRE(c.server.stream->handshake_done());
  // Every message has the same length, so every record does: the first one
  // measures it, message k is then cut after its k-th byte.
  REQUIRE(c.client.stream->write("message 000", c.client.io()));
  const std::string first = std::exchange(c.client.outbox, std::string());
  const size_t record = first.size();
  c.server.read(first, SIZE_MAX);
  std::string expected = "message 000";
  for (size_t k = 1; k <= record; ++k) {
    char text[16];
    std::snprintf(text, sizeof text, "message %03zu", k);
    expected += text;
    REQUIRE(c.client.stream->write(text, c.client.io()));
    const std::string bytes = std::exchange(c.client.outbox, std::string());
    REQUIRE(bytes.size() == record);
    c.server.read(bytes.substr(0, k), SIZE_MAX);
    c.server.read(bytes.substr(k), SIZE_MAX);
    REQUIRE(c.server.status == Status::Open);
  }
  CHECK(c.server.received == expected);
}

TEST_CASE("a TLS client refuses a certificate for another name, and says why", "[common][tls]") {
  Pki p;
  SECTION("a host name") {
    Connection c(p.server_ctx, p.client_ctx, "relay.example.com");
    c.handshake();
    CHECK(c.client.status == Status::Failed);
    CHECK_FALSE(c.client.stream->handshake_done());
    CHECK(c.client.stream->error().find("certificate verify failed") != std::string::npos);
    CHECK(c.client.stream->error().find("hostname mismatch") != std::string::npos);
    CHECK_FALSE(c.client.stream->write("x", c.client.io()));
  }
  SECTION("an IP address") {
    Connection c(p.server_ctx, p.client_ctx, "127.0.0.2");
    c.handshake();
    CHECK(c.client.status == Status::Failed);
    CHECK(c.client.stream->error().find("IP address mismatch") != std::string::npos);
  }
}

TEST_CASE("a TLS client refuses a certificate its CA did not sign, or one that expired", "[common][tls]") {
  Pki p;
  SECTION("another CA") {
    Connection c(server_context(p.pki.untrusted("stranger")), p.client_ctx, "localhost");
    c.handshake();
    CHECK(c.client.status == Status::Failed);
    CHECK(c.client.stream->error().find("certificate verify failed") != std::string::npos);
    CHECK(c.client.stream->error().find("unable to get local issuer certificate") != std::string::npos);
    // The client's alert tells the server, which fails too.
    CHECK(c.server.status == Status::Failed);
    CHECK_FALSE(c.server.stream->handshake_done());
  }
  SECTION("expired") {
    Connection c(server_context(p.pki.expired("old")), p.client_ctx, "localhost");
    c.handshake();
    CHECK(c.client.status == Status::Failed);
    CHECK(c.client.stream->error().find("certificate has expired") != std::string::npos);
  }
  SECTION("the system trust store does not know the test CA") {
    Connection c(p.server_ctx, client_context(""), "localhost");
    c.handshake();
    CHECK(c.client.status == Status::Failed);
    CHECK(c.client.stream->error().find("certificate verify failed") != std::string::npos);
  }
}

TEST_CASE("a TLS shutdown reaches the peer as a close", "[common][tls]") {
  Pki p;
  Connection c(p.server_ctx, p.client_ctx, "localhost");
  c.handshake();
  REQUIRE(c.client.stream->write("last words", c.client.io()));
  c.client.stream->shutdown(c.client.io());
  c.client.stream->shutdown(c.client.io());  // once only
  c.exchange();
  CHECK(c.server.received == "last words");
  CHECK(c.server.status == Status::Closed);
  CHECK(c.client.status == Status::Open);
}

TEST_CASE("bytes that are not TLS fail the stream", "[common][tls]") {
  Pki p;
  SECTION("a server fed plain HTTP") {
    Connection c(p.server_ctx, p.client_ctx, "localhost");
    c.server.read("GET / HTTP/1.1\r\nHost: x\r\n\r\n", SIZE_MAX);
    CHECK(c.server.status == Status::Failed);
    CHECK_FALSE(c.server.stream->error().empty());
    CHECK(c.server.stream->read("more", c.server.io()) == Status::Failed);
  }
  SECTION("a client fed garbage after the handshake") {
    Connection c(p.server_ctx, p.client_ctx, "localhost");
    c.handshake();
    REQUIRE(c.client.stream->handshake_done());
    // A well-formed application-data record header with a body no key made.
    std::string record("\x17\x03\x03\x00\x20", 5);
    record.append(32, '\x5a');
    c.client.read(record, SIZE_MAX);
    CHECK(c.client.status == Status::Failed);
    CHECK_FALSE(c.client.stream->error().empty());
    CHECK(c.client.received.empty());
  }
}

TEST_CASE("a TLS server context refuses files it must not use, naming them", "[common][tls]") {
  TestPki pki;
  TestPki::Issued leaf = pki.issue("relay");

  SECTION("a key open to other users") {
    REQUIRE(::chmod(leaf.key_file.c_str(), 0644) == 0);
    std::string why = server_refusal(leaf.cert_file, leaf.key_file);
    CHECK(why.find(leaf.key_file) != std::string::npos);
    CHECK(why.find("open to other users") != std::string::npos);
  }
  SECTION("a key of another certificate") {
    TestPki::Issued other = pki.issue("other");
    std::string why = server_refusal(leaf.cert_file, other.key_file);
    CHECK(why.find(other.key_file) != std::string::npos);
    CHECK(why.find(leaf.cert_file) != std::string::npos);
    CHECK(why.find("does not belong") != std::string::npos);
  }
  SECTION("a key that wants a passphrase, without asking for it") {
    TestPki::Issued locked = pki.with_passphrase("locked", "secret passphrase");
    std::string why = server_refusal(locked.cert_file, locked.key_file);
    CHECK(why.find(locked.key_file) != std::string::npos);
    CHECK(why.find("unencrypted") != std::string::npos);
  }
  SECTION("a missing key file") {
    std::string why = server_refusal(leaf.cert_file, pki.path("absent.key"));
    CHECK(why.find(pki.path("absent.key")) != std::string::npos);
  }
  SECTION("a missing certificate file") {
    std::string why = server_refusal(pki.path("absent.crt"), leaf.key_file);
    CHECK(why.find(pki.path("absent.crt")) != std::string::npos);
  }
  SECTION("a certificate file that holds no certificate") {
    {
      std::ofstream out(pki.path("empty.crt"));
      out << "not a certificate\n";
    }
    std::string why = server_refusal(pki.path("empty.crt"), leaf.key_file);
    CHECK(why.find(pki.path("empty.crt")) != std::string::npos);
  }
}

TEST_CASE("a TLS client context refuses a CA file that does not load, naming it", "[common][tls]") {
  TestPki pki;
  std::string why;
  CHECK_FALSE(TlsContext::client(pki.path("absent.pem"), why));
  CHECK(why.find(pki.path("absent.pem")) != std::string::npos);
  {
    std::ofstream out(pki.path("junk.pem"));
    out << "no certificates here\n";
  }
  why.clear();
  CHECK_FALSE(TlsContext::client(pki.path("junk.pem"), why));
  CHECK(why.find(pki.path("junk.pem")) != std::string::npos);
}
