#pragma once
// Connection: one TCP connection speaking RESP, in clear or over TLS
// (StartTls: facade/tls_session.h between the socket and the buffers below). Reads bytes into its
// input buffer, runs the request parser over them, hands each request to its ConnectionHandler and
// keeps the replies in request order (ReplyQueue), flushing them once per loop iteration
// (OutputBatch::FlushAll).
//
// The front end knows nothing of commands, the keyspace or the cluster: the
// handler decides what a request means. Client connections and peer
// connections (the cluster port) are both Connections with different
// handlers and limits.
//
// Lifetime: created and owned by whoever accepts it (the server); Close()
// starts uv_close and ConnectionHandler::OnClosed runs in the close callback,
// where the owner may destroy the Connection, so the uv handle's memory
// outlives libuv's use of it. Runs on the loop thread.

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "facade/error_stats.h"
#include "facade/reply_builder.h"
#include "facade/reply_queue.h"
#include "facade/request_parser.h"
#include "storage/clock.h"
#include "storage/status.h"

namespace shoal::facade {

class Connection;
class TlsSession;  // facade/tls_session.h

// CLIENT REPLY: whether this connection's replies are sent (Redis's
// CLIENT_REPLY_OFF, CLIENT_REPLY_SKIP_NEXT and CLIENT_REPLY_SKIP flags).
enum class ReplyMode : uint8_t {
  kOn,
  kOff,       // CLIENT REPLY OFF: every reply dropped until CLIENT REPLY ON
  kSkipNext,  // CLIENT REPLY SKIP just ran: the next command's reply is dropped
  kSkip,      // the command running now is that next command
};

// Per-connection state the command layer reads and changes (CLIENT SETNAME,
// AUTH, HELLO, QUIT...). Owned by the connection; in unit tests by the test.
struct ClientState {
  uint64_t id = 0;
  std::string name;      // CLIENT SETNAME
  std::string lib_name;  // CLIENT SETINFO LIB-NAME
  std::string lib_ver;   // CLIENT SETINFO LIB-VER
  bool authenticated = false;
  int resp = 2;  // the protocol of replies: 2 or 3 (HELLO)
  ReplyMode reply_mode = ReplyMode::kOn;
  bool monitor = false;            // MONITOR: gets every command this node processes
  bool no_evict = false;           // CLIENT NO-EVICT (shoal never evicts clients)
  bool close_after_reply = false;  // QUIT, CLIENT KILL of self
  std::string_view last_command;   // name of the last command run (a table row's)
  // MULTI: commands queued so far (-1 outside a transaction) and the bytes
  // of their arguments (CLIENT LIST's multi and multi-mem).
  int64_t multi_queued = -1;
  size_t multi_mem = 0;
};

// What a connection's owner does with its requests and its end.
class ConnectionHandler {
 public:
  // One parsed request. The reply goes to conn.ReplyTarget() now, or later
  // through conn.DeferReply() / conn.CompleteReply().
  virtual void OnRequest(Connection& conn, std::vector<std::string>& argv) = 0;
  // The input broke the protocol (the error reply is queued and the
  // connection closes once it is written), or outgrew the query buffer limit
  // (the connection is closed at once). For logging.
  virtual void OnProtocolError(Connection& conn, std::string_view error) = 0;
  virtual void OnQueryBufferOverflow(Connection& conn) = 0;
  // The pending output passed the output buffer limits (ConnectionLimits):
  // the connection is being closed at once. `omem` is the pending output
  // then. For logging and statistics.
  virtual void OnOutputBufferLimit(Connection& /*conn*/, size_t /*omem*/) {}
  // A TLS connection failed (its handshake, or a record that does not
  // decrypt): it is being closed at once. For logging; a remote party can
  // trigger it at will, so rate-limit what is logged.
  virtual void OnTlsError(Connection& /*conn*/, const storage::Status& /*error*/) {}
  // The close callback ran: the owner may destroy `conn` now.
  virtual void OnClosed(Connection& conn) = 0;
  // A connection that held its request with HoldUntilReplied() has no
  // deferred reply outstanding any more: the owner should Resume() it soon,
  // outside the current call stack (it is called from CompleteReply).
  virtual void OnHoldReleased(Connection& /*conn*/) {}

