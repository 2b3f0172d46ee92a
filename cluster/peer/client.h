// The outbound half of the peer channel: one pipelined, authenticated
// connection from this node to one peer's cluster port.
//
// A PeerClient connects (a libuv TCP socket, replies parsed by hiredis's
// standalone reader), runs the handshake of cluster/peer/auth.h (SHOAL.HELLO,
// then SHOAL.AUTH once the peer has proved the cluster-secret), and then
// carries request frames, each with its MAC (cluster/peer/frame_mac.h):
// RESP arrays of bulk strings out, RESP replies back,
// matched in order; a reply with no request waiting, or bytes that are not
// RESP, drop the connection. It does not interpret requests or replies. A
// lost or failed connection is retried with a doubling, jittered backoff, for
// as long as the client lives.
//
// Threading: everything runs on the thread of the loop given to the
// constructor; no method is thread-safe.
//
// Re-entrancy: request callbacks and events run on the loop, some of them
// synchronously inside Send(), Start() and SetAddress(). Any of them may call
// back into the client (Send, SetAddress) and may destroy it; the client
// touches nothing of itself after a callback that destroyed it.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "facade/tls_context.h"
#include "facade/uv_handle.h"

struct redisReply;

namespace shoal::cluster {

class PeerConn;  // cluster/peer/connection.h

// A copy of one RESP reply (callers never see hiredis types).
struct PeerReply {
  enum class Type { kString, kStatus, kError, kInteger, kNil, kArray };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  int64_t integer = 0;
  std::vector<PeerReply> elements;  // kArray
};

enum class PeerOutcome {
  kReply,         // the peer answered (possibly with an error reply)
  kTimeout,       // no reply by the deadline; the request may still have been applied
  kDisconnected,  // the request was written (or queued) and the connection was lost
  kOverloaded,    // refused: max_inflight or max_pending_bytes reached
  kNotConnected,  // refused: no connection (backing off after a failure), or never sent
};

// Called once with late=false when the request completes or fails. If it
// failed with kTimeout and the reply arrives afterwards, called a second time
// with (kReply, reply, late=true). `reply` is valid only during the call
// (nullptr unless outcome is kReply).
using PeerCallback = std::function<void(PeerOutcome, const PeerReply* reply, bool late)>;

struct PeerClientOptions {
  std::string self_id;  // our node id (sent in HELLO)
  std::string secret;   // cluster-secret; empty = an empty HMAC key
  // tls-cluster yes: the context each connection attempt takes its client
  // session from (it may change between attempts: CONFIG SET reloads it).
  // Empty: plain TCP. The handshake and frame MACs run inside TLS as well.
  std::function<std::shared_ptr<facade::TlsContext>()> tls;
  // Source address of the outbound socket (bound before connecting), so that
  // peers and firewalls see this node as its own address; empty = any.
  std::string bind_addr;
  // Connect + HELLO + AUTH must finish within this, or the attempt fails.
  int64_t handshake_timeout_ms = 2000;
  // Reconnect backoff: starts at min, doubles per failed attempt up to max,
  // each delay drawn from [delay/2, delay]; back to min once a handshake succeeds.
  int64_t backoff_min_ms = 100, backoff_max_ms = 2000;
  // Requests sent or queued but not yet answered; timed-out ones still count
  // until their late reply or the end of their connection.
  size_t max_inflight = 16384;
  // Bytes of argument payload of those same requests. One request bigger
  // than this on its own is accepted while at most half of it is pending.
  size_t max_pending_bytes = 64 << 20;
  // The largest reply (bytes buffered while incomplete) accepted from a
  // verified peer; before the handshake completes the limit is
  // PeerConn::kHandshakeReplyLimit. Past it the connection is dropped.
  size_t max_reply_bytes = size_t{1} << 30;
};

// Connection events, all optional. Exactly one of on_ready, on_down or
// on_auth_failure ends each connection attempt; a ready connection that is
// lost ends with on_down. The owner should rate-limit what it logs: a peer
// that stays unreachable yields one on_down per retry.
struct PeerClientEvents {
  // The handshake completed; `remote_id` is the node id the peer proved.
  std::function<void(const std::string& remote_id)> on_ready;
  // A ready connection was lost, or a connect or handshake attempt failed.
  std::function<void(const std::string& why)> on_down;
  // The handshake failed on the secret, whichever side noticed (most likely
  // the two nodes have different cluster-secrets), or the TLS handshake
  // failed (a certificate that does not verify, a peer without
  // tls-cluster yes). Not followed by on_down.
  std::function<void(const std::string& why)> on_auth_failure;
};

class PeerClient {
 public:
  // Does not connect until Start(). `loop` must outlive the client and keep
  // running after its destruction until the client's handles are closed (the
  // destructor starts their uv_close).
  PeerClient(uv_loop_t* loop, std::string host, int port, PeerClientOptions options,
             PeerClientEvents events);

