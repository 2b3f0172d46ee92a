#include "cluster/peer_client.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <limits>

#include "cluster/peer_auth.h"
#include "storage/node_id.h"

namespace shoal::cluster {
namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

// Tags telling which frame a reply answers.
char kHelloTag;
char kAuthTag;
char kRequestTag;

PeerReply CopyReply(const redisReply& r) {
  PeerReply out;
  switch (r.type) {
    case REDIS_REPLY_STRING:
      out.type = PeerReply::Type::kString;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = PeerReply::Type::kStatus;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = PeerReply::Type::kError;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = PeerReply::Type::kInteger;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_ARRAY:
      // hiredis's reader nests at most a few levels deep, which bounds this recursion.
      out.type = PeerReply::Type::kArray;
      out.elements.reserve(r.elements);
      for (size_t i = 0; i < r.elements; ++i) out.elements.push_back(CopyReply(*r.element[i]));
      break;
    default:
      out.type = PeerReply::Type::kNil;
      break;
  }
  return out;
}

std::string ReplyText(const redisReply& r) {
  return std::string(r.str, r.len);
}

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

// One TCP connection: frames out through uv_write, replies in through
// hiredis's standalone reader, each reply matched to the oldest frame still
// unanswered (its tag says whether that was HELLO, AUTH or a request).
//
// hiredis's async context is not used: in 0.14.1 a reply that arrives with no
// callback queued trips an assert and aborts the process, so anyone listening
// at an address we dial could kill the node with one extra "+OK". Here such a
// reply, or bytes the reader cannot parse, end the connection like any other
// failure.
//
// Lifetime: a Conn outlives its PeerClient when needed. Close() detaches it
// (owner = nullptr) and starts uv_close; the close callback deletes it, after
// libuv has cancelled its pending connect and write requests (their callbacks
// run first and find it closing). A Conn is never deleted while one of its own
// callbacks is on the stack.
class PeerClient::Conn {
 public:
  explicit Conn(PeerClient* owner) : owner(owner) {
    // uv_tcp_init cannot fail for AF_UNSPEC: it creates no socket yet.
    [[maybe_unused]] const int rc = uv_tcp_init(owner->loop_, &tcp_);
    assert(rc == 0);
    tcp_.data = this;
    connect_req_.data = this;
    write_req_.data = this;
  }
  ~Conn() {
    if (reader_ != nullptr) redisReaderFree(reader_);
  }

  // Starts connecting to `addr`, from `bind_addr` unless it is null. Returns
  // an error message, empty on success; on failure the caller calls Close().
  std::string Open(const sockaddr* addr, const sockaddr* bind_addr) {
    reader_ = redisReaderCreate();
    if (reader_ == nullptr) return "out of memory";
    if (bind_addr != nullptr) {
      if (const int rc = uv_tcp_bind(&tcp_, bind_addr, 0); rc != 0) {
        return std::string("cannot bind the source address: ") + uv_strerror(rc);
      }
    }
    if (const int rc = uv_tcp_connect(&connect_req_, &tcp_, addr, &Conn::OnConnect); rc != 0) {
      return uv_strerror(rc);
    }
    uv_tcp_nodelay(&tcp_, 1);  // small frames, latency-bound; best effort
    return {};
  }

  // Appends one RESP array of bulk strings to the output and expects one reply
  // for it. Written as soon as the connection is up (frames written meanwhile
  // go out together). False if the connection is closing or libuv refused the
  // write; nothing was queued then.
  bool Write(const std::vector<std::string>& argv, const void* tag) {
    if (closing_) return false;
    out_ += '*';
    out_ += std::to_string(argv.size());
    out_ += "\r\n";
    for (const std::string& a : argv) {
      out_ += '$';
      out_ += std::to_string(a.size());
      out_ += "\r\n";
      out_ += a;
      out_ += "\r\n";
    }
    tags_.push_back(tag);
    if (!connected_ || writing_) return true;
    // out_ held nothing before this frame (it is flushed whenever idle).
    if (Flush() != 0) {
      tags_.pop_back();
      return false;
    }
    return true;
  }

