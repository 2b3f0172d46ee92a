#include "facade/tls_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <cctype>
#include <sstream>

namespace shoal::facade {
namespace {

using storage::Result;
using storage::Status;

constexpr int kTlsV1 = 1, kTlsV11 = 2, kTlsV12 = 4, kTlsV13 = 8;

// Redis's parseProtocolsConfig: a space separated subset, any case.
Result<int> ParseProtocols(const std::string& text) {
  if (text.empty()) return kTlsV12 | kTlsV13;
  std::istringstream words(text);
  std::string w;
  int mask = 0;
  while (words >> w) {
    for (char& c : w) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (w == "tlsv1") {
      mask |= kTlsV1;
    } else if (w == "tlsv1.1") {
      mask |= kTlsV11;
    } else if (w == "tlsv1.2") {
      mask |= kTlsV12;
    } else if (w == "tlsv1.3") {
      mask |= kTlsV13;
    } else {
      return Status::Invalid(
          "Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', "
          "'TLSv1.2' and 'TLSv1.3'.");
    }
  }
  if (mask == 0) return kTlsV12 | kTlsV13;
  return mask;
}

struct CtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<SSL_CTX, CtxFree>;

// One context with its own certificate: Redis's createSSLContext.
Result<CtxPtr> CreateContext(const TlsOptions& o, int protocols, const std::string& cert,
                             const std::string& key, const std::string& pass) {
  CtxPtr ctx(SSL_CTX_new(TLS_method()));
  if (!ctx) return Status::IOError(TlsErrorText("cannot create an SSL context"));
  SSL_CTX* c = ctx.get();
  SSL_CTX_set_options(
      c, SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (!(protocols & kTlsV1)) SSL_CTX_set_options(c, SSL_OP_NO_TLSv1);
  if (!(protocols & kTlsV11)) SSL_CTX_set_options(c, SSL_OP_NO_TLSv1_1);
  if (!(protocols & kTlsV12)) SSL_CTX_set_options(c, SSL_OP_NO_TLSv1_2);
  if (!(protocols & kTlsV13)) SSL_CTX_set_options(c, SSL_OP_NO_TLSv1_3);
  // TLSv1 and 1.1 need SHA-1 signatures, which OpenSSL 3's default
  // security level refuses; asking for them means accepting that.
  if (protocols & (kTlsV1 | kTlsV11)) SSL_CTX_set_security_level(c, 0);
  // Idle connections give their 34 KiB of record buffers back.
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  // Verification is strict by default; sessions relax it per connection
  // (tls-auth-clients optional|no).
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  // OpenSSL's default passphrase callback reads the user data as the
  // passphrase; it is used only while the key is loaded below.
  SSL_CTX_set_default_passwd_cb_userdata(c,
                                         pass.empty() ? nullptr : const_cast<char*>(pass.c_str()));
  if (SSL_CTX_use_certificate_chain_file(c, cert.c_str()) <= 0) {
    return Status::IOError("Failed to load certificate: " + cert + ": " +
                           TlsErrorText("unreadable"));
  }
  if (SSL_CTX_use_PrivateKey_file(c, key.c_str(), SSL_FILETYPE_PEM) <= 0) {
    return Status::IOError("Failed to load private key: " + key + ": " +
                           TlsErrorText("unreadable"));
  }
  SSL_CTX_set_default_passwd_cb_userdata(c, nullptr);
  if (SSL_CTX_check_private_key(c) <= 0) {
    return Status::IOError("Private key " + key + " does not match certificate " + cert + ": " +
                           TlsErrorText("mismatch"));
  }
  if (!o.ca_cert_file.empty() || !o.ca_cert_dir.empty()) {
    if (SSL_CTX_load_verify_locations(c, o.ca_cert_file.empty() ? nullptr : o.ca_cert_file.c_str(),
                                      o.ca_cert_dir.empty() ? nullptr : o.ca_cert_dir.c_str()) <=
        0) {
      return Status::IOError("Failed to configure CA certificate(s) file/directory: " +
                             TlsErrorText("unreadable"));
    }
  }
  if (!o.ciphers.empty() && SSL_CTX_set_cipher_list(c, o.ciphers.c_str()) <= 0) {
    return Status::Invalid("Failed to configure ciphers: " + TlsErrorText(o.ciphers));
  }
  if (!o.ciphersuites.empty() && SSL_CTX_set_ciphersuites(c, o.ciphersuites.c_str()) <= 0) {
    return Status::Invalid("Failed to configure ciphersuites: " + TlsErrorText(o.ciphersuites));
  }
  return ctx;
}

}  // namespace

std::string TlsErrorText(const std::string& fallback) {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? fallback : out;
}

Result<std::shared_ptr<TlsContext>> TlsContext::Create(const TlsOptions& o) {
  ERR_clear_error();
  if (o.cert_file.empty()) return Status::Invalid("No tls-cert-file configured");
  if (o.key_file.empty()) return Status::Invalid("No tls-key-file configured");
  if (o.ca_cert_file.empty() && o.ca_cert_dir.empty()) {
    return Status::Invalid(
        "Either tls-ca-cert-file or tls-ca-cert-dir must be specified to verify peers and "
        "clients");
  }
  Result<int> protocols = ParseProtocols(o.protocols);
  if (!protocols.ok()) return protocols.status();

  Result<CtxPtr> server =
      CreateContext(o, protocols.value(), o.cert_file, o.key_file, o.key_file_pass);
  if (!server.ok()) return server.status();
  SSL_CTX* s = server.value().get();
  if (o.prefer_server_ciphers) SSL_CTX_set_options(s, SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (o.session_caching) {
    SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(s, static_cast<long>(o.session_cache_size));
    SSL_CTX_set_timeout(s, static_cast<long>(o.session_cache_timeout));
    static const unsigned char kSessionContext[] = "shoal";
    SSL_CTX_set_session_id_context(s, kSessionContext, sizeof(kSessionContext) - 1);
  } else {
    SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(s, SSL_OP_NO_TICKET);
  }
  if (!o.dh_params_file.empty()) {
    BIO* bio = BIO_new_file(o.dh_params_file.c_str(), "r");
    EVP_PKEY* dh = bio != nullptr ? PEM_read_bio_Parameters(bio, nullptr) : nullptr;
    if (bio != nullptr) BIO_free(bio);
    if (dh == nullptr) {
      return Status::IOError("Failed to load " + o.dh_params_file + ": " +
                             TlsErrorText("no DH parameters"));
    }
    if (SSL_CTX_set0_tmp_dh_pkey(s, dh) <= 0) {  // takes `dh` only on success
      EVP_PKEY_free(dh);
      return Status::Invalid("Failed to load DH parameters from " + o.dh_params_file + ": " +
                             TlsErrorText("rejected"));
    }
  } else {
    SSL_CTX_set_dh_auto(s, 1);
  }

  const bool own_client = !o.client_cert_file.empty() && !o.client_key_file.empty();
  Result<CtxPtr> client =
      CreateContext(o, protocols.value(), own_client ? o.client_cert_file : o.cert_file,
                    own_client ? o.client_key_file : o.key_file,
                    own_client ? o.client_key_file_pass : o.key_file_pass);
  if (!client.ok()) return client.status();

  std::shared_ptr<TlsContext> ctx(new TlsContext());
  ctx->server_ = std::move(server).value().release();
  ctx->client_ = std::move(client).value().release();
  return ctx;
}

TlsContext::~TlsContext() {
  SSL_CTX_free(server_);
  SSL_CTX_free(client_);
}

}  // namespace shoal::facade
