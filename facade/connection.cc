#include "facade/connection.h"

#include <algorithm>
#include <cstring>

#include "facade/net_address.h"
#include "facade/reply_builder.h"
#include "facade/tls_session.h"

namespace shoal::facade {
namespace {

// Redis reads PROTO_IOBUF_LEN (16 KiB) at a time.
constexpr size_t kReadChunk = 16 * 1024;
// An output buffer that grew past this is released once empty.
constexpr size_t kMaxIdleOutputCapacity = 64 * 1024;
// An argument vector that grew past this many slots is released after its
// request (it counts against the query buffer limit while kept).
constexpr size_t kMaxIdleArgvCapacity = 1024;

std::string FormatAddr(const sockaddr_storage& ss) {
  char ip[INET6_ADDRSTRLEN] = {0};
  int port = 0;
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    uv_ip4_name(a, ip, sizeof(ip));
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    uv_ip6_name(a, ip, sizeof(ip));
    port = ntohs(a->sin6_port);
  } else {
    return "?:0";
  }
  return std::string(ip) + ":" + std::to_string(port);
}

}  // namespace

struct Connection::Tls {
  std::unique_ptr<TlsSession> session;
  std::string out;  // ciphertext not handed to libuv yet
  std::unique_ptr<char[]> rbuf = std::make_unique<char[]>(kReadChunk);
};

Connection::Connection(uint64_t id, ConnectionHandler& handler, ConnectionEnv& env)
    : handler_(handler), env_(env) {
  state_.id = id;
  handle_.data = this;
  write_req_.data = this;
}

Connection::~Connection() = default;

void Connection::StartTls(std::unique_ptr<TlsSession> tls) {
  tls_ = std::make_unique<Tls>();
  tls_->session = std::move(tls);
  Start();
}

bool Connection::tls_handshaking() const {
  return tls_ != nullptr && !tls_->session->handshake_done();
}

size_t Connection::TlsPendingBytes() const {
  return tls_->out.size();
}

int Connection::fd() const {
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<const uv_handle_t*>(&handle_), &fd) != 0) return -1;
  return fd;
}

void Connection::Start() {
  created_ms_ = env_.clock->NowMs();
  last_interaction_ms_ = created_ms_;
  sockaddr_storage ss;
  int len = sizeof(ss);
  if (uv_tcp_getpeername(&handle_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    peer_addr_ = FormatAddr(ss);
  }
  len = sizeof(ss);
  if (uv_tcp_getsockname(&handle_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    local_addr_ = FormatAddr(ss);
    local_host_ = SockaddrHost(reinterpret_cast<const sockaddr*>(&ss));
  }
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&handle_), &Connection::OnAlloc,
                    &Connection::OnRead) != 0) {
    Close();
    return;
  }
  reading_ = true;
}

void Connection::Close() {
  if (closing_) return;
  closing_ = true;
  reading_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_), [](uv_handle_t* h) noexcept {
    auto* self = static_cast<Connection*>(h->data);
    self->env_.output->Forget(*self);
    self->handler_.OnClosed(*self);
  });
}

void Connection::ReleaseBuffers() {
  // A request running may hold a pointer into the replies (ReplyTarget) or
  // its arguments: ProcessInput calls this again once it is done.
  if (processing_) return;
  std::string().swap(out_);
  attached_.clear();
  attached_bytes_ = 0;
  replies_.Clear();
  dropped_tickets_.clear();
  // wbuf_ stays until the cancelled write's callback (OnWrite) frees it.
  in_.reset();
  in_cap_ = in_start_ = in_end_ = 0;
  std::vector<std::string>().swap(argv_);
  request_pending_ = false;
}

bool Connection::CheckOutputLimits() {
  if (closing_) return false;
  const ConnectionLimits& cfg = env_.limits;
  const size_t used = output_bytes();
  bool over = false;
  if (cfg.auth_required && !state_.authenticated && used > cfg.unauth_output_limit) {
    over = true;
  } else if (cfg.output.hard != 0 && used >= cfg.output.hard) {
    over = true;
  } else if (cfg.output.soft != 0 && used >= cfg.output.soft) {
    // As Redis: the first time over the soft limit starts the clock; the
    // client is closed once it is still over it soft_ms later.
    const int64_t now = env_.clock->NowMs();
    if (soft_limit_since_ms_ == 0) {
      soft_limit_since_ms_ = now;
    } else if (now - soft_limit_since_ms_ > cfg.output.soft_ms) {
      over = true;
    }
  } else {
    soft_limit_since_ms_ = 0;
  }
  if (!over) return false;
  handler_.OnOutputBufferLimit(*this, used);
  Close();
  ReleaseBuffers();
  return true;
}

