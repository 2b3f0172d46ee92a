#include "cluster/peer/connection.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>

#include "cluster/peer/protocol.h"
#include "facade/net_address.h"

namespace shoal::cluster {
namespace {

// Fills `out` with the address of host:port: a numeric IPv4 or IPv6 address,
// else the first result of a (blocking) name lookup, as hiredis did. Returns
// an error message, empty on success.
std::string Resolve(const std::string& host, int port, sockaddr_storage* out) {
  std::memset(out, 0, sizeof(*out));
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(out)) == 0) return {};
  if (uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(out)) == 0) return {};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    return "cannot resolve " + host + ": " + (rc != 0 ? gai_strerror(rc) : "no address");
  }
  std::memcpy(out, found->ai_addr, std::min<size_t>(found->ai_addrlen, sizeof(*out)));
  freeaddrinfo(found);
  return {};
}

}  // namespace

PeerConn* PeerConn::Create(uv_loop_t* loop, ReplyFn on_reply, GoneFn on_gone) {
  return new PeerConn(loop, std::move(on_reply), std::move(on_gone));
}

PeerConn::PeerConn(uv_loop_t* loop, ReplyFn on_reply, GoneFn on_gone)
    : on_reply_(std::move(on_reply)), on_gone_(std::move(on_gone)) {
  // Reported by Open.
  tcp_error_ = tcp_.Init(loop, this);
  connect_req_.data = this;
  write_req_.data = this;
}

PeerConn::~PeerConn() {
  if (reader_ != nullptr) redisReaderFree(reader_);
  if (inner_ != nullptr) redisReaderFree(inner_);
}

void PeerConn::StartSession(const SessionKeys& keys) {
  signer_ = std::make_unique<RequestBatch>(keys.requests);
  opener_ = std::make_unique<ReplyOpener>(keys.replies);
}

std::string PeerConn::Open(const std::string& host, int port, const std::string& bind_addr,
                           std::unique_ptr<facade::TlsSession> tls) {
  if (!tcp_) return std::string("cannot create a TCP handle: ") + uv_strerror(tcp_error_);
  tls_ = std::move(tls);
  sockaddr_storage addr;
  sockaddr_storage source;
  if (std::string why = Resolve(host, port, &addr); !why.empty()) return why;
  if (!bind_addr.empty()) {
    if (std::string why = Resolve(bind_addr, 0, &source); !why.empty()) return why;
  }
  reader_ = NewPeerReplyReader(kMaxPeerReplyElements);
  if (reader_ == nullptr) return "out of memory";
  if (!bind_addr.empty()) {
    if (const int rc = uv_tcp_bind(tcp_.get(), reinterpret_cast<const sockaddr*>(&source), 0);
        rc != 0) {
      return "cannot bind to " + bind_addr + ": " + uv_strerror(rc);
    }
  }
  if (const int rc = uv_tcp_connect(&connect_req_, tcp_.get(),
                                    reinterpret_cast<const sockaddr*>(&addr), &PeerConn::OnConnect);
      rc != 0) {
    return uv_strerror(rc);
  }
  // Small frames, latency-bound: Nagle's delay would stall every request
  // behind the previous reply. Linux never refuses it on a TCP socket; if a
  // system does, the caller's Close() cancels the connect.
  if (const int rc = uv_tcp_nodelay(tcp_.get(), 1); rc != 0) {
    return std::string("cannot set TCP_NODELAY: ") + uv_strerror(rc);
  }
  return {};
}

