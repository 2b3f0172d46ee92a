#include "facade/tls_session.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace shoal::facade {

using storage::Result;
using storage::Status;

Result<std::unique_ptr<TlsSession>> TlsSession::Create(const TlsContext& ctx, TlsRole role,
                                                       TlsPeerAuth auth) {
  ERR_clear_error();
  std::unique_ptr<TlsSession> s(new TlsSession());
  s->ssl_ = SSL_new(role == TlsRole::kServer ? ctx.server() : ctx.client());
  s->in_ = BIO_new(BIO_s_mem());
  s->out_ = BIO_new(BIO_s_mem());
  if (s->ssl_ == nullptr || s->in_ == nullptr || s->out_ == nullptr) {
    BIO_free(s->in_);  // not attached to ssl_ yet; BIO_free(nullptr) is a no-op
    BIO_free(s->out_);
    s->in_ = s->out_ = nullptr;
    return Status::IOError(TlsErrorText("cannot create a TLS session"));
  }
  // An empty input BIO means "wait for more", not end of file.
  BIO_set_mem_eof_return(s->in_, -1);
  BIO_set_mem_eof_return(s->out_, -1);
  SSL_set_bio(s->ssl_, s->in_, s->out_);  // ssl_ owns both from here
  if (role == TlsRole::kServer) {
    switch (auth) {
      case TlsPeerAuth::kRequired:
        break;  // the context's SSL_VERIFY_PEER | FAIL_IF_NO_PEER_CERT
      case TlsPeerAuth::kOptional:
        SSL_set_verify(s->ssl_, SSL_VERIFY_PEER, nullptr);
        break;
      case TlsPeerAuth::kNone:
        SSL_set_verify(s->ssl_, SSL_VERIFY_NONE, nullptr);
        break;
    }
    SSL_set_accept_state(s->ssl_);
  } else {
    SSL_set_connect_state(s->ssl_);
    Status st = s->Handshake();  // writes the ClientHello
    if (!st.ok()) return st;
  }
  return s;
}

TlsSession::~TlsSession() {
  if (ssl_ != nullptr) SSL_free(ssl_);  // frees the BIOs too
}

Status TlsSession::Failure(int rc, const char* what) {
  const int err = SSL_get_error(ssl_, rc);
  std::string why;
  if (err == SSL_ERROR_SSL) {
    why = TlsErrorText("protocol error");
    const long verify = SSL_get_verify_result(ssl_);
    if (verify != X509_V_OK) {
      why += std::string(" (certificate: ") + X509_verify_cert_error_string(verify) + ")";
    }
  } else if (err == SSL_ERROR_ZERO_RETURN) {
    why = "the peer closed the TLS session";
  } else {
    why = "OpenSSL error " + std::to_string(err) + ": " + TlsErrorText("no details");
  }
  failed_ = true;
  return Status::IOError(std::string(what) + ": " + why);
}

Status TlsSession::Handshake() {
  ERR_clear_error();
  const int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    handshake_done_ = true;
    return Status::Ok();
  }
  const int err = SSL_get_error(ssl_, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return Status::Ok();
  return Failure(rc, "TLS handshake failed");
}

Status TlsSession::Feed(const char* data, size_t len) {
  if (failed_) return Status::IOError("TLS session failed earlier");
  if (len > 0 && BIO_write(in_, data, static_cast<int>(len)) != static_cast<int>(len)) {
    failed_ = true;
    return Status::IOError("cannot buffer TLS input");
  }
  if (!handshake_done_) return Handshake();
  return Status::Ok();
}

Status TlsSession::Read(char* buf, size_t cap, size_t* n) {
  *n = 0;
  if (failed_) return Status::IOError("TLS session failed earlier");
  if (!handshake_done_ || closed_ || cap == 0) return Status::Ok();
  ERR_clear_error();
  const int rc = SSL_read_ex(ssl_, buf, cap, n);
  if (rc == 1) return Status::Ok();
  *n = 0;
  const int err = SSL_get_error(ssl_, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return Status::Ok();
  if (err == SSL_ERROR_ZERO_RETURN) {
    closed_ = true;
    return Status::Ok();
  }
  return Failure(rc, "TLS read failed");
}

Status TlsSession::Write(std::string_view plain) {
  if (failed_) return Status::IOError("TLS session failed earlier");
  if (!handshake_done_) return Status::Invalid("TLS write before the handshake completed");
  if (plain.empty()) return Status::Ok();
  ERR_clear_error();
  size_t written = 0;
  // A memory BIO never fills: the whole buffer is taken in one call (split
  // into records of at most 16 KiB by OpenSSL).
  const int rc = SSL_write_ex(ssl_, plain.data(), plain.size(), &written);
  if (rc == 1 && written == plain.size()) return Status::Ok();
  return Failure(rc, "TLS write failed");
}

bool TlsSession::has_output() const {
  return BIO_ctrl_pending(out_) > 0;
}

void TlsSession::TakeOutput(std::string* out) {
  const size_t pending = BIO_ctrl_pending(out_);
  if (pending == 0) return;
  const size_t at = out->size();
  out->resize(at + pending);
  const int got = BIO_read(out_, out->data() + at, static_cast<int>(pending));
  out->resize(at + (got > 0 ? static_cast<size_t>(got) : 0));
}

std::string TlsSession::Protocol() const {
  return SSL_get_version(ssl_);
}

bool TlsSession::peer_verified() const {
  X509* cert = SSL_get1_peer_certificate(ssl_);
  if (cert == nullptr) return false;
  X509_free(cert);
  return SSL_get_verify_result(ssl_) == X509_V_OK;
}

}  // namespace shoal::facade