  // Detaches from the owner and closes the socket; idempotent.
  void Close() {
    owner = nullptr;
    if (closing_) return;
    closing_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_),
             [](uv_handle_t* h) noexcept { delete static_cast<Conn*>(h->data); });
  }

  PeerClient* owner;  // null once detached

 private:
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }

  // The connection failed: close it and tell the owner (if still attached).
  void Fail(const std::string& why) {
    PeerClient* o = owner;
    Close();
    if (o != nullptr) o->OnConnGone(why);
  }

  // Writes out_ as one request; 0 or a libuv error (out_ is consumed either way).
  int Flush() {
    wbuf_.swap(out_);
    out_.clear();
    uv_buf_t buf = uv_buf_init(wbuf_.data(), static_cast<unsigned>(wbuf_.size()));
    const int rc = uv_write(&write_req_, stream(), &buf, 1, &Conn::OnWritten);
    if (rc == 0) {
      writing_ = true;
    } else {
      wbuf_.clear();
    }
    return rc;
  }

  static void OnConnect(uv_connect_t* req, int status) noexcept {
    auto* conn = static_cast<Conn*>(req->data);
    if (conn->closing_) return;  // cancelled by Close
    if (status < 0) {
      conn->Fail(uv_strerror(status));
      return;
    }
    conn->connected_ = true;
    if (const int rc = uv_read_start(conn->stream(), &Conn::OnAlloc, &Conn::OnRead); rc != 0) {
      conn->Fail(std::string("cannot read: ") + uv_strerror(rc));
      return;
    }
    if (!conn->out_.empty()) {
      if (const int rc = conn->Flush(); rc != 0) conn->Fail(uv_strerror(rc));
    }
  }

  static void OnWritten(uv_write_t* req, int status) noexcept {
    auto* conn = static_cast<Conn*>(req->data);
    conn->writing_ = false;
    // Keep a modest buffer for the next write; give back a huge one.
    if (conn->wbuf_.capacity() > (1u << 20)) {
      conn->wbuf_ = std::string();
    } else {
      conn->wbuf_.clear();
    }
    if (conn->closing_) return;
    if (status < 0) {
      conn->Fail(std::string("write failed: ") + uv_strerror(status));
      return;
    }
    if (!conn->out_.empty()) {
      if (const int rc = conn->Flush(); rc != 0) conn->Fail(uv_strerror(rc));
    }
  }

  static void OnAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) noexcept {
    auto* conn = static_cast<Conn*>(handle->data);
    *buf = uv_buf_init(conn->rbuf_, sizeof(conn->rbuf_));
  }

  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept {
    auto* conn = static_cast<Conn*>(stream->data);
    if (conn->closing_ || nread == 0) return;
    if (nread < 0) {
      conn->Fail(nread == UV_EOF ? "connection closed by the peer"
                                 : uv_strerror(static_cast<int>(nread)));
      return;
    }
    if (redisReaderFeed(conn->reader_, buf->base, static_cast<size_t>(nread)) != REDIS_OK) {
      conn->Fail("cannot buffer the peer's replies");
      return;
    }
    for (;;) {
      void* raw = nullptr;
      if (redisReaderGetReply(conn->reader_, &raw) != REDIS_OK) {
        conn->Fail(std::string("peer sent a malformed reply: ") + conn->reader_->errstr);
        return;
      }
      if (raw == nullptr) return;  // wait for more bytes
      std::unique_ptr<redisReply, void (*)(redisReply*)> reply(
          static_cast<redisReply*>(raw), [](redisReply* r) { freeReplyObject(r); });
      if (conn->tags_.empty()) {
        conn->Fail("peer sent a reply with no request waiting (protocol violation)");
        return;
      }
      const void* tag = conn->tags_.front();
      conn->tags_.pop_front();
      // The owner may close this connection or destroy itself in there; the
      // Conn stays allocated until its close callback, a later loop phase.
      PeerClient* self = conn->owner;
      if (tag == &kRequestTag) {
        self->OnRequestReply(*reply);
      } else if (tag == &kHelloTag) {
        self->OnHelloReply(*reply);
      } else {
        self->OnAuthReply(*reply);
      }
      if (conn->closing_) return;
    }
  }

  uv_tcp_t tcp_;
  uv_connect_t connect_req_;
  uv_write_t write_req_;  // one write at a time; frames written meanwhile wait in out_
  redisReader* reader_ = nullptr;
  std::deque<const void*> tags_;  // one per frame written and not yet answered, oldest first
  std::string out_;               // frames not yet handed to libuv
  std::string wbuf_;              // the frames of the write in progress
  bool connected_ = false;
  bool writing_ = false;
  bool closing_ = false;
  char rbuf_[64 * 1024];
};