  // Fails every pending request with kDisconnected (their callbacks run here,
  // and a Send from one of them fails with kNotConnected), fires no events,
  // and closes the connection and timer. Safe to call from inside any of the
  // client's own callbacks.
  ~PeerClient();

  PeerClient(const PeerClient&) = delete;
  PeerClient& operator=(const PeerClient&) = delete;

  // Begins connecting. Idempotent. A failure detected at once (an address
  // that does not resolve, a bind_addr that cannot be bound) fires on_down
  // before Start returns, then backs off and retries as any failure. If
  // libuv refused the client's timer, every attempt fails that way and none
  // is retried.
  void Start();

  // Sends argv as one RESP array of bulk strings; binary safe. An empty argv
  // fails at once with kNotConnected.
  // `deadline_ms` is an absolute uv_now(loop) time; the callback fires with
  // kTimeout at the deadline if no reply came (within a loop turn). A big
  // request's deadline is pushed back by kBigRequestMsPerMiB per MiB of
  // arguments past the first: moving, MACing and applying a 512 MB value
  // takes the peer seconds, and a peer busy with it is not a failed one.
  // - Ready: written at once; replies arrive in send order.
  // - Not started, connecting or handshaking: queued, written once ready in
  //   send order; if the attempt fails they end with kNotConnected.
  // - Backing off after a failure: fails at once with kNotConnected.
  // - Past max_inflight / max_pending_bytes: fails at once with kOverloaded.
  // The callback may run before Send returns; callers must allow that.
  void Send(std::vector<std::string> argv, int64_t deadline_ms, PeerCallback cb);
  static constexpr int64_t kBigRequestMsPerMiB = 100;  // 10 MB/s

  // Ends a backoff early, for a caller that knows the peer is back (another
  // link to it is ready): connects now unless the last attempt began less
  // than backoff_min_ms ago. Does nothing in any other phase. Runs no
  // request callback (a client backing off holds no request); an attempt
  // that fails at once fires on_down as any failure.
  void RetryNow();

  // True once the handshake completed, until the connection is lost.
  bool ready() const { return phase_ == Phase::kReady; }
  // The node id the peer proved in the last completed handshake; empty until
  // the first. It stays set while the connection is down.
  const std::string& remote_id() const { return remote_id_; }
  const std::string& host() const { return host_; }
  int port() const { return port_; }
  // The local address (host only) of the last connection whose handshake
  // completed: the address this node used to reach the peer, which is the
  // address the peer sees. Set before on_ready fires; "" until then, or if
  // the OS would not tell.
  const std::string& local_host() const { return local_host_; }

  // Points the client at a new address. If it differs and the client was
  // started: a connection or attempt in progress is dropped (written
  // requests fail with kDisconnected, on_down fires if one was in progress),
  // the backoff resets, and connecting to the new address starts at once;
  // queued requests wait for it.
  void SetAddress(std::string host, int port);

