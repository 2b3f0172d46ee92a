#pragma once
// PeerServer: the inbound side of the peer channel (the cluster port). It
// owns the listener and the peer connections, runs the acceptor's half of
// the handshake (cluster/peer/auth.h; the connector's half is
// cluster/peer/client.h) and then serves the peer frames registered in its
// table (SHOAL.MGET, SHOAL.MPUT, SHOAL.MEMBERS, SHOAL.FWD, SHOAL.LOCAL).
//
// Until a connection proves the cluster-secret, only SHOAL.HELLO and
// SHOAL.AUTH are served and the parser's pre-authentication limits apply; a
// Redis client on this port gets an error and is closed. A connection must
// complete the handshake within handshake_timeout_ms of its accept, and at
// most max_unauthenticated connections may be in the handshake at once (the
// next ones are closed at accept), so idle or half-open connections cannot
// use up the node's file descriptors. Log lines a remote party can trigger
// at will (refused or failed handshakes, bad MACs) are rate limited.
//
// Under tls-cluster yes every connection is TLS first (the handshake and
// the MACs below run inside it, unchanged); a connection that is not, or
// whose certificate the CA did not sign, is closed with a log line.
//
// Once verified, frames come in sealed batches (cluster/peer/frame_mac.h):
// a batch's frames are held until its SHOAL.SEAL verifies and then run in
// order; a bad seal, a batch past its bounds or one left unsealed for
// handshake_timeout_ms closes the connection, and none of its frames runs.
// Every flush of replies goes out as a sealed chunk. Peer connections
// are not clients: they are not listed, counted or timed out as clients.
//
// Runs on the loop thread.

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cluster/log_sink.h"
#include "cluster/peer/frame_mac.h"
#include "cluster/peer/log_rate_limiter.h"
#include "facade/connection.h"
#include "facade/listener.h"
#include "facade/reply_builder.h"
#include "facade/tls_context.h"
#include "facade/uv_handle.h"
#include "storage/clock.h"
#include "storage/status.h"

namespace shoal::cluster {

struct PeerServerOptions {
  std::string self_id;
  std::string secret;  // cluster-secret
  std::string host;    // bind address
  int port = 0;        // the cluster port
  int backlog = 511;
  // A connection that has not completed the handshake this long after its
  // accept is closed.
  int64_t handshake_timeout_ms = 5000;
  // Connections in the handshake at once; further ones are closed at accept.
  size_t max_unauthenticated = 128;
  // tls-cluster yes: the context each accepted connection takes its server
  // session from; the peer must present a certificate of the CA (mutual
  // verification). A plain connection then fails its TLS handshake and is
  // closed. Empty: plain TCP, and a TLS ClientHello is refused likewise.
  std::function<std::shared_ptr<facade::TlsContext>()> tls;
  LogSink log;
};

struct PeerServerStats {
  uint64_t auth_failures = 0;        // inbound handshakes refused
  uint64_t handshake_timeouts = 0;   // closed for not completing the handshake in time
  uint64_t refused_connections = 0;  // closed at accept: max_unauthenticated reached
  uint64_t mac_failures = 0;         // verified connections closed for a frame's bad MAC
  uint64_t tls_failures = 0;         // TLS handshakes failed, records that did not decrypt
};

class PeerServer final : public facade::ConnectionHandler {
 public:
  // A peer frame's handler: argv[0] is the frame's name. The reply goes to
  // `reply` now, or later through conn.DeferReply()/CompleteReply().
  using Handler = std::function<void(facade::Connection& conn, std::vector<std::string>& argv,
                                     facade::ReplyBuilder& reply)>;

  PeerServer(uv_loop_t* loop, const storage::Clock& clock, facade::OutputBatch& output,
             facade::IoStats& io, PeerServerOptions options);
  ~PeerServer();