void PeerClient::TimerCloser::operator()(uv_timer_t* timer) const noexcept {
  uv_close(reinterpret_cast<uv_handle_t*>(timer),
           [](uv_handle_t* h) noexcept { delete reinterpret_cast<uv_timer_t*>(h); });
}

PeerClient::PeerClient(uv_loop_t* loop, std::string host, int port, PeerClientOptions options,
                       PeerClientEvents events)
    : loop_(loop),
      host_(std::move(host)),
      port_(port),
      options_(std::move(options)),
      events_(std::move(events)),
      armed_at_(kNever),
      backoff_ms_(std::max<int64_t>(1, options_.backoff_min_ms)),
      rng_(std::hash<std::string>{}(options_.self_id + "|" + host_ + ":" + std::to_string(port_))) {
  auto* timer = new uv_timer_t;
  // uv_timer_init cannot fail on Unix: it only fills in the handle.
  [[maybe_unused]] const int rc = uv_timer_init(loop_, timer);
  assert(rc == 0);
  timer->data = this;
  timer_.reset(timer);
}

PeerClient::~PeerClient() {
  *alive_ = false;
  phase_ = Phase::kClosed;  // a Send from the callbacks below fails at once
  DetachConn();
  timer_.reset();
  std::vector<PeerCallback> failed;
  for (Request& r : sent_) {
    if (!r.timed_out) failed.push_back(std::move(r.cb));
  }
  for (Request& r : queue_) {
    if (!r.timed_out) failed.push_back(std::move(r.cb));
  }
  sent_.clear();
  queue_.clear();
  inflight_ = 0;
  pending_bytes_ = 0;
  for (PeerCallback& cb : failed) cb(PeerOutcome::kDisconnected, nullptr, false);
}

void PeerClient::Start() {
  if (phase_ != Phase::kIdle) return;
  Connect();
}

int64_t PeerClient::Now() const {
  return static_cast<int64_t>(uv_now(loop_));
}

std::string PeerClient::Address() const {
  return host_ + ":" + std::to_string(port_);
}

void PeerClient::Connect() {
  if (attempts_++ > 0) ++stats_.reconnects;
  phase_ = Phase::kHello;
  handshake_deadline_ = Now() + options_.handshake_timeout_ms;
  client_nonce_ = NewNonce();
  // A host name is resolved synchronously here; peers are named by IP address.
  sockaddr_storage addr;
  sockaddr_storage source;
  std::string why = Resolve(host_, port_, &addr);
  if (why.empty() && !options_.bind_addr.empty()) why = Resolve(options_.bind_addr, 0, &source);
  if (!why.empty()) {
    Drop(Failure::kDown, "connecting to " + Address() + " failed: " + why);
    return;
  }
  auto* conn = new Conn(this);
  why =
      conn->Open(reinterpret_cast<const sockaddr*>(&addr),
                 options_.bind_addr.empty() ? nullptr : reinterpret_cast<const sockaddr*>(&source));
  if (!why.empty()) {
    conn->Close();  // frees it once the handle is closed
    Drop(Failure::kDown, "connecting to " + Address() + " failed: " + why);
    return;
  }
  conn_ = conn;
  // HELLO waits in the connection's buffer and goes out once the connect completes.
  auto alive = alive_;
  if (!Write({"SHOAL.HELLO", options_.self_id, client_nonce_}, &kHelloTag)) {
    if (!*alive) return;
    if (conn_ == conn) {
      Drop(Failure::kDown, "connecting to " + Address() + " failed: cannot queue HELLO");
    }
    return;
  }
  if (*alive) Arm();
}

bool PeerClient::Write(const std::vector<std::string>& argv, void* tag) {
  assert(conn_ != nullptr && !argv.empty());
  return conn_->Write(argv, tag);
}

