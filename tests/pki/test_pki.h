// TestPki: a certificate authority made at test time, and the server
// certificates it signs, for the tests of TLS (common/tls.h) and of https://
// in the client library.
//
// It owns one fresh private directory (mkdtemp under $TMPDIR or /tmp, mode
// 0700) holding the CA's certificate and every issued leaf's certificate and
// key as PEM files, and removes the directory with its files when it is
// destroyed. Keys are EC P-256 and written 0600: the relay reads key files by
// the rule of common/key_file.h (not open to other users). The CA is
// self-signed with basicConstraints CA:TRUE and keyUsage keyCertSign; a leaf
// carries subjectAltName (DNS for names, IP for IPv4 and IPv6 literals),
// extendedKeyUsage serverAuth, a random serial, and is valid from an hour ago
// to a day from now (or, for expired(), ended a day ago). untrusted() signs
// with a second CA whose certificate is never written where a client would
// load it.
//
// Left out: intermediate CAs, client certificates, revocation, RSA keys; no
// test needs them. Failures inside OpenSSL throw std::runtime_error: this is
// test support, and a PKI that could not be made must fail the test that
// needed it, loudly.
//
// Dropped alternative: certificates checked into the repository, or made by
// the openssl command line in a CMake step. Checked-in ones expire and tempt
// someone to reuse their keys; the command line adds a tool dependency and
// a build step, where the C API the relay already links does it in process.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace sprites::test {

class TestPki {
 public:
  struct Issued {
    std::string cert_file;  // the leaf's PEM certificate
    std::string key_file;   // its PEM private key (unencrypted), mode 0600
  };

  TestPki();  // makes the directory and the CA
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  const std::string& dir() const { return dir_; }
  const std::string& ca_file() const { return ca_file_; }

  // A leaf for `names` (host names and IP literals), signed by the CA, written
  // as <dir>/<basename>.crt and <dir>/<basename>.key.
  Issued issue(const std::string& basename,
               const std::vector<std::string>& names = {"localhost", "127.0.0.1", "::1"});
  // As issue(), with a validity that ended a day ago.
  Issued expired(const std::string& basename,
                 const std::vector<std::string>& names = {"localhost", "127.0.0.1", "::1"});
  // As issue(), signed by another CA that no client trusts.
  Issued untrusted(const std::string& basename,
                   const std::vector<std::string>& names = {"localhost", "127.0.0.1", "::1"});

  // As issue(), with the key encrypted under `passphrase` (which the relay
  // must refuse rather than prompt for).
  Issued with_passphrase(const std::string& basename, const std::string& passphrase);

  // A file of the directory (for tests that write their own).
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

 private:
  struct Authority;
  Issued make_leaf(const Authority& ca, const std::string& basename, const std::vector<std::string>& names,
                   long from_s, long to_s, const std::string& passphrase = {});

  std::string dir_;
  std::string ca_file_;
  std::unique_ptr<Authority> ca_;
  std::unique_ptr<Authority> stranger_;  // the untrusted CA, made on first use
};

}  // namespace sprites::test