void Connection::CloseAfterReply() {
  close_after_reply_ = true;
  // A TLS connection keeps reading until its handshake is done, or its
  // last reply could never be sent.
  if (reading_ && (tls_ == nullptr || tls_->session->handshake_done())) {
    // Stopping a stream that reads cannot fail.
    (void)uv_read_stop(reinterpret_cast<uv_stream_t*>(&handle_));
    reading_ = false;
  }
  ScheduleFlush();
}

void Connection::ReserveInput(size_t want) {
  // Make room at the tail: compact first, then grow.
  if (in_cap_ - in_end_ >= want) return;
  size_t pending = in_end_ - in_start_;
  if (in_start_ > 0 && in_cap_ - pending >= want) {
    std::memmove(in_.get(), in_.get() + in_start_, pending);
  } else {
    size_t cap = std::max(in_cap_ * 2, pending + want);
    auto bigger = std::make_unique<char[]>(cap);
    if (pending > 0) std::memcpy(bigger.get(), in_.get() + in_start_, pending);
    in_ = std::move(bigger);
    in_cap_ = cap;
  }
  in_start_ = 0;
  in_end_ = pending;
}

void Connection::OnAlloc(uv_handle_t* h, size_t /*suggested*/, uv_buf_t* buf) noexcept {
  auto* self = static_cast<Connection*>(h->data);
  if (self->tls_ != nullptr) {
    // Ciphertext goes to its own buffer; OnTlsRead decrypts it into in_.
    buf->base = self->tls_->rbuf.get();
    buf->len = kReadChunk;
    return;
  }
  self->ReserveInput(kReadChunk);
  buf->base = self->in_.get() + self->in_end_;
  buf->len = self->in_cap_ - self->in_end_;
}

void Connection::OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* /*buf*/) noexcept {
  auto* self = static_cast<Connection*>(s->data);
  if (nread < 0) {
    // EOF or a reset: the client is gone.
    self->Close();
    return;
  }
  if (nread == 0) return;  // EAGAIN
  if (self->tls_ != nullptr) {
    self->OnTlsRead(static_cast<size_t>(nread));
    return;
  }
  self->in_end_ += static_cast<size_t>(nread);
  self->env_.io->net_input_bytes += static_cast<uint64_t>(nread);
  self->last_interaction_ms_ = self->env_.clock->NowMs();
  self->ProcessInput();
}

void Connection::OnTlsRead(size_t nread) {
  // net_input_bytes counts what crossed the network: the ciphertext.
  env_.io->net_input_bytes += nread;
  last_interaction_ms_ = env_.clock->NowMs();
  TlsSession& tls = *tls_->session;
  storage::Status st = tls.Feed(tls_->rbuf.get(), nread);
  // Decrypt everything buffered: at most one read's worth of plaintext.
  while (st.ok() && tls.handshake_done()) {
    ReserveInput(kReadChunk);
    size_t got = 0;
    st = tls.Read(in_.get() + in_end_, in_cap_ - in_end_, &got);
    if (got == 0) break;
    in_end_ += got;
  }
  if (!st.ok()) {
    TlsFailed(st);
    return;
  }
  // Handshake messages, session tickets or alerts to send.
  if (tls.has_output() || (tls.handshake_done() && !out_.empty())) ScheduleFlush();
  if (in_end_ > in_start_) ProcessInput();
  // close_notify: the client is gone, as an EOF.
  if (tls.closed() && !closing_) Close();
}

void Connection::TlsFailed(const storage::Status& error) {
  if (closing_) return;
  handler_.OnTlsError(*this, error);
  Close();
  ReleaseBuffers();
}

