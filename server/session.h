#pragma once
// Session: one client connection. Reads bytes into its input buffer, runs the
// request parser over them, hands each request to the server's dispatcher and
// keeps the replies in request order (ReplyQueue), flushing them once per loop
// iteration (the server's check handle calls Flush).
//
// Lifetime: created by the Server on accept and owned by it; Close() starts
// uv_close and the Server destroys the Session in the close callback, so the
// uv handle's memory outlives libuv's use of it. Runs on the loop thread.

#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "server/command.h"
#include "server/reply_queue.h"
#include "server/request_parser.h"

namespace shoal::server {

class Server;
struct ClusterRequest;

class Session {
 public:
  Session(Server& server, uint64_t id);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // The handle to accept into. Valid for the Session's lifetime.
  uv_tcp_t* handle() { return &handle_; }
  // After accept: records addresses and starts reading.
  void Start(int64_t now_ms);

  // Closes the connection at once, dropping unsent output.
  void Close();
  // Stops reading and closes once the pending replies are written.
  void CloseAfterReply();
  bool closing() const { return closing_; }

  // Writes pending output: uv_try_write first, uv_write for the rest.
  void Flush();
  bool has_output() const { return !out_.empty(); }

  // Where the reply of the request being dispatched goes (ordered).
  std::string* ReplyTarget() { return replies_.Target(); }
  ReplyQueue& replies() { return replies_; }

  ClientState& state() { return state_; }
  const ClientState& state() const { return state_; }
  uint64_t id() const { return state_.id; }
  const std::string& peer_addr() const { return peer_addr_; }
  const std::string& local_addr() const { return local_addr_; }
  int fd() const;
  int64_t created_ms() const { return created_ms_; }
  int64_t last_interaction_ms() const { return last_interaction_ms_; }
  size_t query_buffer_bytes() const { return in_end_ - in_start_ + parser_.buffered_bytes(); }
  size_t query_buffer_free() const { return in_cap_ - in_end_; }
  size_t output_bytes() const { return out_.size() + (writing_ ? wbuf_.size() - woff_ : 0); }

  // Set by the server while the session sits on its pending-flush list.
  bool flush_scheduled = false;

  // An inbound connection on the cluster port: another node, not a client.
  bool is_peer() const { return is_peer_; }
  void set_peer(bool peer) { is_peer_ = peer; }
  // The handshake state of a peer connection (ClusterDispatch::HandlePeer).
  struct PeerState {
    std::string remote_id;  // as the peer announced it in SHOAL.HELLO
    std::string nonce;      // our challenge, once sent
    bool verified = false;  // proved cluster-secret: peer commands are served
  };
  PeerState& peer() { return peer_; }

  // This connection's commands in the cluster (ClusterDispatch): those not
  // yet run here, in arrival order, and how many ran but are not answered.
  struct ClusterQueue {
    std::deque<std::shared_ptr<ClusterRequest>> waiting;
    size_t launched = 0;    // of `waiting`, the first ones whose fan-out started
    size_t unanswered = 0;  // ran (executed), reply not complete yet
    bool barrier = false;   // a cluster-wide command ran and is not answered
    bool pumping = false;   // Pump is running (callbacks may call it again)
    bool again = false;     // ... and was called again meanwhile
  };
  ClusterQueue& cluster_queue() { return cluster_queue_; }

 private:
  static void OnAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf) noexcept;
  static void OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void OnWrite(uv_write_t* req, int status) noexcept;

  void ProcessInput();
  void StartWrite(size_t already_written);

  Server& server_;
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

  std::string out_;   // replies ready to send, in order
  std::string wbuf_;  // bytes handed to uv_write, alive until its callback
  size_t woff_ = 0;
  bool writing_ = false;
  ReplyQueue replies_{&out_};

  std::string peer_addr_;
  std::string local_addr_;
  int64_t created_ms_ = 0;
  int64_t last_interaction_ms_ = 0;
  bool reading_ = false;
  bool closing_ = false;
  bool close_after_reply_ = false;
  bool is_peer_ = false;
  PeerState peer_;
  ClusterQueue cluster_queue_;
};

}  // namespace shoal::server