  // Registers the frame `name` (upper case, e.g. "SHOAL.MGET"), served once
  // the handshake is done.
  void Register(std::string_view name, Handler handler);
  // Called when a peer connection closes (the dispatcher drops its queue).
  void set_on_closed(std::function<void(facade::Connection&)> fn) { on_closed_ = std::move(fn); }
  // Called when a connection completes the handshake: `remote_id` is the
  // node id it proved. conn.local_host() is the address the peer reached
  // us at.
  void set_on_verified(std::function<void(facade::Connection&, const std::string& remote_id)> fn) {
    on_verified_ = std::move(fn);
  }

  storage::Status Listen();
  // Closes the listener and every peer connection.
  void Close();

  // The clients' limits, with room for an object's header on top of a
  // value of max_bulk_len (objects with several big siblings may still
  // exceed it and are refused).
  void set_limits(const facade::ConnectionLimits& limits);
  static constexpr int64_t kObjectHeadroomBytes = 1 << 20;
  // The node id a connection proved in its handshake, or nullptr before.
  const std::string* RemoteId(const facade::Connection& conn) const;
  const PeerServerStats& stats() const { return stats_; }
  // Connections accepted and not yet verified.
  size_t unauthenticated() const { return handshakes_.size(); }

 private:
  struct Handshake {
    int64_t accepted_ms = 0;
    std::string remote_id;     // as the peer announced it in SHOAL.HELLO
    std::string client_nonce;  // the peer's, from SHOAL.HELLO
    std::string nonce;         // our challenge, once sent
  };
  // A verified connection's MAC state.
  struct Session {
    explicit Session(const SessionKeys& keys) : verifier(keys.requests), sealer(keys.replies) {}
    FrameVerifier verifier;
    ReplySealer sealer;
    int64_t batch_started_ms = 0;  // when the open batch's first frame came
  };

  void OnAccept(int status);
  void OnRequest(facade::Connection& conn, std::vector<std::string>& argv) override;
  void OnProtocolError(facade::Connection& conn, std::string_view error) override;
  void OnQueryBufferOverflow(facade::Connection& conn) override;
  void OnTlsError(facade::Connection& conn, const storage::Status& error) override;
  void OnClosed(facade::Connection& conn) override;
  void Handshake(facade::Connection& conn, std::vector<std::string>& argv,
                 facade::ReplyBuilder& reply);
  void Log(LogSeverity severity, const std::string& msg) const;
  // Logs through `limiter`: at most one line per second, with the count of
  // those held back.
  void LogLimited(LogRateLimiter& limiter, LogSeverity severity, const std::string& msg);
  void SealOutput(facade::Connection& conn, std::string& out);
  // Closes a verified connection whose frames cannot be trusted: counted
  // in mac_failures and logged (rate limited) with `why`.
  void RefuseFrames(facade::Connection& conn, const std::string& why);
  void ExpireHandshakes();
  static void OnTimer(uv_timer_t* timer) noexcept;

  uv_loop_t* loop_;
  PeerServerOptions options_;
  facade::ConnectionEnv env_;
  facade::Listener listener_;
  std::unordered_map<std::string, Handler> handlers_;
  std::unordered_map<uint64_t, std::unique_ptr<facade::Connection>> conns_;
  std::unordered_map<uint64_t, struct Handshake> handshakes_;        // accepted, until verified
  std::unordered_map<uint64_t, std::string> verified_;               // connection -> node id
  std::unordered_map<uint64_t, std::unique_ptr<Session>> sessions_;  // verified ones
  facade::UvHandle<uv_timer_t> timer_;  // expires handshakes; empty if libuv refused it
  LogRateLimiter accept_log_;           // refused at accept
  LogRateLimiter handshake_log_;        // failed or timed-out handshakes
  LogRateLimiter mac_log_;              // bad MACs
  std::function<void(facade::Connection&)> on_closed_;
  std::function<void(facade::Connection&, const std::string&)> on_verified_;
  PeerServerStats stats_;
  uint64_t next_id_ = 1;
  bool closed_ = false;
};

}  // namespace shoal::cluster
