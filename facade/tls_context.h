#pragma once
// TlsContext: the OpenSSL contexts (SSL_CTX) built from Redis's tls-*
// directives, one for the connections this node accepts (tls-port, and the
// cluster port under tls-cluster yes) and one for the connections it opens
// (peer links). As Redis's tlsConfigure (src/tls.c): the certificate and key
// of tls-cert-file / tls-key-file (with tls-key-file-pass), the outgoing
// side using tls-client-cert-file / tls-client-key-file when set; peers and
// clients verified against tls-ca-cert-file and/or tls-ca-cert-dir;
// tls-protocols, tls-ciphers, tls-ciphersuites, tls-prefer-server-ciphers,
// the server-side session cache and tls-dh-params-file.
//
// A context is immutable once built and shared: each session holds its own
// reference to the SSL_CTX it was made from, so a reload (CONFIG SET of a
// certificate) builds a new TlsContext for new connections while the old one
// lives on in the sessions still using it. Thread-safe as SSL_CTX is
// (read-only use from the loop thread is all shoal does).

#include <cstdint>
#include <memory>
#include <string>

#include "storage/status.h"

struct ssl_ctx_st;
typedef struct ssl_ctx_st SSL_CTX;

namespace shoal::facade {

// The directives, as strings and numbers; empty strings mean "not set".
struct TlsOptions {
  std::string cert_file;
  std::string key_file;
  std::string key_file_pass;
  std::string client_cert_file;  // outgoing connections; "" = cert_file
  std::string client_key_file;   // outgoing connections; "" = key_file
  std::string client_key_file_pass;
  std::string ca_cert_file;
  std::string ca_cert_dir;
  // Space separated subset of TLSv1 TLSv1.1 TLSv1.2 TLSv1.3 (any case);
  // "" = "TLSv1.2 TLSv1.3", Redis's default.
  std::string protocols;
  std::string ciphers;       // TLSv1.2 and below (SSL_CTX_set_cipher_list); "" = OpenSSL's
  std::string ciphersuites;  // TLSv1.3 (SSL_CTX_set_ciphersuites); "" = OpenSSL's
  bool prefer_server_ciphers = false;
  bool session_caching = true;
  int64_t session_cache_size = 20480;
  int64_t session_cache_timeout = 300;  // seconds
  std::string dh_params_file;           // "" = OpenSSL's automatic DH parameters
};

// Whether the remote end of an accepted connection must present a
// certificate signed by the CA (Redis's tls-auth-clients yes|optional|no).
enum class TlsPeerAuth { kRequired, kOptional, kNone };

class TlsContext {
 public:
  // Builds both contexts. Fails, naming the file and OpenSSL's reason, if a
  // certificate, key (or its passphrase), CA or DH file cannot be loaded, the
  // key does not match its certificate, no CA is given, or a protocol,
  // cipher list or suite is unknown. Never partly built.
  static storage::Result<std::shared_ptr<TlsContext>> Create(const TlsOptions& options);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // Borrowed: valid while this TlsContext lives (sessions take their own
  // reference).
  SSL_CTX* server() const { return server_; }
  SSL_CTX* client() const { return client_; }

 private:
  TlsContext() = default;

  SSL_CTX* server_ = nullptr;
  SSL_CTX* client_ = nullptr;
};

// OpenSSL's queued error reasons, oldest first, joined with "; " (the queue
// is cleared); `fallback` if it is empty.
std::string TlsErrorText(const std::string& fallback);

}  // namespace shoal::facade
