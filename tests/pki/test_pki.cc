// See test_pki.h. Every OpenSSL object lives in a unique_ptr with its free
// function, so a throw halfway through a certificate leaks nothing.
#include "pki/test_pki.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace sprites::test {
namespace {

template <typename T, void (*Free)(T*)>
struct Freer {
  void operator()(T* p) const { Free(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Freer<EVP_PKEY, EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Freer<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Freer<BIO, BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Freer<BIGNUM, BN_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Freer<X509_EXTENSION, X509_EXTENSION_free>>;

[[noreturn]] void fail(const std::string& what) {
  char reason[256] = "no OpenSSL error";
  if (unsigned long code = ERR_get_error(); code != 0) ERR_error_string_n(code, reason, sizeof reason);
  ERR_clear_error();
  throw std::runtime_error("test PKI: " + what + ": " + reason);
}

KeyPtr new_key() {
  // EVP_EC_gen() is a macro with a C cast; this is the call it makes.
  KeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) fail("EC P-256 key generation");
  return key;
}

bool is_ip_literal(const std::string& name) {
  unsigned char bytes[16];
  return inet_pton(AF_INET, name.c_str(), bytes) == 1 || inet_pton(AF_INET6, name.c_str(), bytes) == 1;
}

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx{};
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) fail(std::string("extension ") + OBJ_nid2sn(nid) + "=" + value);
}

// An unsigned certificate for `key`, named CN=`common_name`, valid from
// `from_s` to `to_s` seconds from now, with a random 127-bit serial.
CertPtr new_certificate(EVP_PKEY* key, const std::string& common_name, long from_s, long to_s) {
  CertPtr cert(X509_new());
  if (!cert) fail("X509_new");
  X509_set_version(cert.get(), X509_VERSION_3);
  BnPtr serial(BN_new());
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get()))) {
    fail("random serial");
  }
  if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), from_s) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()), to_s)) {
    fail("validity");
  }
  X509_NAME* subject = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0) != 1) {
    fail("subject name");
  }
  if (X509_set_pubkey(cert.get(), key) != 1) fail("public key");
  return cert;
}

void sign(X509* cert, X509* issuer, EVP_PKEY* issuer_key) {
  if (X509_set_issuer_name(cert, X509_get_subject_name(issuer)) != 1) fail("issuer name");
  if (X509_sign(cert, issuer_key, EVP_sha256()) <= 0) fail("signature");
}

std::string pem_of(BIO* bio) {
  char* data = nullptr;
  // BIO_get_mem_data(), without the macro's C cast.
  long size = BIO_ctrl(bio, BIO_CTRL_INFO, 0, &data);
  return std::string(data, static_cast<size_t>(size));
}

std::string certificate_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) fail("PEM certificate");
  return pem_of(bio.get());
}

// PKCS#8, encrypted with AES-256-CBC when a passphrase is given.
std::string key_pem(EVP_PKEY* key, const std::string& passphrase) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  const EVP_CIPHER* cipher = passphrase.empty() ? nullptr : EVP_aes_256_cbc();
  std::string pass = passphrase;
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, cipher, reinterpret_cast<unsigned char*>(pass.data()),
                                       static_cast<int>(pass.size()), nullptr, nullptr) != 1) {
    fail("PEM key");
  }
  return pem_of(bio.get());
}

// Created with `mode` from the start (no window in which a key is readable).
void write_file(const std::string& path, const std::string& text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) throw std::runtime_error("test PKI: cannot create " + path + ": " + std::strerror(errno));
  ::fchmod(fd, mode);  // the umask may have taken bits away
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      throw std::runtime_error("test PKI: cannot write " + path + ": " + std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
}

constexpr long kHour = 3600;
constexpr long kDay = 24 * kHour;

}  // namespace

struct TestPki::Authority {
  KeyPtr key;
  CertPtr cert;

  explicit Authority(const std::string& name) : key(new_key()) {
    cert = new_certificate(key.get(), name, -kHour, kDay);
    add_extension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    add_extension(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
    sign(cert.get(), cert.get(), key.get());
  }
};

TestPki::TestPki() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/sprites-pki-XXXXXX";
  if (!::mkdtemp(pattern.data())) {
    throw std::runtime_error("test PKI: mkdtemp " + pattern + ": " + std::strerror(errno));
  }
  dir_ = pattern;
  try {
    ca_ = std::make_unique<Authority>("sprites test CA");
    ca_file_ = path("ca.crt");
    write_file(ca_file_, certificate_pem(ca_->cert.get()), 0644);
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
    throw;
  }
}

TestPki::~TestPki() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

TestPki::Issued TestPki::make_leaf(const Authority& ca, const std::string& basename,
                                   const std::vector<std::string>& names, long from_s, long to_s,
                                   const std::string& passphrase) {
  KeyPtr key = new_key();
  CertPtr cert = new_certificate(key.get(), names.empty() ? basename : names.front(), from_s, to_s);
  std::string alt_names;
  for (const std::string& name : names) {
    if (!alt_names.empty()) alt_names += ",";
    alt_names += (is_ip_literal(name) ? "IP:" : "DNS:") + name;
  }
  add_extension(cert.get(), ca.cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert.get(), ca.cert.get(), NID_key_usage, "critical,digitalSignature");
  add_extension(cert.get(), ca.cert.get(), NID_ext_key_usage, "serverAuth");
  add_extension(cert.get(), ca.cert.get(), NID_subject_key_identifier, "hash");
  add_extension(cert.get(), ca.cert.get(), NID_authority_key_identifier, "keyid:always");
  if (!alt_names.empty()) add_extension(cert.get(), ca.cert.get(), NID_subject_alt_name, alt_names);
  sign(cert.get(), ca.cert.get(), ca.key.get());
  Issued issued{path(basename + ".crt"), path(basename + ".key")};
  write_file(issued.cert_file, certificate_pem(cert.get()), 0644);
  write_file(issued.key_file, key_pem(key.get(), passphrase), 0600);
  return issued;
}

TestPki::Issued TestPki::issue(const std::string& basename, const std::vector<std::string>& names) {
  return make_leaf(*ca_, basename, names, -kHour, kDay);
}

TestPki::Issued TestPki::expired(const std::string& basename, const std::vector<std::string>& names) {
  return make_leaf(*ca_, basename, names, -2 * kDay, -kDay);
}

TestPki::Issued TestPki::untrusted(const std::string& basename, const std::vector<std::string>& names) {
  if (!stranger_) stranger_ = std::make_unique<Authority>("sprites untrusted test CA");
  return make_leaf(*stranger_, basename, names, -kHour, kDay);
}

TestPki::Issued TestPki::with_passphrase(const std::string& basename, const std::string& passphrase) {
  return make_leaf(*ca_, basename, {"localhost", "127.0.0.1", "::1"}, -kHour, kDay, passphrase);
}

}  // namespace sprites::test
