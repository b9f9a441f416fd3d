// The TLS contexts the unit tests make from the test PKI: a server presenting
// an issued leaf, a client trusting a CA file. A context that does not load
// fails the test, with OpenSSL's reason.
#pragma once

#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "common/tls.h"
#include "pki/test_pki.h"

namespace sprites::test {

inline std::shared_ptr<tls::TlsContext> server_context(const TestPki::Issued& leaf) {
  std::string why;
  auto context = tls::TlsContext::server(leaf.cert_file, leaf.key_file, why);
  INFO(why);
  REQUIRE(context);
  return context;
}

inline std::shared_ptr<tls::TlsContext> client_context(const std::string& ca_file) {
  std::string why;
  auto context = tls::TlsContext::client(ca_file, why);
  INFO(why);
  REQUIRE(context);
  return context;
}

}  // namespace sprites::test