 protected:
  ~ConnectionHandler() = default;
};

// One class of Redis's client-output-buffer-limit: a connection whose
// pending output reaches `hard` bytes, or stays at `soft` bytes or more for
// longer than `soft_ms`, is closed at once. 0 turns a limit off.
struct OutputLimit {
  size_t hard = 0;
  size_t soft = 0;
  int64_t soft_ms = 0;
};

// Before authentication a client may hold this much pending output, no
// more: Redis closes such a client once its reply list passes 1 KiB (on top
// of its 16 KiB reply buffer); shoal counts all pending output and allows
// the same 17 KiB.
constexpr size_t kUnauthOutputLimit = 17 * 1024;

// Limits the parser applies; the owner keeps them current (CONFIG SET).
struct ConnectionLimits {
  // Requests get the parser's pre-authentication limits until
  // ClientState::authenticated is set.
  bool auth_required = false;
  int64_t max_bulk_len = 512ll * 1024 * 1024;  // proto-max-bulk-len
  // client-query-buffer-limit: unparsed input plus the request being parsed
  // (its arguments' bytes and its argument vector).
  size_t query_buffer_limit = 1024ull * 1024 * 1024;
  OutputLimit output;  // client-output-buffer-limit of the connection's class
  // Pending output allowed while auth_required and not authenticated.
  size_t unauth_output_limit = kUnauthOutputLimit;
};

struct IoStats {
  uint64_t net_input_bytes = 0;
  uint64_t net_output_bytes = 0;
};

// How far the node's append-only log is, for the connections: the output
// of a request that logged something is not sent until the log has
// committed it (written, or fsynced under appendfsync always), so that no
// reply acknowledges a write before it is durable by the configured rule,
// while the output of other connections goes out meanwhile. Positions only
// grow. Implemented above the facade (server/persistence.h). Loop thread.
class CommitGate {
 public:
  // The position after every record logged so far.
  virtual uint64_t logged() const = 0;
  // The position up to which records are committed.
  virtual uint64_t committed() const = 0;

 protected:
  ~CommitGate() = default;
};

// The connections with output to write in this loop iteration. The owner
// calls FlushAll once per iteration (after the append-only log's group
// commit, so no reply leaves before its write is on disk). Connections whose
// output waits for the log (CommitGate) are kept and tried again at every
// FlushAll.
class OutputBatch {
 public:
  void Schedule(Connection& conn);
  void FlushAll();
  // A connection is going away: it must not be flushed any more.
  void Forget(Connection& conn);
  // The log's gate (nullptr: none, every output leaves at once). Must
  // outlive the batch's connections.
  void set_gate(const CommitGate* gate) { gate_ = gate; }
  const CommitGate* gate() const { return gate_; }
  // `conn`'s output waits for the log: Flush it again at a later FlushAll.
  void Wait(Connection& conn);
  // Connections waiting for the log (tests, INFO).
  size_t waiting() const { return waiting_.size(); }

