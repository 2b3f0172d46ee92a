#include "server/session.h"

#include <cstring>

#include "server/errors.h"
#include "server/server.h"

namespace shoal::server {
namespace {

// Redis reads PROTO_IOBUF_LEN (16 KiB) at a time.
constexpr size_t kReadChunk = 16 * 1024;
// An output buffer that grew past this is released once empty.
constexpr size_t kMaxIdleOutputCapacity = 64 * 1024;

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

Session::Session(Server& server, uint64_t id) : server_(server) {
  state_.id = id;
  handle_.data = this;
  write_req_.data = this;
}

int Session::fd() const {
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<const uv_handle_t*>(&handle_), &fd) != 0) return -1;
  return fd;
}

void Session::Start(int64_t now_ms) {
  created_ms_ = now_ms;
  last_interaction_ms_ = now_ms;
  sockaddr_storage ss;
  int len = sizeof(ss);
  if (uv_tcp_getpeername(&handle_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    peer_addr_ = FormatAddr(ss);
  }
  len = sizeof(ss);
  if (uv_tcp_getsockname(&handle_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    local_addr_ = FormatAddr(ss);
  }
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&handle_), &Session::OnAlloc,
                    &Session::OnRead) != 0) {
    Close();
    return;
  }
  reading_ = true;
}

void Session::Close() {
  if (closing_) return;
  closing_ = true;
  reading_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_), [](uv_handle_t* h) noexcept {
    auto* self = static_cast<Session*>(h->data);
    self->server_.OnSessionClosed(self);
  });
}

void Session::CloseAfterReply() {
  close_after_reply_ = true;
  if (reading_) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&handle_));
    reading_ = false;
  }
  server_.ScheduleFlush(*this);
}

void Session::OnAlloc(uv_handle_t* h, size_t /*suggested*/, uv_buf_t* buf) noexcept {
  auto* self = static_cast<Session*>(h->data);
  // Make room for a full chunk at the tail: compact first, then grow.
  if (self->in_cap_ - self->in_end_ < kReadChunk) {
    size_t pending = self->in_end_ - self->in_start_;
    if (self->in_start_ > 0 && self->in_cap_ - pending >= kReadChunk) {
      std::memmove(self->in_.get(), self->in_.get() + self->in_start_, pending);
    } else {
      size_t cap = std::max(self->in_cap_ * 2, pending + kReadChunk);
      auto bigger = std::make_unique<char[]>(cap);
      if (pending > 0) std::memcpy(bigger.get(), self->in_.get() + self->in_start_, pending);
      self->in_ = std::move(bigger);
      self->in_cap_ = cap;
    }
    self->in_start_ = 0;
    self->in_end_ = pending;
  }
  buf->base = self->in_.get() + self->in_end_;
  buf->len = self->in_cap_ - self->in_end_;
}

void Session::OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* /*buf*/) noexcept {
  auto* self = static_cast<Session*>(s->data);
  if (nread < 0) {
    // EOF or a reset: the client is gone.
    self->Close();
    return;
  }
  if (nread == 0) return;  // EAGAIN
  self->in_end_ += static_cast<size_t>(nread);
  self->server_.stats().total_net_input_bytes += static_cast<uint64_t>(nread);
  self->last_interaction_ms_ = self->server_.clock().NowMs();
  self->ProcessInput();
}

void Session::ProcessInput() {
  const Config& cfg = server_.config();
  ParserLimits limits;
  limits.max_bulk_len = static_cast<int64_t>(cfg.proto_max_bulk_len);
  while (!closing_ && !close_after_reply_ && in_start_ < in_end_) {
    limits.authenticated =
        is_peer_ ? peer_.verified : state_.authenticated || cfg.requirepass.empty();
    size_t consumed = 0;
    auto st = parser_.Parse(in_.get() + in_start_, in_end_ - in_start_, limits, &consumed, &argv_);
    in_start_ += consumed;
    if (st == RequestParser::Status::kRequest) {
      if (is_peer_) {
        server_.DispatchPeer(*this, argv_);
      } else {
        server_.Dispatch(*this, argv_);
      }
      continue;
    }
    if (st == RequestParser::Status::kError) {
      ReplyBuilder(ReplyTarget()).Error(parser_.error());
      SHOAL_LOG(server_.logger(), LogLevel::kVerbose,
                "Protocol error (%s) from client: id=%llu addr=%s",
                std::string(parser_.error()).c_str(), static_cast<unsigned long long>(id()),
                peer_addr_.c_str());
      CloseAfterReply();
      return;
    }
    break;  // kNeedMore
  }
  if (in_start_ == in_end_) in_start_ = in_end_ = 0;
  if (query_buffer_bytes() > cfg.client_query_buffer_limit) {
    SHOAL_LOG(server_.logger(), LogLevel::kWarning,
              "Closing client that reached max query buffer length: id=%llu addr=%s "
              "(qbuf initial bytes: %zu)",
              static_cast<unsigned long long>(id()), peer_addr_.c_str(), query_buffer_bytes());
    Close();
  }
}

void Session::Flush() {
  if (closing_ || writing_) return;
  if (out_.empty()) {
    if (close_after_reply_ && replies_.outstanding() == 0) Close();
    return;
  }
  uv_buf_t buf = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
  int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&handle_), &buf, 1);
  if (n < 0 && n != UV_EAGAIN) {
    Close();
    return;
  }
  size_t written = n > 0 ? static_cast<size_t>(n) : 0;
  server_.stats().total_net_output_bytes += written;
  if (written == out_.size()) {
    out_.clear();
    if (out_.capacity() > kMaxIdleOutputCapacity) std::string().swap(out_);
    if (close_after_reply_ && replies_.outstanding() == 0) Close();
    return;
  }
  StartWrite(written);
}

void Session::StartWrite(size_t already_written) {
  // The socket is full: hand the rest to uv_write, which keeps the bytes
  // (in wbuf_) until its callback. New replies keep collecting in out_.
  wbuf_.swap(out_);
  out_.clear();
  woff_ = already_written;
  writing_ = true;
  uv_buf_t buf = uv_buf_init(wbuf_.data() + woff_, static_cast<unsigned>(wbuf_.size() - woff_));
  if (uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&handle_), &buf, 1, &Session::OnWrite) !=
      0) {
    writing_ = false;
    Close();
  }
}

void Session::OnWrite(uv_write_t* req, int status) noexcept {
  auto* self = static_cast<Session*>(req->data);
  self->writing_ = false;
  if (status != 0) {
    self->Close();
    return;
  }
  self->server_.stats().total_net_output_bytes += self->wbuf_.size() - self->woff_;
  self->wbuf_.clear();
  if (self->wbuf_.capacity() > kMaxIdleOutputCapacity) std::string().swap(self->wbuf_);
  self->woff_ = 0;
  if (!self->out_.empty() || self->close_after_reply_) self->server_.ScheduleFlush(*self);
}

}  // namespace shoal::server
