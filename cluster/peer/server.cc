#include "cluster/peer/server.h"

#include <algorithm>
#include <cctype>

#include "cluster/peer/auth.h"
#include "cluster/peer/log_text.h"
#include "facade/args.h"
#include "facade/errors.h"
#include "facade/tls_session.h"

namespace shoal::cluster {
namespace {

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

PeerServer::PeerServer(uv_loop_t* loop, const storage::Clock& clock, facade::OutputBatch& output,
                       facade::IoStats& io, PeerServerOptions options)
    : loop_(loop), options_(std::move(options)) {
  env_.clock = &clock;
  env_.output = &output;
  env_.io = &io;
  env_.limits.auth_required = true;
  env_.limits.max_bulk_len += kObjectHeadroomBytes;
  env_.limits.query_buffer_limit += kObjectHeadroomBytes;
  env_.seal_output = [this](facade::Connection& conn, std::string& out) { SealOutput(conn, out); };
}

PeerServer::~PeerServer() {
  Close();
}

void PeerServer::Register(std::string_view name, Handler handler) {
  handlers_[Upper(name)] = std::move(handler);
}

void PeerServer::set_limits(const facade::ConnectionLimits& limits) {
  env_.limits = limits;
  env_.limits.auth_required = true;  // always: the handshake is the authentication
  // A replicated object is its value plus its header (clock, dots): a value
  // of proto-max-bulk-len must still travel (a 512 MB SET was refused by
  // every replica's parser, so the coordinator's write failed).
  env_.limits.max_bulk_len += kObjectHeadroomBytes;
  env_.limits.query_buffer_limit += kObjectHeadroomBytes;
}

storage::Status PeerServer::Listen() {
  storage::Status st = listener_.Listen(loop_, options_.host, options_.port, options_.backlog,
                                        [this](int status) { OnAccept(status); });
  if (!st.ok()) return st;
  // The handshake deadline is checked a few times per deadline period.
  const int rc = timer_.Init(loop_, this);
  const uint64_t period =
      static_cast<uint64_t>(std::clamp<int64_t>(options_.handshake_timeout_ms / 4, 10, 1000));
  if (rc != 0 || uv_timer_start(timer_.get(), &PeerServer::OnTimer, period, period) != 0) {
    Log(LogSeverity::kWarning,
        "Cannot start the peer handshake timer: handshakes will not time out");
  }
  return st;
}

void PeerServer::OnTimer(uv_timer_t* timer) noexcept {
  static_cast<PeerServer*>(timer->data)->ExpireHandshakes();
}

void PeerServer::ExpireHandshakes() {
  const int64_t now = env_.clock->NowMs();
  std::vector<uint64_t> expired;
  for (const auto& [id, hs] : handshakes_) {
    if (now - hs.accepted_ms >= options_.handshake_timeout_ms) expired.push_back(id);
  }
  // A batch is sealed in the same socket write as its frames: one still
  // open after the handshake deadline was not sent by a peer.
  std::vector<uint64_t> unsealed;
  for (const auto& [id, session] : sessions_) {
    if (session->verifier.held() > 0 &&
        now - session->batch_started_ms >= options_.handshake_timeout_ms) {
      unsealed.push_back(id);
    }
  }
  for (uint64_t id : unsealed) {
    auto it = conns_.find(id);
    if (it == conns_.end() || it->second->closing()) continue;
    RefuseFrames(*it->second, "a frame was not sealed within " +
                                  std::to_string(options_.handshake_timeout_ms) + " ms");
  }
  for (uint64_t id : expired) {
    auto it = conns_.find(id);
    if (it == conns_.end() || it->second->closing()) continue;
    ++stats_.handshake_timeouts;
    LogLimited(handshake_log_, LogSeverity::kWarning,
               "Closing peer connection from " + LogRepr(it->second->peer_addr()) +
                   ": no handshake within " + std::to_string(options_.handshake_timeout_ms) +
                   " ms");
    it->second->Close();
  }
}

void PeerServer::Close() {
  if (closed_) return;
  closed_ = true;
  listener_.Close();
  timer_.reset();
  for (auto& [id, c] : conns_) {
    c->Flush();  // a best effort to deliver replies already produced
    c->Close();
  }
}

void PeerServer::OnAccept(int status) {
  if (status != 0) {
    Log(LogSeverity::kWarning, std::string("Accepting peer connection: ") + uv_strerror(status));
    return;
  }
  const uint64_t id = next_id_++;
  auto conn = std::make_unique<facade::Connection>(id, *this, env_);
  facade::Connection* raw = conn.get();
  int rc = uv_tcp_init(loop_, raw->handle());
  if (rc != 0) {
    Log(LogSeverity::kWarning, std::string("Accepting peer connection: ") + uv_strerror(rc));
    return;
  }
  conns_.emplace(id, std::move(conn));
  rc = listener_.Accept(raw->handle());
  if (rc != 0) {
    raw->Close();
    return;
  }
  if (handshakes_.size() >= options_.max_unauthenticated) {
    // Accepted only to be closed: the socket is given back at once, so
    // half-open connections cannot use up the node's file descriptors.
    ++stats_.refused_connections;
    raw->Start();  // records the address for the log line
    LogLimited(accept_log_, LogSeverity::kWarning,
               "Refusing peer connection from " + LogRepr(raw->peer_addr()) + ": " +
                   std::to_string(handshakes_.size()) +
                   " peer connections are already in the handshake");
    raw->Close();
    return;
  }
  handshakes_[id].accepted_ms = env_.clock->NowMs();
  // Best effort: a failure only costs latency.
  (void)uv_tcp_nodelay(raw->handle(), 1);
  if (!options_.tls) {
    raw->Start();
    return;
  }
  std::shared_ptr<facade::TlsContext> ctx = options_.tls();
  auto session = ctx ? facade::TlsSession::Create(*ctx, facade::TlsRole::kServer,
                                                  facade::TlsPeerAuth::kRequired)
                     : storage::Result<std::unique_ptr<facade::TlsSession>>(
                           storage::Status::Invalid("TLS is not configured"));
  if (!session.ok()) {
    Log(LogSeverity::kWarning, "Accepting peer connection: " + session.status().message());
    raw->Close();
    return;
  }
  raw->StartTls(std::move(session).value());
}

void PeerServer::OnRequest(facade::Connection& conn, std::vector<std::string>& argv) {
  conn.ScheduleFlush();
  if (!conn.state().authenticated) {
    facade::ReplyBuilder reply(conn.ReplyTarget());
    return Handshake(conn, argv, reply);
  }
  auto session = sessions_.find(conn.id());
  if (session == sessions_.end()) return conn.Close();
  FrameVerifier& verifier = session->second->verifier;
  if (argv.size() != 2 || argv[0] != kSealCommand) {
    // A frame of the open batch: it runs once the batch's seal verifies.
    if (verifier.held() == 0) session->second->batch_started_ms = env_.clock->NowMs();
    if (!verifier.Hold(std::move(argv))) {
      RefuseFrames(conn, "a batch of frames went past its bounds without a seal");
    }
    return;
  }
  auto frames = verifier.Open(argv[1]);
  if (!frames) {
    // Not from the node that made the handshake: a relayed or spliced
    // connection, or a corrupted one. Nothing of it runs.
    return RefuseFrames(conn, "a frame failed its MAC check");
  }
  for (std::vector<std::string>& frame : *frames) {
    if (conn.closing()) return;
    facade::ReplyBuilder reply(conn.ReplyTarget());
    auto it = handlers_.find(Upper(frame[0]));
    if (it == handlers_.end()) {
      reply.Error(facade::errors::UnknownPeerCommand(frame[0]));
      continue;
    }
    it->second(conn, frame, reply);
  }
}

void PeerServer::RefuseFrames(facade::Connection& conn, const std::string& why) {
  ++stats_.mac_failures;
  const std::string* id = RemoteId(conn);
  LogLimited(mac_log_, LogSeverity::kWarning,
             "Closing peer connection from " + LogRepr(conn.peer_addr()) + " (node " +
                 LogRepr(id != nullptr ? *id : std::string()) + "): " + why +
                 " (relayed or tampered connection?)");
  conn.Close();
}

void PeerServer::Handshake(facade::Connection& conn, std::vector<std::string>& argv,
                           facade::ReplyBuilder& reply) {
  struct Handshake& hs = handshakes_[conn.id()];
  const std::string& cmd = argv[0];
  if (facade::EqualsIgnoreCase(cmd, "shoal.hello") && hs.nonce.empty() &&
      (argv.size() == 3 || (argv.size() == 4 && argv[3] != kPeerProtocolVersion))) {
    // A node of another protocol version (version 1 sent no version).
    ++stats_.auth_failures;
    LogLimited(handshake_log_, LogSeverity::kWarning,
               "Peer connection from " + LogRepr(conn.peer_addr()) + " (node " +
                   LogRepr(argv[1], 40) + ") speaks protocol version " +
                   LogRepr(argv.size() == 4 ? argv[3] : std::string("1"), 16) + ", this node " +
                   std::string(kPeerProtocolVersion) +
                   ": refused (a rolling upgrade across versions is not supported)");
    reply.Error(kPeerVersionError);
    conn.CloseAfterReply();
    return;
  }
  if (facade::EqualsIgnoreCase(cmd, "shoal.hello") && argv.size() == 4 && hs.nonce.empty()) {
    hs.remote_id = argv[1];
    hs.client_nonce = argv[2];
    hs.nonce = NewNonce();
    reply.ArrayHeader(3);
    reply.Bulk(options_.self_id);
    reply.Bulk(hs.nonce);
    reply.Bulk(ServerProof(options_.secret, argv[2], options_.self_id, hs.remote_id));
    return;
  }
  if (facade::EqualsIgnoreCase(cmd, "shoal.auth") && argv.size() == 2 && !hs.nonce.empty()) {
    std::string expected = ClientProof(options_.secret, hs.nonce, hs.remote_id, options_.self_id);
    if (SecretEquals(expected, argv[1])) {
      conn.state().authenticated = true;
      const std::string remote_id = hs.remote_id;
      auto session = std::make_unique<Session>(DeriveSessionKeys(
          options_.secret, hs.client_nonce, hs.nonce, remote_id, options_.self_id));
      verified_[conn.id()] = remote_id;
      handshakes_.erase(conn.id());
      reply.Ok();
      // The +OK goes out as it is; everything written after it is sealed.
      // Should it not leave now (an earlier write still in progress, which a
      // peer that waits for each reply never causes), the connection is
      // dropped rather than sealing the +OK; the peer retries.
      conn.Flush();
      if (conn.closing()) return;
      if (conn.has_output()) {
        conn.Close();
        return;
      }
      sessions_[conn.id()] = std::move(session);
      if (on_verified_) on_verified_(conn, remote_id);
      return;
    }
    ++stats_.auth_failures;
    LogLimited(handshake_log_, LogSeverity::kWarning,
               "Peer connection from " + LogRepr(conn.peer_addr()) + " (node " +
                   LogRepr(hs.remote_id, 40) + ") failed authentication: wrong cluster-secret?");
    reply.Error(facade::errors::kPeerAuthError);
    conn.CloseAfterReply();
    return;
  }
  if (!cmd.empty() && cmd[0] == '\x16') {
    // 0x16 starts a TLS handshake record: a node with tls-cluster yes.
    ++stats_.tls_failures;
    LogLimited(handshake_log_, LogSeverity::kWarning,
               "Peer connection from " + LogRepr(conn.peer_addr()) +
                   " speaks TLS but this node has tls-cluster no: refused (set tls-cluster "
                   "alike on every node)");
    conn.Close();
    return;
  }
  // A Redis client on the bus port, or a peer out of step.
  reply.Error(facade::errors::kPeerPortError);
  conn.CloseAfterReply();
}

void PeerServer::SealOutput(facade::Connection& conn, std::string& out) {
  auto it = sessions_.find(conn.id());
  if (it != sessions_.end()) it->second->sealer.Seal(out);
}

void PeerServer::OnProtocolError(facade::Connection& conn, std::string_view error) {
  LogLimited(handshake_log_, LogSeverity::kVerbose,
             "Protocol error (" + std::string(error) + ") from peer connection " +
                 LogRepr(conn.peer_addr()));
}

void PeerServer::OnQueryBufferOverflow(facade::Connection& conn) {
  LogLimited(
      handshake_log_, LogSeverity::kWarning,
      "Closing peer connection that reached max query buffer length: " + LogRepr(conn.peer_addr()));
}

void PeerServer::OnTlsError(facade::Connection& conn, const storage::Status& error) {
  ++stats_.tls_failures;
  LogLimited(handshake_log_, LogSeverity::kWarning,
             "Peer connection from " + LogRepr(conn.peer_addr()) + " refused: " + error.message() +
                 " (this node has tls-cluster yes: is the other node plain, or its certificate "
                 "not signed by tls-ca-cert-file?)");
}

void PeerServer::OnClosed(facade::Connection& conn) {
  if (on_closed_) on_closed_(conn);
  handshakes_.erase(conn.id());
  verified_.erase(conn.id());
  sessions_.erase(conn.id());
  conns_.erase(conn.id());
}

const std::string* PeerServer::RemoteId(const facade::Connection& conn) const {
  auto it = verified_.find(conn.id());
  return it == verified_.end() ? nullptr : &it->second;
}

void PeerServer::Log(LogSeverity severity, const std::string& msg) const {
  if (options_.log) options_.log(severity, EscapeLogLine(msg));
}

void PeerServer::LogLimited(LogRateLimiter& limiter, LogSeverity severity, const std::string& msg) {
  const std::optional<uint64_t> suppressed = limiter.Admit(env_.clock->NowMs());
  if (!suppressed) return;
  Log(severity, msg + LogRateLimiter::SuppressedSuffix(*suppressed));
}

}  // namespace shoal::cluster