 private:
  std::vector<Connection*> pending_;
  std::vector<Connection*> flushing_;  // the batch FlushAll is walking
  std::vector<Connection*> waiting_;
  const CommitGate* gate_ = nullptr;
};

// What the connections of one listener share; must outlive them.
struct ConnectionEnv {
  ConnectionLimits limits;
  const storage::Clock* clock = nullptr;
  OutputBatch* output = nullptr;
  IoStats* io = nullptr;
  // Error replies counted here as they are queued (nullptr: not counted, as
  // for peer connections, which are not clients).
  ErrorStats* errors = nullptr;
  // Applied to a connection's pending output just before it is written,
  // once per write: it may rewrite the bytes in place (the peer channel
  // seals its replies with a MAC, cluster/peer/frame_mac.h). Empty: none.
  std::function<void(Connection&, std::string& out)> seal_output;
};

// The output of a connection is its output buffer (replies in order) with
// SharedBytes attached at positions in it (big values sent without a copy,
// ReplyAttacher): a big GET reply is its header and CRLF in the buffer and
// the stored value itself, pinned, in between.
// SharedBytes sent after the first `at` bytes of a connection's output
// buffer.
struct Attached {
  size_t at;
  SharedBytes bytes;
};

class Connection final : public ReplyAttacher {
 public:
  Connection(uint64_t id, ConnectionHandler& handler, ConnectionEnv& env);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The handle to accept into. Valid for the Connection's lifetime.
  uv_tcp_t* handle() { return &handle_; }
  // After accept: records addresses and starts reading.
  void Start();
  // As Start, for a connection whose bytes are TLS (tls-port, tls-cluster):
  // everything read goes through `tls` before the parser, everything
  // written through it after the replies. Replies queued before the
  // handshake completes wait for it. A plain connection has no session and
  // never takes the TLS branches beyond one pointer test per read and write.
  void StartTls(std::unique_ptr<TlsSession> tls);
  bool is_tls() const { return tls_ != nullptr; }
  // A TLS connection whose handshake has not completed (the owner gives it
  // a deadline).
  bool tls_handshaking() const;

  // Closes the connection at once, dropping unsent output.
  void Close();
  // Stops reading and closes once the pending replies are written.
  void CloseAfterReply();
  bool closing() const { return closing_; }

  // Writes pending output: uv_try_write first, uv_write for the rest.
  void Flush();
  bool has_output() const { return !out_.empty(); }

  // Where the reply of the request being handled goes (in order).
  std::string* ReplyTarget() { return replies_.Target(); }
  // ReplyAttacher: takes `bytes` at the end of the output buffer when `out`
  // is that buffer (nothing held behind a deferred reply), the connection is
  // in clear and its output is not sealed; else false.
  bool Attach(std::string* out, SharedBytes bytes) override;
  // A reply that completes later: reserve its place, then complete it. Its
  // bytes are counted in ErrorStats if they are an error reply.
  uint64_t DeferReply() {
    deferred_ = true;
    uint64_t ticket = replies_.Defer();
    if (suppressing_) dropped_tickets_.push_back(ticket);
    return ticket;
  }
  void CompleteReply(uint64_t ticket, std::string bytes);
  // Deferred replies not completed yet.
  size_t outstanding_replies() const { return replies_.outstanding(); }

  // Called by the handler from OnRequest instead of running the request:
  // the request stays unconsumed and nothing behind it runs until Resume()
  // (as Redis blocks a client: a paused client, CLIENT PAUSE). The handler
  // must not have written a reply for it. Input is still read, within the
  // query buffer limit.
  void Hold() { held_ = true; }
  // Hold() until no deferred reply is outstanding, then tell the handler
  // (OnHoldReleased). For commands that change how the requests behind them
  // are handled (HELLO, CLIENT REPLY, AUTH): they run once everything before
  // them is answered.
  void HoldUntilReplied();
  // Runs the held request again (OnRequest), then the rest of the input.
  void Resume();
  bool held() const { return held_; }
  // Marks this connection as having output for this iteration's flush.
  void ScheduleFlush() { env_.output->Schedule(*this); }

  ClientState& state() { return state_; }
  const ClientState& state() const { return state_; }
  uint64_t id() const { return state_.id; }
  const std::string& peer_addr() const { return peer_addr_; }
  const std::string& local_addr() const { return local_addr_; }
  // The host part of local_addr(): the address the remote end connected to
  // (an IPv4-mapped address in its IPv4 form); "" if the OS would not tell.
  const std::string& local_host() const { return local_host_; }
  int fd() const;
  int64_t created_ms() const { return created_ms_; }
  int64_t last_interaction_ms() const { return last_interaction_ms_; }
  size_t query_buffer_bytes() const { return in_end_ - in_start_ + parser_.buffered_bytes(); }
  size_t query_buffer_free() const { return in_cap_ - in_end_; }
  // Pending output (CLIENT LIST's omem): replies not written yet, the write
  // in flight, and completed replies held behind a deferred one.
  size_t output_bytes() const {
    return out_.size() + attached_bytes_ +
           (writing_ ? wbuf_.size() + wattached_bytes_ - woff_ : 0) + replies_.held_bytes() +
           (tls_ != nullptr ? TlsPendingBytes() : 0);
  }
  // Redis's checkClientOutputBufferLimits, run whenever output is added:
  // closes the connection at once (OnOutputBufferLimit, then Close, its
  // buffers freed) if its pending output is over the limits. True if it did.
  bool CheckOutputLimits();