std::string PeerConn::LocalHost() const {
  if (!connected_ || closing_ || !tcp_) return {};
  sockaddr_storage ss;
  int len = sizeof(ss);
  if (uv_tcp_getsockname(tcp_.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return facade::SockaddrHost(reinterpret_cast<const sockaddr*>(&ss));
}

void PeerConn::AppendFrame(std::vector<std::string>& argv) {
  out_ += '*';
  out_ += std::to_string(argv.size());
  out_ += "\r\n";
  for (std::string& a : argv) {
    out_ += '$';
    out_ += std::to_string(a.size());
    out_ += "\r\n";
    if (a.size() >= kShareBytes && tls_ == nullptr) {
      // A 512 MB value copied into out_ per replica held the loop and the
      // memory twice over.
      big_.emplace_back(out_.size(), std::move(a));
    } else {
      out_ += a;
    }
    out_ += "\r\n";
  }
}

void PeerConn::SealBatch() {
  std::vector<std::string> seal{std::string(kSealCommand), signer_->Seal()};
  AppendFrame(seal);
}

bool PeerConn::Write(std::vector<std::string>&& argv, const void* tag) {
  if (closing_) return false;
  if (signer_) signer_->Add(argv);
  AppendFrame(argv);
  if (signer_ && signer_->full()) SealBatch();
  tags_.push_back(tag);
  if (!connected_ || writing_) return true;
  // out_ held nothing before this frame: it is flushed whenever no write is in progress.
  if (Flush() != 0) {
    tags_.pop_back();
    return false;
  }
  return true;
}

void PeerConn::Close() {
  // The callbacks are kept (one of them may be running) but never called again.
  if (closing_) return;
  closing_ = true;
  if (!tcp_) {
    // libuv refused the handle, so Open failed and no callback of ours can
    // be pending or on the stack.
    delete this;
    return;
  }
  // libuv cancels the pending connect and write first (their callbacks find
  // closing_ set), then frees the handle and runs this, in a later loop
  // phase than any of ours.
  tcp_.reset([](void* self) noexcept { delete static_cast<PeerConn*>(self); });
}

void PeerConn::Fail(const std::string& why) {
  GoneFn gone = std::move(on_gone_);
  Close();
  if (gone) gone(why);
}

int PeerConn::Flush() {
  // What goes to the socket is sealed: the acceptor runs no frame before.
  if (signer_ && signer_->frames() > 0 && (tls_ == nullptr || tls_->handshake_done())) {
    SealBatch();
  }
  if (tls_ != nullptr) {
    // Frames wait in out_ until the handshake is done; the session's own
    // output (handshake messages) goes at once.
    if (tls_->handshake_done() && !out_.empty()) {
      const storage::Status st = tls_->Write(out_);
      if (!st.ok()) {
        tls_error_ = st.message();
        return UV_EPROTO;
      }
      out_.clear();
    }
    wbuf_.clear();
    tls_->TakeOutput(&wbuf_);
    if (wbuf_.empty()) return 0;
  } else {
    wbuf_.swap(out_);
    out_.clear();
    wbig_.swap(big_);
    big_.clear();
  }
  // The buffer, with the big arguments in their places.
  std::vector<uv_buf_t> bufs;
  size_t pos = 0;
  for (auto& [at, bytes] : wbig_) {
    if (at > pos) bufs.push_back(uv_buf_init(wbuf_.data() + pos, static_cast<unsigned>(at - pos)));
    bufs.push_back(uv_buf_init(bytes.data(), static_cast<unsigned>(bytes.size())));
    pos = at;
  }
  bufs.push_back(uv_buf_init(wbuf_.data() + pos, static_cast<unsigned>(wbuf_.size() - pos)));
  const int rc = uv_write(&write_req_, stream(), bufs.data(), static_cast<unsigned>(bufs.size()),
                          &PeerConn::OnWritten);
  if (rc == 0) {
    writing_ = true;
  } else {
    wbuf_.clear();
    wbig_.clear();
  }
  return rc;
}

bool PeerConn::Pump() {
  if (writing_ || closing_) return !closing_;
  if (out_.empty() && (tls_ == nullptr || !tls_->has_output())) return true;
  if (const int rc = Flush(); rc != 0) {
    Fail(rc == UV_EPROTO ? tls_error_ : std::string(uv_strerror(rc)));
    return false;
  }
  return true;
}

void PeerConn::OnConnect(uv_connect_t* req, int status) noexcept {
  auto* conn = static_cast<PeerConn*>(req->data);
  if (conn->closing_) return;  // cancelled by Close
  if (status < 0) {
    conn->Fail(uv_strerror(status));
    return;
  }
  conn->connected_ = true;
  if (const int rc = uv_read_start(conn->stream(), &PeerConn::OnAlloc, &PeerConn::OnRead);
      rc != 0) {
    conn->Fail(std::string("cannot read: ") + uv_strerror(rc));
    return;
  }
  (void)conn->Pump();  // the ClientHello, or (plain) the frames queued meanwhile
}

void PeerConn::OnWritten(uv_write_t* req, int status) noexcept {
  auto* conn = static_cast<PeerConn*>(req->data);
  conn->writing_ = false;
  // Keep a modest buffer for the next write; give back a huge one.
  if (conn->wbuf_.capacity() > (1u << 20)) {
    conn->wbuf_ = std::string();
  } else {
    conn->wbuf_.clear();
  }
  conn->wbig_.clear();
  if (conn->closing_) return;
  if (status < 0) {
    conn->Fail(std::string("write failed: ") + uv_strerror(status));
    return;
  }
  (void)conn->Pump();
}

void PeerConn::OnAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) noexcept {
  auto* conn = static_cast<PeerConn*>(handle->data);
  *buf = uv_buf_init(conn->rbuf_, sizeof(conn->rbuf_));
}

void PeerConn::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept {
  auto* conn = static_cast<PeerConn*>(stream->data);
  if (conn->closing_ || nread == 0) return;
  if (nread < 0) {
    std::string why =
        nread == UV_EOF ? "connection closed by the peer" : uv_strerror(static_cast<int>(nread));
    if (conn->tls_ != nullptr && !conn->tls_->handshake_done()) {
      why = "TLS handshake failed: " + why +
            " (does the peer have tls-cluster yes and a certificate of our CA?)";
    }
    conn->Fail(why);
    return;
  }
  if (conn->tls_ != nullptr) {
    (void)conn->ReadTls(buf->base, static_cast<size_t>(nread));
    return;
  }
  (void)conn->Consume(buf->base, static_cast<size_t>(nread));
}

bool PeerConn::ReadTls(const char* data, size_t len) {
  facade::TlsSession& tls = *tls_;
  const bool was_done = tls.handshake_done();
  storage::Status st = tls.Feed(data, len);
  if (st.ok() && !was_done && tls.handshake_done()) {
    // Frames queued behind the handshake (HELLO) go now, with its last flight.
    if (!Pump()) return false;
  }
  if (!plain_) plain_ = std::make_unique<char[]>(sizeof(rbuf_));
  while (st.ok() && tls.handshake_done()) {
    size_t got = 0;
    st = tls.Read(plain_.get(), sizeof(rbuf_), &got);
    if (!st.ok() || got == 0) break;
    if (!Consume(plain_.get(), got)) return false;
  }
  if (!st.ok()) {
    Fail(st.message() + " (does the peer have tls-cluster yes and a certificate of our CA?)");
    return false;
  }
  if (tls.closed()) {
    Fail("connection closed by the peer");
    return false;
  }
  return Pump();  // alerts or tickets the session wants to send
}

bool PeerConn::Consume(const char* data, size_t len) {
  if (redisReaderFeed(reader_, data, len) != REDIS_OK) {
    Fail("cannot buffer the peer's replies");
    return false;
  }
  for (;;) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader_, &raw) != REDIS_OK) {
      Fail(std::string("peer sent a malformed reply: ") + reader_->errstr);
      return false;
    }
    if (raw == nullptr) {
      // An incomplete reply: wait for more bytes, up to the limit.
      if (reader_->len - reader_->pos > reply_limit_) {
        Fail("peer reply too large (over " + std::to_string(reply_limit_) + " bytes buffered)");
        return false;
      }
      return true;
    }
    if (opener_) {
      std::unique_ptr<redisReply, void (*)(redisReply*)> chunk(
          static_cast<redisReply*>(raw), [](redisReply* r) { freeReplyObject(r); });
      if (!OpenChunk(*chunk)) return false;
    } else if (!Dispatch(raw)) {
      return false;
    }
  }
}