void Connection::ProcessInput() {
  if (processing_) return;  // a Resume() from inside a request: the loop below goes on
  processing_ = true;
  const ConnectionLimits& cfg = env_.limits;
  ParserLimits limits;
  limits.max_bulk_len = cfg.max_bulk_len;
  limits.max_request_bytes = cfg.query_buffer_limit;
  while (!closing_ && !close_after_reply_ && !held_) {
    if (!request_pending_) {
      if (in_start_ == in_end_) break;
      limits.authenticated = state_.authenticated || !cfg.auth_required;
      size_t consumed = 0;
      auto st =
          parser_.Parse(in_.get() + in_start_, in_end_ - in_start_, limits, &consumed, &argv_);
      in_start_ += consumed;
      if (st == RequestParser::Status::kError) {
        std::string* target = ReplyTarget();
        const size_t mark = target->size();
        ReplyBuilder(target).Error(parser_.error());
        if (env_.errors != nullptr) env_.errors->Count(std::string_view(*target).substr(mark));
        handler_.OnProtocolError(*this, parser_.error());
        CloseAfterReply();
        break;
      }
      if (st == RequestParser::Status::kTooBig) {
        handler_.OnQueryBufferOverflow(*this);
        Close();
        break;
      }
      if (st != RequestParser::Status::kRequest) break;  // kNeedMore
      request_pending_ = true;
    }
    if (!RunRequest()) break;
    CheckOutputLimits();
  }
  processing_ = false;
  if (closing_) {
    ReleaseBuffers();
    return;
  }
  if (in_start_ == in_end_) in_start_ = in_end_ = 0;
  if (query_buffer_bytes() > cfg.query_buffer_limit) {
    handler_.OnQueryBufferOverflow(*this);
    Close();
  }
}

bool Connection::RunRequest() {
  // A reply written now starts at `mark` of the target; one deferred is
  // counted when it completes.
  std::string* target = ReplyTarget();
  const size_t mark = target->size();
  deferred_ = false;
  held_ = false;
  suppressing_ = state_.reply_mode == ReplyMode::kOff || state_.reply_mode == ReplyMode::kSkip;
  const CommitGate* gate = env_.output->gate();
  const uint64_t logged = gate != nullptr ? gate->logged() : 0;
  handler_.OnRequest(*this, argv_);
  // A request that logged something is answered once the log has it.
  if (gate != nullptr && gate->logged() != logged) log_wait_ = gate->logged();
  if (held_) {
    suppressing_ = false;
    return false;
  }
  request_pending_ = false;
  if (argv_.capacity() > kMaxIdleArgvCapacity) std::vector<std::string>().swap(argv_);
  // A deferred reply counts when it completes, which may be before
  // OnRequest returns (its bytes then land behind `mark` too).
  if (env_.errors != nullptr && !deferred_ && target->size() > mark && (*target)[mark] == '-') {
    env_.errors->Count(std::string_view(*target).substr(mark));
  }
  // CLIENT REPLY (Redis's resetClient): the mode after the command decides
  // whether its reply is sent, then SKIP moves on to the next command.
  if (state_.reply_mode == ReplyMode::kOff || state_.reply_mode == ReplyMode::kSkip) {
    target->resize(mark);
    while (target == &out_ && !attached_.empty() && attached_.back().at > mark) {
      attached_bytes_ -= attached_.back().bytes.bytes.size();
      attached_.pop_back();
    }
  }
  if (state_.reply_mode == ReplyMode::kSkip) {
    state_.reply_mode = ReplyMode::kOn;
  } else if (state_.reply_mode == ReplyMode::kSkipNext) {
    state_.reply_mode = ReplyMode::kSkip;
  }
  suppressing_ = false;
  return true;
}

void Connection::HoldUntilReplied() {
  held_ = true;
  hold_until_replied_ = true;
}

void Connection::Resume() {
  if (!held_ || closing_) return;
  held_ = false;
  hold_until_replied_ = false;
  if (processing_) return;  // the running ProcessInput picks the request up
  ProcessInput();
  ScheduleFlush();
}

