// The transport under PeerClient: one outbound TCP connection that carries
// RESP frames out and parses RESP replies back, each reply matched to the
// oldest frame still unanswered.
//
// hiredis's async context is not used: in 0.14.1 a reply that arrives with no
// callback queued trips an assert and aborts the process, so anyone listening
// at an address we dial could kill the node with one extra "+OK". Here such a
// reply, or bytes hiredis's reader cannot parse, end the connection like any
// other failure.
//
// Threading: the loop's thread only.
#pragma once

#include <uv.h>

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cluster/peer/frame_mac.h"
#include "facade/tls_session.h"
#include "facade/uv_handle.h"

struct redisReader;
struct redisReply;

namespace shoal::cluster {

class PeerConn {
 public:
  // A reply to the frame written with `tag`; `reply` is valid during the call.
  using ReplyFn = std::function<void(const void* tag, const redisReply& reply)>;
  // The connection failed (connect, read, write, EOF, protocol violation);
  // it is closed already. Not called after Close().
  using GoneFn = std::function<void(const std::string& why)>;

  // A new, unconnected connection on `loop`. Heap only, and never deleted by
  // the caller: Close() frees it once libuv is done with its socket, so it
  // may outlive its owner. The callbacks run from the loop only, never inside
  // Open, Write or Close; either may call Close() or destroy the owner.
  static PeerConn* Create(uv_loop_t* loop, ReplyFn on_reply, GoneFn on_gone);

  PeerConn(const PeerConn&) = delete;
  PeerConn& operator=(const PeerConn&) = delete;

  // Starts connecting to host:port (a numeric address, else resolved with a
  // blocking lookup), from bind_addr unless it is empty. With `tls` (a
  // client session, tls-cluster yes) every byte goes through it: frames
  // written before its handshake completes wait for it, and a TLS failure
  // (a certificate that does not verify, a peer that does not speak TLS)
  // ends the connection with a reason starting "TLS". Returns an error
  // message, empty on success; on failure the caller still calls Close().
  std::string Open(const std::string& host, int port, const std::string& bind_addr,
                   std::unique_ptr<facade::TlsSession> tls = nullptr);

  // Appends one RESP array of bulk strings (binary safe; argv not empty) and
  // expects one reply for it, reported with `tag`. Frames written before the
  // connect completes, or while a write is in progress, go out together
  // later. False, with nothing queued, if the connection is closing or libuv
  // refused the write. Arguments of kShareBytes or more (a replicated big
  // value) are moved out of argv and written from where they are rather
  // than copied into the output buffer (in clear only: TLS encrypts from
  // the buffer).
  bool Write(std::vector<std::string>&& argv, const void* tag);
  static constexpr size_t kShareBytes = 1u << 20;

  // The most reply bytes buffered while a reply is incomplete; past it the
  // connection fails ("reply too large"), so a peer cannot make us buffer
  // without bound. Starts at kHandshakeReplyLimit.
  static constexpr size_t kHandshakeReplyLimit = 64 * 1024;
  void set_reply_limit(size_t bytes) { reply_limit_ = bytes; }

  // The handshake is done (called from the reply callback of its +OK):
  // the frames written from now on go in sealed batches (each socket write
  // ends with the SHOAL.SEAL of the frames in it), and every reply must
  // come in a sealed chunk (cluster/peer/frame_mac.h); a chunk with a bad
  // MAC fails the connection.
  void StartSession(const SessionKeys& keys);

  // The local address (host only) of the socket once connected, as the OS
  // chose it (the source the peer sees); "" before the connect completes or
  // if the OS would not tell.
  std::string LocalHost() const;
  // A TLS connection whose TLS handshake has not completed.
  bool tls_handshaking() const { return tls_ != nullptr && !tls_->handshake_done(); }

  // Closes the socket; no callback runs afterwards, and the object frees
  // itself in the close callback (at once if libuv refused its handle, when
  // nothing can be pending). Idempotent; the object must not be used afterwards.
  void Close();

 private:
  PeerConn(uv_loop_t* loop, ReplyFn on_reply, GoneFn on_gone);
  ~PeerConn();

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(tcp_.get()); }
  void Fail(const std::string& why);
  // Appends a frame to out_ (its big arguments moved to big_).
  void AppendFrame(std::vector<std::string>& argv);
  // Closes the open batch: appends its SHOAL.SEAL frame.
  void SealBatch();
  // Writes out_ (through the TLS session, if any) as one request; 0 or a
  // libuv error (UV_EPROTO for a TLS failure, its reason in tls_error_).
  int Flush();
  // Flush when no write is in progress and something waits; Fail on error.
  // False if the connection failed.
  bool Pump();
  // Parses plaintext replies; false as Dispatch.
  bool Consume(const char* data, size_t len);
  // The TLS half of OnRead; false as Dispatch.
  bool ReadTls(const char* data, size_t len);
  // Hands one reply to its frame's owner; false if the connection is
  // closing afterwards (failed, or closed by the callback).
  bool Dispatch(void* raw);
  // Checks a sealed chunk and runs the replies in it; false as Dispatch.
  bool OpenChunk(const redisReply& chunk);

  static void OnConnect(uv_connect_t* req, int status) noexcept;
  static void OnWritten(uv_write_t* req, int status) noexcept;
  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf) noexcept;
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept;

  ReplyFn on_reply_;
  GoneFn on_gone_;
  facade::UvHandle<uv_tcp_t> tcp_;  // its data is this; empty only if libuv refused it
  int tcp_error_ = 0;               // why tcp_ is empty
  uv_connect_t connect_req_;
  uv_write_t write_req_;  // one write at a time; frames written meanwhile wait in out_
  redisReader* reader_ = nullptr;
  redisReader* inner_ = nullptr;          // the replies inside sealed chunks, once in session
  std::unique_ptr<RequestBatch> signer_;  // the open batch of frames, once in session
  std::unique_ptr<ReplyOpener> opener_;
  std::deque<const void*> tags_;  // one per frame written and not yet answered, oldest first
  std::string out_;               // frames not yet handed to libuv
  std::string wbuf_;              // the frames of the write in progress
  // Big arguments that go after the first `first` bytes of out_ (big_) or
  // of wbuf_ (wbig_), in order.
  std::vector<std::pair<size_t, std::string>> big_;
  std::vector<std::pair<size_t, std::string>> wbig_;
  std::unique_ptr<facade::TlsSession> tls_;  // tls-cluster yes
  std::string tls_error_;                    // why Flush failed with UV_EPROTO
  size_t reply_limit_ = kHandshakeReplyLimit;
  bool connected_ = false;
  bool writing_ = false;
  bool closing_ = false;
  char rbuf_[64 * 1024];
  std::unique_ptr<char[]> plain_;  // decrypted replies (TLS only)
};

}  // namespace shoal::cluster