void PeerClient::Send(std::vector<std::string> argv, int64_t deadline_ms, PeerCallback cb) {
  // An empty frame would get no reply from the peer and put every later
  // reply against the wrong request.
  if (argv.empty() || phase_ == Phase::kBackoff || phase_ == Phase::kClosed) {
    cb(PeerOutcome::kNotConnected, nullptr, false);
    return;
  }
  size_t bytes = 0;
  for (const std::string& a : argv) bytes += a.size();
  if (inflight_ >= options_.max_inflight || bytes > options_.max_pending_bytes ||
      pending_bytes_ > options_.max_pending_bytes - bytes) {
    cb(PeerOutcome::kOverloaded, nullptr, false);
    return;
  }
  Request r;
  r.seq = next_seq_++;
  r.bytes = bytes;
  r.deadline_ms = deadline_ms;
  r.cb = std::move(cb);
  ++inflight_;
  pending_bytes_ += bytes;
  deadlines_.emplace(deadline_ms, r.seq);
  if (phase_ != Phase::kReady) {
    r.argv = std::move(argv);
    queue_.push_back(std::move(r));
    Arm();
    return;
  }
  r.written = true;
  sent_.push_back(std::move(r));
  Arm();
  // Write runs no callbacks: a failure shows up later, from the loop.
  if (Write(argv, &kRequestTag)) {
    ++stats_.sent;
    return;
  }
  // libuv refused the frame: take the record back so that replies stay
  // matched, and fail it.
  Request failed = std::move(sent_.back());
  sent_.pop_back();
  --inflight_;
  pending_bytes_ -= failed.bytes;
  failed.cb(PeerOutcome::kNotConnected, nullptr, false);
}

void PeerClient::SetAddress(std::string host, int port) {
  if (host == host_ && port == port_) return;
  host_ = std::move(host);
  port_ = port;
  if (phase_ == Phase::kIdle || phase_ == Phase::kClosed) return;
  backoff_ms_ = std::max<int64_t>(1, options_.backoff_min_ms);
  if (phase_ != Phase::kBackoff) {
    auto alive = alive_;
    Drop(Failure::kDown, "peer address changed to " + Address(), /*keep_queue=*/true);
    if (!*alive || phase_ != Phase::kBackoff) return;  // a callback moved on already
  }
  Connect();
}

void PeerClient::OnHelloReply(const redisReply& reply) {
  if (phase_ != Phase::kHello) return;
  if (reply.type == REDIS_REPLY_ERROR) {
    Drop(Failure::kDown, "peer at " + Address() + " refused the handshake: " + ReplyText(reply));
    return;
  }
  const bool shaped = reply.type == REDIS_REPLY_ARRAY && reply.elements == 3 &&
                      std::all_of(reply.element, reply.element + 3, [](const redisReply* e) {
                        return e->type == REDIS_REPLY_STRING;
                      });
  if (!shaped) {
    Drop(Failure::kDown, "peer at " + Address() + " sent a malformed HELLO reply");
    return;
  }
  const std::string server_id = ReplyText(*reply.element[0]);
  const std::string server_nonce = ReplyText(*reply.element[1]);
  const std::string server_proof = ReplyText(*reply.element[2]);
  if (!storage::IsValidNodeId(server_id) || server_nonce.empty()) {
    Drop(Failure::kDown, "peer at " + Address() + " sent a malformed HELLO reply");
    return;
  }
  const std::string expected =
      ServerProof(options_.secret, client_nonce_, server_id, options_.self_id);
  if (!ProofEquals(expected, server_proof)) {
    Drop(Failure::kAuth, "peer at " + Address() + " failed authentication: wrong cluster-secret?");
    return;
  }
  pending_id_ = server_id;
  phase_ = Phase::kAuth;
  auto alive = alive_;
  if (!Write(
          {"SHOAL.AUTH", ClientProof(options_.secret, server_nonce, options_.self_id, server_id)},
          &kAuthTag)) {
    if (*alive && phase_ == Phase::kAuth) {
      Drop(Failure::kDown, "connecting to " + Address() + " failed: cannot queue AUTH");
    }
  }
}