void Connection::CompleteReply(uint64_t ticket, std::string bytes) {
  if (env_.errors != nullptr && !bytes.empty() && bytes[0] == '-') env_.errors->Count(bytes);
  auto dropped = std::find(dropped_tickets_.begin(), dropped_tickets_.end(), ticket);
  if (dropped != dropped_tickets_.end()) {
    // CLIENT REPLY OFF or SKIP: the place is released, nothing is sent.
    dropped_tickets_.erase(dropped);
    bytes.clear();
  }
  replies_.Complete(ticket, std::move(bytes));
  // A deferred reply (a cluster write's acknowledgement) may stand for a
  // record logged in another callback: while the log is behind, it waits
  // for everything logged so far.
  if (const CommitGate* gate = env_.output->gate();
      gate != nullptr && gate->logged() > gate->committed()) {
    log_wait_ = std::max(log_wait_, gate->logged());
  }
  if (CheckOutputLimits()) return;
  ScheduleFlush();
  if (hold_until_replied_ && replies_.outstanding() == 0) {
    hold_until_replied_ = false;
    handler_.OnHoldReleased(*this);
  }
}

void Connection::Flush() {
  if (closing_ || writing_) return;
  if (log_wait_ != 0) {
    const CommitGate* gate = env_.output->gate();
    if (gate != nullptr && gate->committed() < log_wait_) {
      env_.output->Wait(*this);
      return;
    }
    log_wait_ = 0;
  }
  if (tls_ != nullptr) {
    FlushTls();
    return;
  }
  if (!attached_.empty()) {
    FlushAttached();
    return;
  }
  if (out_.empty()) {
    if (close_after_reply_ && replies_.outstanding() == 0) Close();
    return;
  }
  if (env_.seal_output) env_.seal_output(*this, out_);
  uv_buf_t buf = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
  int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&handle_), &buf, 1);
  if (n < 0 && n != UV_EAGAIN) {
    Close();
    return;
  }
  size_t written = n > 0 ? static_cast<size_t>(n) : 0;
  env_.io->net_output_bytes += written;
  if (written == out_.size()) {
    out_.clear();
    if (out_.capacity() > kMaxIdleOutputCapacity) std::string().swap(out_);
    if (close_after_reply_ && replies_.outstanding() == 0) Close();
    return;
  }
  StartWrite(out_, written);
}

bool Connection::Attach(std::string* out, SharedBytes bytes) {
  if (out != &out_ || tls_ != nullptr || env_.seal_output || closing_) return false;
  attached_bytes_ += bytes.bytes.size();
  attached_.push_back(Attached{out_.size(), std::move(bytes)});
  return true;
}

void Connection::GatherOutput(std::string& buf, const std::vector<Attached>& attached, size_t skip,
                              std::vector<uv_buf_t>* iov) {
  auto add = [&](const char* p, size_t n) {
    if (skip >= n) {
      skip -= n;
      return;
    }
    // libuv only reads the bytes of a write.
    iov->push_back(uv_buf_init(const_cast<char*>(p) + skip, static_cast<unsigned>(n - skip)));
    skip = 0;
  };
  size_t pos = 0;
  for (const Attached& a : attached) {
    add(buf.data() + pos, a.at - pos);
    add(a.bytes.bytes.data(), a.bytes.bytes.size());
    pos = a.at;
  }
  add(buf.data() + pos, buf.size() - pos);
}

void Connection::FlushAttached() {
  // As Flush, with the attached bytes written from where they are: the
  // socket takes what it can now, uv_write the rest as it drains (a 256 MB
  // reply never stalls the loop, nor is it copied).
  std::vector<uv_buf_t> iov;
  GatherOutput(out_, attached_, 0, &iov);
  const size_t total = out_.size() + attached_bytes_;
  auto* stream = reinterpret_cast<uv_stream_t*>(&handle_);
  int n = uv_try_write(stream, iov.data(), static_cast<unsigned>(iov.size()));
  if (n < 0 && n != UV_EAGAIN) {
    Close();
    return;
  }
  const size_t written = n > 0 ? static_cast<size_t>(n) : 0;
  env_.io->net_output_bytes += written;
  if (written == total) {
    out_.clear();
    if (out_.capacity() > kMaxIdleOutputCapacity) std::string().swap(out_);
    attached_.clear();  // drops the pins
    attached_bytes_ = 0;
    if (close_after_reply_ && replies_.outstanding() == 0) Close();
    return;
  }
  wbuf_.swap(out_);
  out_.clear();
  wattached_.swap(attached_);
  attached_.clear();
  wattached_bytes_ = attached_bytes_;
  attached_bytes_ = 0;
  woff_ = written;
  writing_ = true;
  iov.clear();
  GatherOutput(wbuf_, wattached_, woff_, &iov);
  if (uv_write(&write_req_, stream, iov.data(), static_cast<unsigned>(iov.size()),
               &Connection::OnWrite) != 0) {
    writing_ = false;
    Close();
  }
}