bool PeerConn::OpenChunk(const redisReply& chunk) {
  const bool shaped = chunk.type == REDIS_REPLY_ARRAY && chunk.elements == 2 &&
                      chunk.element[0]->type == REDIS_REPLY_STRING &&
                      chunk.element[1]->type == REDIS_REPLY_STRING;
  if (!shaped || !opener_->Open(std::string_view(chunk.element[0]->str, chunk.element[0]->len),
                                std::string_view(chunk.element[1]->str, chunk.element[1]->len))) {
    Fail("peer sent replies that failed their MAC check (relayed or tampered connection?)");
    return false;
  }
  if (inner_ == nullptr) {
    inner_ = redisReaderCreate();
    if (inner_ == nullptr) {
      Fail("out of memory");
      return false;
    }
  }
  if (redisReaderFeed(inner_, chunk.element[1]->str, chunk.element[1]->len) != REDIS_OK) {
    Fail("cannot buffer the peer's replies");
    return false;
  }
  for (;;) {
    void* raw = nullptr;
    if (redisReaderGetReply(inner_, &raw) != REDIS_OK) {
      Fail(std::string("peer sent a malformed reply: ") + inner_->errstr);
      return false;
    }
    if (raw == nullptr) {
      if (inner_->len - inner_->pos > reply_limit_) {
        Fail("peer reply too large (over " + std::to_string(reply_limit_) + " bytes buffered)");
        return false;
      }
      return true;
    }
    if (!Dispatch(raw)) return false;
  }
}

bool PeerConn::Dispatch(void* raw) {
  std::unique_ptr<redisReply, void (*)(redisReply*)> reply(
      static_cast<redisReply*>(raw), [](redisReply* r) { freeReplyObject(r); });
  if (tags_.empty()) {
    Fail("peer sent a reply with no request waiting (protocol violation)");
    return false;
  }
  const void* tag = tags_.front();
  tags_.pop_front();
  // The owner may close this connection, or destroy itself, in there; the
  // object stays allocated until its close callback, a later loop phase.
  on_reply_(tag, *reply);
  return !closing_;
}

}  // namespace shoal::cluster