void PeerClient::OnAuthReply(const redisReply& reply) {
  if (phase_ != Phase::kAuth) return;
  if (reply.type == REDIS_REPLY_ERROR) {
    Drop(Failure::kAuth, "peer at " + Address() + " rejected our authentication (" +
                             ReplyText(reply) + "): wrong cluster-secret?");
    return;
  }
  if (reply.type != REDIS_REPLY_STATUS || ReplyText(reply) != "OK") {
    Drop(Failure::kDown, "peer at " + Address() + " sent a malformed AUTH reply");
    return;
  }
  phase_ = Phase::kReady;
  remote_id_ = pending_id_;
  backoff_ms_ = std::max<int64_t>(1, options_.backoff_min_ms);
  ++stats_.connects;
  // Requests that waited for the handshake go out in the order they were
  // sent, ahead of anything on_ready sends. Write runs no callbacks, so
  // a failing one cannot drop the connection under us.
  std::vector<PeerCallback> refused;
  std::deque<Request> waiting;
  waiting.swap(queue_);
  for (Request& r : waiting) {
    if (r.timed_out) continue;  // already reported and released
    if (Write(r.argv, &kRequestTag)) {
      ++stats_.sent;
      r.argv = {};
      r.written = true;
      sent_.push_back(std::move(r));
    } else {
      --inflight_;
      pending_bytes_ -= r.bytes;
      refused.push_back(std::move(r.cb));
    }
  }
  Arm();
  const std::string id = remote_id_;
  auto alive = alive_;
  for (PeerCallback& cb : refused) cb(PeerOutcome::kNotConnected, nullptr, false);
  if (*alive && events_.on_ready) events_.on_ready(id);
}

void PeerClient::OnRequestReply(const redisReply& reply) {
  // Every request frame has its record at the front of sent_: frames and
  // records are appended together and replies come back in order.
  if (sent_.empty()) return;
  Request r = std::move(sent_.front());
  sent_.pop_front();
  --inflight_;
  pending_bytes_ -= r.bytes;
  ++stats_.replies;
  if (r.timed_out) ++stats_.late_replies;
  const PeerReply copy = CopyReply(reply);
  r.cb(PeerOutcome::kReply, &copy, r.timed_out);
}

void PeerClient::OnConnGone(const std::string& why) {
  conn_ = nullptr;
  if (phase_ == Phase::kReady) {
    Drop(Failure::kDown, "connection to " + Address() + " lost: " + why);
  } else {
    Drop(Failure::kDown, "connecting to " + Address() + " failed: " + why);
  }
}

void PeerClient::DetachConn() {
  if (conn_ == nullptr) return;
  Conn* conn = std::exchange(conn_, nullptr);
  conn->Close();  // detaches it first: its callbacks no longer reach us
}

void PeerClient::Drop(Failure failure, const std::string& why, bool keep_queue) {
  DetachConn();
  std::vector<PeerCallback> disconnected;
  std::vector<PeerCallback> not_connected;
  for (Request& r : sent_) {
    // A timed-out request was reported already; it just stops waiting.
    if (!r.timed_out) disconnected.push_back(std::move(r.cb));
  }
  sent_.clear();
  if (!keep_queue) {
    for (Request& r : queue_) {
      if (!r.timed_out) not_connected.push_back(std::move(r.cb));
    }
    queue_.clear();
  }
  inflight_ = 0;
  pending_bytes_ = 0;
  for (const Request& r : queue_) {
    if (r.timed_out) continue;
    ++inflight_;
    pending_bytes_ += r.bytes;
  }
  if (failure == Failure::kAuth) ++stats_.auth_failures;
  phase_ = Phase::kBackoff;
  retry_at_ = Now() + NextBackoff();
  Arm();
  // Everything above is settled before any callback runs: a callback may
  // re-enter or destroy the client.
  auto alive = alive_;
  for (PeerCallback& cb : disconnected) cb(PeerOutcome::kDisconnected, nullptr, false);
  for (PeerCallback& cb : not_connected) cb(PeerOutcome::kNotConnected, nullptr, false);
  if (!*alive) return;
  if (failure == Failure::kAuth) {
    if (events_.on_auth_failure) events_.on_auth_failure(why);
  } else if (events_.on_down) {
    events_.on_down(why);
  }
}

