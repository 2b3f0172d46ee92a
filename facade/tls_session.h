#pragma once
// TlsSession: one TLS connection's state (an OpenSSL SSL object) over two
// memory BIOs, with no socket of its own. The owner feeds it the ciphertext
// it read, takes out the plaintext, puts in the plaintext to send and takes
// out the ciphertext to write, so the same code runs over a libuv stream
// (facade/connection.h, cluster/peer/connection.h) or, in tests, over two
// sessions handing each other their bytes.
//
// The handshake runs as bytes arrive (Feed). Plaintext written before it
// completes is refused: the owner keeps it until handshake_done(). Every
// failure (a handshake refused, a certificate that does not verify, a
// corrupted record) is a Status carrying OpenSSL's reason; after one the
// session is dead and the owner closes the connection.
//
// Not thread-safe; one owner on one thread.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "facade/tls_context.h"
#include "storage/status.h"

struct ssl_st;
typedef struct ssl_st SSL;
struct bio_st;
typedef struct bio_st BIO;

namespace shoal::facade {

enum class TlsRole { kServer, kClient };

class TlsSession {
 public:
  // A session on `ctx` (which it keeps a reference to: the TlsContext may
  // go). A server session checks the client's certificate as `auth` says;
  // a client session always verifies the server's chain against the CA (no
  // host name check: peers are named by address, as Redis's cluster bus).
  // A client session's first flight (ClientHello) is ready in TakeOutput at
  // once.
  static storage::Result<std::unique_ptr<TlsSession>> Create(const TlsContext& ctx, TlsRole role,
                                                             TlsPeerAuth auth);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Ciphertext read from the network; advances the handshake while it runs.
  // Fails if the bytes are not TLS, the handshake is refused either way, or
  // the peer's certificate does not verify.
  storage::Status Feed(const char* data, size_t len);
  // Decrypts up to `cap` bytes of plaintext into `buf`; *n = 0 when no
  // complete record is buffered (or the peer closed: closed()). Fails on a
  // corrupted or forged record.
  storage::Status Read(char* buf, size_t cap, size_t* n);
  // Encrypts `plain` (any length) into the outgoing buffer. Only once
  // handshake_done().
  storage::Status Write(std::string_view plain);
  // Appends the ciphertext waiting to be written (handshake messages,
  // records, alerts) to `out`, emptying the session's buffer.
  void TakeOutput(std::string* out);
  bool has_output() const;

  bool handshake_done() const { return handshake_done_; }
  // The peer sent close_notify: no more plaintext will come.
  bool closed() const { return closed_; }
  // The negotiated protocol ("TLSv1.3"), for logs and tests.
  std::string Protocol() const;
  // The peer presented a certificate that verified.
  bool peer_verified() const;

 private:
  TlsSession() = default;
  storage::Status Handshake();
  storage::Status Failure(int rc, const char* what);

  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;   // ciphertext from the network (owned by ssl_)
  BIO* out_ = nullptr;  // ciphertext for the network (owned by ssl_)
  bool handshake_done_ = false;
  bool closed_ = false;
  bool failed_ = false;
};

}  // namespace shoal::facade
