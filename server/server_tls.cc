// Server: TLS for clients (tls-port) and peer links (tls-cluster): the
// context built from the tls-* directives and reloaded by CONFIG SET, the
// handshake deadline of TLS clients, and the log line of a failed one.

#include <string>
#include <vector>

#include "facade/tls_session.h"
#include "server/server.h"

namespace shoal::server {
namespace {

// A TLS client that has not completed its handshake this long after its
// accept is closed (the peer port has its own deadline, which covers TLS).
constexpr int64_t kTlsHandshakeTimeoutMs = 10000;

facade::TlsOptions TlsOptionsOf(const Config& cfg) {
  facade::TlsOptions o;
  o.cert_file = cfg.tls_cert_file;
  o.key_file = cfg.tls_key_file;
  o.key_file_pass = cfg.tls_key_file_pass;
  o.client_cert_file = cfg.tls_client_cert_file;
  o.client_key_file = cfg.tls_client_key_file;
  o.client_key_file_pass = cfg.tls_client_key_file_pass;
  o.ca_cert_file = cfg.tls_ca_cert_file;
  o.ca_cert_dir = cfg.tls_ca_cert_dir;
  o.protocols = cfg.tls_protocols;
  o.ciphers = cfg.tls_ciphers;
  o.ciphersuites = cfg.tls_ciphersuites;
  o.prefer_server_ciphers = cfg.tls_prefer_server_ciphers;
  o.session_caching = cfg.tls_session_caching;
  o.session_cache_size = cfg.tls_session_cache_size;
  o.session_cache_timeout = cfg.tls_session_cache_timeout;
  o.dh_params_file = cfg.tls_dh_params_file;
  return o;
}

// The directives the context is built from.
bool IsTlsContextDirective(std::string_view name) {
  return name.starts_with("tls-") && name != "tls-port" && name != "tls-cluster" &&
         name != "tls-auth-clients" && name != "tls-replication";
}

}  // namespace

storage::Status Server::LoadTls(const Config& cfg) {
  if (!TlsEnabled(cfg)) return storage::Status::Ok();
  auto ctx = facade::TlsContext::Create(TlsOptionsOf(cfg));
  if (!ctx.ok()) {
    return storage::Status::Invalid("Failed to configure TLS: " + ctx.status().message());
  }
  tls_ = std::move(ctx).value();
  return storage::Status::Ok();
}

std::string Server::ApplyTlsDirective(std::string_view name, const Config& cfg) {
  // As Redis's applyTlsCfg: new connections get the new context; those
  // open keep theirs. Without TLS in use the values are only stored.
  if (!IsTlsContextDirective(name) || !TlsEnabled(cfg)) return {};
  storage::Status st = LoadTls(cfg);
  if (st.ok()) {
    logger_.Log(LogLevel::kNotice, "TLS configuration reloaded (%.*s)",
                static_cast<int>(name.size()), name.data());
    return {};
  }
  logger_.Log(LogLevel::kWarning, "%s", st.message().c_str());
  return "Unable to update TLS configuration. Check server logs.";
}

storage::Status Server::StartTlsClient(facade::Connection& conn) {
  facade::TlsPeerAuth auth =
      config_.tls_auth_clients == TlsAuthClients::kYes        ? facade::TlsPeerAuth::kRequired
      : config_.tls_auth_clients == TlsAuthClients::kOptional ? facade::TlsPeerAuth::kOptional
                                                              : facade::TlsPeerAuth::kNone;
  auto session = facade::TlsSession::Create(*tls_, facade::TlsRole::kServer, auth);
  if (!session.ok()) return session.status();
  tls_handshakes_.push_back(conn.id());
  conn.StartTls(std::move(session).value());
  return storage::Status::Ok();
}

void Server::ExpireTlsHandshakes(int64_t now_ms) {
  std::erase_if(tls_handshakes_, [&](uint64_t id) {
    facade::Connection* c = FindClient(id);
    if (c == nullptr || c->closing() || !c->tls_handshaking()) return true;
    if (now_ms - c->created_ms() < kTlsHandshakeTimeoutMs) return false;
    const std::optional<uint64_t> suppressed = tls_log_.Admit(now_ms);
    if (suppressed) {
      logger_.Log(LogLevel::kWarning,
                  "Closing TLS client that did not complete its handshake within %lld ms "
                  "(addr=%s)%s",
                  static_cast<long long>(kTlsHandshakeTimeoutMs), c->peer_addr().c_str(),
                  cluster::LogRateLimiter::SuppressedSuffix(*suppressed).c_str());
    }
    c->Close();
    return true;
  });
}

void Server::OnTlsError(facade::Connection& conn, const storage::Status& error) {
  // Anyone can send garbage to the TLS port: at most one line a second.
  const std::optional<uint64_t> suppressed = tls_log_.Admit(clock_.NowMs());
  if (!suppressed) return;
  // Redis's words (connTLSAccept's "Error accepting a client connection").
  logger_.Log(LogLevel::kWarning, "Error accepting a client connection: %s (addr=%s laddr=%s)%s",
              error.message().c_str(), conn.peer_addr().c_str(), conn.local_addr().c_str(),
              cluster::LogRateLimiter::SuppressedSuffix(*suppressed).c_str());
}

}  // namespace shoal::server