int64_t PeerClient::NextBackoff() {
  const int64_t base = backoff_ms_;
  const int64_t cap = std::max(options_.backoff_max_ms, options_.backoff_min_ms);
  backoff_ms_ = std::max<int64_t>(1, std::min(base * 2, cap));
  // Half fixed, half random: clients that lost the same peer do not retry in step.
  const int64_t half = base / 2;
  return half + static_cast<int64_t>(rng_() % static_cast<uint64_t>(base - half + 1));
}

PeerClient::Request* PeerClient::Find(uint64_t seq) {
  auto by_seq = [](const Request& r, uint64_t s) { return r.seq < s; };
  for (std::deque<Request>* list : {&sent_, &queue_}) {
    auto it = std::lower_bound(list->begin(), list->end(), seq, by_seq);
    if (it != list->end() && it->seq == seq) return &*it;
  }
  return nullptr;
}

void PeerClient::CompactDeadlines() {
  // Finished requests leave their heap entries behind; rebuild once they
  // outnumber the live ones, so the heap stays O(inflight).
  if (deadlines_.size() <= 2 * inflight_ + 1024) return;
  std::vector<std::pair<int64_t, uint64_t>> live;
  live.reserve(inflight_);
  for (const std::deque<Request>* list : {&sent_, &queue_}) {
    for (const Request& r : *list) {
      if (!r.timed_out) live.emplace_back(r.deadline_ms, r.seq);
    }
  }
  deadlines_ = decltype(deadlines_)(std::greater<>(), std::move(live));
}

void PeerClient::Arm() {
  if (!timer_) return;
  CompactDeadlines();
  int64_t next = kNever;
  if (phase_ == Phase::kHello || phase_ == Phase::kAuth) next = handshake_deadline_;
  if (phase_ == Phase::kBackoff) next = retry_at_;
  while (!deadlines_.empty()) {
    const Request* r = Find(deadlines_.top().second);
    if (r != nullptr && !r->timed_out) break;
    deadlines_.pop();
  }
  if (!deadlines_.empty()) next = std::min(next, deadlines_.top().first);
  if (next == armed_at_) return;
  armed_at_ = next;
  if (next == kNever) {
    uv_timer_stop(timer_.get());
    return;
  }
  const int64_t now = Now();
  const auto delay = static_cast<uint64_t>(next > now ? next - now : 0);
  // uv_timer_start fails only on a closing handle; timer_ is closed only by the destructor.
  [[maybe_unused]] const int rc = uv_timer_start(timer_.get(), &PeerClient::OnTimer, delay, 0);
  assert(rc == 0);
}

void PeerClient::OnTimer(uv_timer_t* timer) noexcept {
  static_cast<PeerClient*>(timer->data)->Tick();
}

void PeerClient::Tick() {
  armed_at_ = kNever;  // the one-shot timer has fired
  auto alive = alive_;
  const int64_t now = Now();
  if ((phase_ == Phase::kHello || phase_ == Phase::kAuth) && now >= handshake_deadline_) {
    Drop(Failure::kDown, "handshake with " + Address() + " timed out");
    if (!*alive) return;
  }
  if (phase_ == Phase::kBackoff && now >= retry_at_) {
    Connect();
    if (!*alive) return;
  }
  ExpireRequests(now);
  if (!*alive) return;
  Arm();
}

void PeerClient::ExpireRequests(int64_t now) {
  auto alive = alive_;
  while (!deadlines_.empty() && deadlines_.top().first <= now) {
    const uint64_t seq = deadlines_.top().second;
    deadlines_.pop();
    Request* r = Find(seq);
    if (r == nullptr || r->timed_out) continue;
    r->timed_out = true;
    ++stats_.timeouts;
    PeerCallback cb;
    if (!r->written) {
      // Nothing can answer it, so it is finished for good; it stays in
      // queue_, inert, until the flush.
      cb = std::move(r->cb);
      r->argv = {};
      --inflight_;
      pending_bytes_ -= r->bytes;
    } else {
      cb = r->cb;  // kept for the late reply
    }
    cb(PeerOutcome::kTimeout, nullptr, false);
    if (!*alive) return;
  }
}

}  // namespace shoal::cluster