  // Set by OutputBatch while the connection sits on its list.
  bool flush_scheduled = false;
  // Set by OutputBatch while the connection waits for the log.
  bool log_waiting = false;

 private:
  static void OnAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf) noexcept;
  static void OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void OnWrite(uv_write_t* req, int status) noexcept;

  void ProcessInput();
  // Runs the parsed request in argv_; false if the handler held it.
  bool RunRequest();
  // Hands the rest of `pending` (out_, or the TLS ciphertext) to uv_write.
  void StartWrite(std::string& pending, size_t already_written);
  // Flush() of an output with SharedBytes attached: one vectored write.
  void FlushAttached();
  // The iovecs of `buf` with `attached` in it, from byte `skip` on.
  static void GatherOutput(std::string& buf, const std::vector<Attached>& attached, size_t skip,
                           std::vector<uv_buf_t>* iov);
  // The TLS halves of OnRead and Flush.
  void OnTlsRead(size_t nread);
  void FlushTls();
  void TlsFailed(const storage::Status& error);
  size_t TlsPendingBytes() const;
  // Makes room for `want` bytes at the tail of the input buffer.
  void ReserveInput(size_t want);
  // Frees the buffers of a closing connection: its output at once, its input
  // and arguments once no request is running.
  void ReleaseBuffers();

  ConnectionHandler& handler_;
  ConnectionEnv& env_;
  uv_tcp_t handle_;
  uv_write_t write_req_;
  ClientState state_;
  RequestParser parser_;
  std::vector<std::string> argv_;

  // Input buffer: bytes [in_start_, in_end_) are unparsed.
  std::unique_ptr<char[]> in_;
  size_t in_cap_ = 0;
  size_t in_start_ = 0;
  size_t in_end_ = 0;

  // A TLS connection's session, its ciphertext waiting to be written and
  // its read buffer (ciphertext lands there, plaintext in in_).
  struct Tls;
  std::unique_ptr<Tls> tls_;

  std::string out_;   // replies ready to send, in order (plaintext)
  std::string wbuf_;  // bytes handed to uv_write, alive until its callback
  size_t woff_ = 0;
  // SharedBytes in out_ (`at` bytes into it, in order), and in wbuf_ while
  // uv_write sends them; their sizes.
  std::vector<Attached> attached_;
  std::vector<Attached> wattached_;
  size_t attached_bytes_ = 0;
  size_t wattached_bytes_ = 0;
  bool writing_ = false;
  ReplyQueue replies_{&out_};

  std::string peer_addr_;
  std::string local_addr_;
  std::string local_host_;
  int64_t created_ms_ = 0;
  int64_t last_interaction_ms_ = 0;
  bool reading_ = false;
  bool closing_ = false;
  bool close_after_reply_ = false;
  bool deferred_ = false;  // the request being handled deferred its reply
  // argv_ holds a parsed request not run yet (it was held).
  bool request_pending_ = false;
  bool held_ = false;
  bool hold_until_replied_ = false;
  bool processing_ = false;  // ProcessInput is running (Resume from inside it is folded in)
  // The request being handled runs under CLIENT REPLY OFF or SKIP: replies
  // it defers are dropped when they complete.
  bool suppressing_ = false;
  std::vector<uint64_t> dropped_tickets_;
  // The output leaves once the gate has committed this position: the log's
  // end after the last request of this connection that logged something
  // (0: nothing to wait for).
  uint64_t log_wait_ = 0;
  // When the pending output was first seen at or over the soft limit (0:
  // it is under).
  int64_t soft_limit_since_ms_ = 0;
};

}  // namespace shoal::facade