  struct Stats {
    uint64_t connects = 0;       // handshakes completed (times the client became ready)
    uint64_t reconnects = 0;     // connection attempts begun after the first one
    uint64_t timeouts = 0;       // requests failed with kTimeout
    uint64_t auth_failures = 0;  // handshakes failed on the secret (either side)
    uint64_t sent = 0;           // requests written to a connection (handshake not counted)
    uint64_t replies = 0;        // replies to requests, late ones included
    uint64_t late_replies = 0;   // replies that came after their request's kTimeout
  };
  const Stats& stats() const { return stats_; }
  // Requests counted against max_inflight (queued, written, or timed out and
  // still awaiting their late reply).
  size_t inflight() const { return inflight_; }
  // How many requests Send has taken so far (refused ones included).
  uint64_t requests_made() const { return next_seq_ - 1; }

 private:
  enum class Phase {
    kIdle,     // not started
    kHello,    // connecting; HELLO written, waiting for the peer's proof
    kAuth,     // peer verified; AUTH written, waiting for +OK
    kReady,    // handshake done; requests flow
    kBackoff,  // after a failure, until retry_at_
    kClosed,   // destructor running
  };
  enum class Failure { kDown, kAuth };

  struct Request {
    uint64_t seq = 0;
    std::vector<std::string> argv;  // emptied once written
    size_t bytes = 0;
    int64_t deadline_ms = 0;
    PeerCallback cb;
    bool written = false;    // on the wire; its reply will come
    bool timed_out = false;  // kTimeout delivered (a written one awaits its late reply)
  };

  static void OnTimer(uv_timer_t* timer) noexcept;

  int64_t Now() const;
  void Connect();
  void OnConnReply(const void* tag, const redisReply& reply);
  void OnHelloReply(const redisReply& reply);
  void OnAuthReply(const redisReply& reply);
  void OnRequestReply(const redisReply& reply);
  void OnConnGone(const std::string& why);
  // Ends the current connection or attempt: written requests fail with
  // kDisconnected, queued ones with kNotConnected unless keep_queue, then the
  // event for `failure` fires. Leaves the client in kBackoff.
  void Drop(Failure failure, const std::string& why, bool keep_queue = false);
  void DetachConn();
  // Writes one frame on conn_ (runs no callbacks); false if libuv refused it.
  bool Write(std::vector<std::string>&& argv, void* tag);
  void Tick();
  void ExpireRequests(int64_t now);
  Request* Find(uint64_t seq);
  void CompactDeadlines();
  void Arm();
  int64_t NextBackoff();
  std::string Address() const;

  uv_loop_t* const loop_;
  std::string host_;
  int port_;
  const PeerClientOptions options_;
  const PeerClientEvents events_;

  facade::UvHandle<uv_timer_t> timer_;  // empty only if libuv refused it, or once destroyed
  int timer_error_ = 0;                 // why timer_ is empty
  int64_t armed_at_;                    // when timer_ fires; kNever if stopped
  PeerConn* conn_ = nullptr;  // the current connection; it frees itself once its socket is closed
  // Set false by the destructor; callers hold a copy across user callbacks.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  Phase phase_ = Phase::kIdle;
  std::string client_nonce_;  // of the attempt in progress
  std::string pending_id_;    // the peer's id, verified, until AUTH is accepted
  std::string server_nonce_;  // the peer's challenge in the attempt in progress
  std::string remote_id_;
  std::string local_host_;
  int64_t handshake_deadline_ = 0;
  int64_t retry_at_ = 0;
  int64_t connect_at_ = 0;  // when the last attempt began
  int64_t backoff_ms_;
  uint64_t attempts_ = 0;
  std::mt19937_64 rng_;  // backoff jitter

  // Requests in send order (by seq): written ones, then those waiting for the
  // handshake. Only written ones are in sent_; a queued one that timed out
  // stays in queue_ until the flush, inert.
  std::deque<Request> sent_;
  std::deque<Request> queue_;
  uint64_t next_seq_ = 1;
  size_t inflight_ = 0;
  size_t pending_bytes_ = 0;
  // Min-heap of (deadline, seq); entries of finished requests are dropped lazily.
  std::priority_queue<std::pair<int64_t, uint64_t>, std::vector<std::pair<int64_t, uint64_t>>,
                      std::greater<>>
      deadlines_;

  Stats stats_;
};

}  // namespace shoal::cluster