void Connection::FlushTls() {
  TlsSession& tls = *tls_->session;
  std::string& wire = tls_->out;
  if (!out_.empty() && tls.handshake_done()) {
    if (env_.seal_output) env_.seal_output(*this, out_);
    storage::Status st = tls.Write(out_);
    if (!st.ok()) {
      TlsFailed(st);
      return;
    }
    out_.clear();
    if (out_.capacity() > kMaxIdleOutputCapacity) std::string().swap(out_);
  }
  tls.TakeOutput(&wire);
  if (wire.empty()) {
    if (close_after_reply_ && out_.empty() && replies_.outstanding() == 0) Close();
    return;
  }
  uv_buf_t buf = uv_buf_init(wire.data(), static_cast<unsigned>(wire.size()));
  int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&handle_), &buf, 1);
  if (n < 0 && n != UV_EAGAIN) {
    Close();
    return;
  }
  size_t written = n > 0 ? static_cast<size_t>(n) : 0;
  env_.io->net_output_bytes += written;
  if (written == wire.size()) {
    wire.clear();
    if (wire.capacity() > kMaxIdleOutputCapacity) std::string().swap(wire);
    if (close_after_reply_ && out_.empty() && replies_.outstanding() == 0) Close();
    return;
  }
  StartWrite(wire, written);
}

void Connection::StartWrite(std::string& pending, size_t already_written) {
  // The socket is full: hand the rest to uv_write, which keeps the bytes
  // (in wbuf_) until its callback. New output keeps collecting in `pending`.
  wbuf_.swap(pending);
  pending.clear();
  woff_ = already_written;
  writing_ = true;
  uv_buf_t buf = uv_buf_init(wbuf_.data() + woff_, static_cast<unsigned>(wbuf_.size() - woff_));
  if (uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&handle_), &buf, 1,
               &Connection::OnWrite) != 0) {
    writing_ = false;
    Close();
  }
}

void Connection::OnWrite(uv_write_t* req, int status) noexcept {
  auto* self = static_cast<Connection*>(req->data);
  self->writing_ = false;
  if (status != 0) {
    std::string().swap(self->wbuf_);
    self->wattached_.clear();
    self->wattached_bytes_ = 0;
    self->Close();
    return;
  }
  self->env_.io->net_output_bytes += self->wbuf_.size() + self->wattached_bytes_ - self->woff_;
  self->wattached_.clear();  // drops the pins
  self->wattached_bytes_ = 0;
  self->wbuf_.clear();
  if (self->wbuf_.capacity() > kMaxIdleOutputCapacity) std::string().swap(self->wbuf_);
  self->woff_ = 0;
  if (!self->out_.empty() || self->close_after_reply_ ||
      (self->tls_ != nullptr && self->tls_->session->has_output())) {
    self->ScheduleFlush();
  }
}

void OutputBatch::Schedule(Connection& conn) {
  if (conn.flush_scheduled) return;
  conn.flush_scheduled = true;
  pending_.push_back(&conn);
}

void OutputBatch::Wait(Connection& conn) {
  if (conn.log_waiting) return;
  conn.log_waiting = true;
  waiting_.push_back(&conn);
}

void OutputBatch::Forget(Connection& conn) {
  if (conn.flush_scheduled) std::erase(pending_, &conn);
  if (conn.log_waiting) std::erase(waiting_, &conn);
  std::replace(flushing_.begin(), flushing_.end(), &conn, static_cast<Connection*>(nullptr));
}

void OutputBatch::FlushAll() {
  // Flush may close connections; their close callbacks run after this loop
  // phase, and Forget nulls them out of the batch being walked. Swapping
  // with a kept buffer means no iteration allocates.
  // Connections waiting for the log are tried again (few, and only while a
  // big record is being written).
  for (Connection* c : waiting_) {
    c->log_waiting = false;
    Schedule(*c);
  }
  waiting_.clear();
  flushing_.swap(pending_);
  for (Connection* c : flushing_) {
    if (c == nullptr) continue;
    c->flush_scheduled = false;
    c->Flush();
  }
  flushing_.clear();
}

}  // namespace shoal::facade
