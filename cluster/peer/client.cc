#include "cluster/peer/client.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cassert>
#include <limits>

#include "cluster/peer/auth.h"
#include "cluster/peer/connection.h"
#include "cluster/peer/frame_mac.h"
#include "cluster/peer/log_text.h"
#include "cluster/peer/protocol.h"
#include "storage/node_id.h"

namespace shoal::cluster {
namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

// Tags telling which frame a reply answers.
char kHelloTag;
char kAuthTag;
char kRequestTag;

std::string ReplyText(const redisReply& r) {
  return std::string(r.str, r.len);
}

}  // namespace

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
  // Reported by the first Connect(), which fails while timer_ is empty.
  timer_error_ = timer_.Init(loop_, this);
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

void PeerClient::RetryNow() {
  if (phase_ != Phase::kBackoff || Now() - connect_at_ < options_.backoff_min_ms) return;
  Connect();
}

void PeerClient::Connect() {
  if (attempts_++ > 0) ++stats_.reconnects;
  phase_ = Phase::kHello;
  connect_at_ = Now();
  if (!timer_) {
    // Without its timer the client could neither end a handshake nor time
    // out a request; it stays down.
    Drop(Failure::kDown, "connecting to " + Address() +
                             " failed: cannot create a timer: " + uv_strerror(timer_error_));
    return;
  }
  handshake_deadline_ = Now() + options_.handshake_timeout_ms;
  client_nonce_ = NewNonce();
  PeerConn* conn = PeerConn::Create(
      loop_, [this](const void* tag, const redisReply& reply) { OnConnReply(tag, reply); },
      [this](const std::string& why) { OnConnGone(why); });
  std::unique_ptr<facade::TlsSession> tls;
  if (options_.tls) {
    std::shared_ptr<facade::TlsContext> ctx = options_.tls();
    auto session = ctx ? facade::TlsSession::Create(*ctx, facade::TlsRole::kClient,
                                                    facade::TlsPeerAuth::kRequired)
                       : storage::Result<std::unique_ptr<facade::TlsSession>>(
                             storage::Status::Invalid("TLS is not configured"));
    if (!session.ok()) {
      conn->Close();
      Drop(Failure::kDown, "connecting to " + Address() + " failed: " + session.status().message());
      return;
    }
    tls = std::move(session).value();
  }
  // A host name is resolved synchronously here; peers are named by IP address.
  const std::string why = conn->Open(host_, port_, options_.bind_addr, std::move(tls));
  if (!why.empty()) {
    conn->Close();  // frees it once the handle is closed
    Drop(Failure::kDown, "connecting to " + Address() + " failed: " + why);
    return;
  }
  conn_ = conn;
  // HELLO waits in the connection's buffer and goes out once the connect completes.
  auto alive = alive_;
  if (!Write({"SHOAL.HELLO", options_.self_id, client_nonce_, std::string(kPeerProtocolVersion)},
             &kHelloTag)) {
    if (!*alive) return;
    if (conn_ == conn) {
      Drop(Failure::kDown, "connecting to " + Address() + " failed: cannot queue HELLO");
    }
    return;
  }
  if (*alive) Arm();
}

bool PeerClient::Write(std::vector<std::string>&& argv, void* tag) {
  assert(conn_ != nullptr && !argv.empty());
  return conn_->Write(std::move(argv), tag);
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
  // A request bigger than max_pending_bytes on its own (a value of up to
  // proto-max-bulk-len) is accepted while at most half the limit is
  // pending, so that a big value can be replicated at all: a few small
  // requests pending (anti-entropy's, a hint's) must not refuse it.
  const bool fits =
      bytes <= options_.max_pending_bytes && pending_bytes_ <= options_.max_pending_bytes - bytes;
  const bool oversized_alone =
      bytes > options_.max_pending_bytes && pending_bytes_ <= options_.max_pending_bytes / 2;
  if (inflight_ >= options_.max_inflight || (!fits && !oversized_alone)) {
    cb(PeerOutcome::kOverloaded, nullptr, false);
    return;
  }
  constexpr size_t kMiB = size_t{1} << 20;
  if (bytes > kMiB) {
    // The caller took its deadline from the loop's cached time, before the
    // copies of a big value in this same loop turn (seconds for 512 MB): the
    // peer's time starts now, plus what moving the bytes takes.
    const uint64_t cached = uv_now(loop_);
    uv_update_time(loop_);
    deadline_ms += static_cast<int64_t>(uv_now(loop_) - cached) +
                   static_cast<int64_t>(bytes / kMiB) * kBigRequestMsPerMiB;
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
  if (Write(std::move(argv), &kRequestTag)) {
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

void PeerClient::OnConnReply(const void* tag, const redisReply& reply) {
  if (tag == &kRequestTag) {
    OnRequestReply(reply);
  } else if (tag == &kHelloTag) {
    OnHelloReply(reply);
  } else {
    OnAuthReply(reply);
  }
}

void PeerClient::OnHelloReply(const redisReply& reply) {
  if (phase_ != Phase::kHello) return;
  if (reply.type == REDIS_REPLY_ERROR) {
    Drop(Failure::kDown,
         "peer at " + Address() + " refused the handshake: " + LogRepr(ReplyText(reply)));
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
  if (!SecretEquals(expected, server_proof)) {
    Drop(Failure::kAuth, "peer at " + Address() + " failed authentication: wrong cluster-secret?");
    return;
  }
  pending_id_ = server_id;
  server_nonce_ = server_nonce;
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
                             LogRepr(ReplyText(reply)) + "): wrong cluster-secret?");
    return;
  }
  if (reply.type != REDIS_REPLY_STATUS || ReplyText(reply) != "OK") {
    Drop(Failure::kDown, "peer at " + Address() + " sent a malformed AUTH reply");
    return;
  }
  phase_ = Phase::kReady;
  // From here on every frame and reply is bound to this handshake.
  conn_->StartSession(DeriveSessionKeys(options_.secret, client_nonce_, server_nonce_,
                                        options_.self_id, pending_id_));
  // A verified peer may send replies as large as the requests it answers.
  conn_->set_reply_limit(options_.max_reply_bytes);
  remote_id_ = pending_id_;
  local_host_ = conn_->LocalHost();
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
    if (Write(std::move(r.argv), &kRequestTag)) {
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
  const PeerReply copy = FromRedisReply(reply);
  r.cb(PeerOutcome::kReply, &copy, r.timed_out);
}

void PeerClient::OnConnGone(const std::string& why) {
  conn_ = nullptr;
  if (why.starts_with("TLS")) {
    // As a wrong secret: a configuration mismatch the operator must see.
    Drop(Failure::kAuth, "TLS with peer at " + Address() + " failed: " + why);
  } else if (phase_ == Phase::kReady) {
    Drop(Failure::kDown, "connection to " + Address() + " lost: " + why);
  } else {
    Drop(Failure::kDown, "connecting to " + Address() + " failed: " + why);
  }
}

void PeerClient::DetachConn() {
  if (conn_ == nullptr) return;
  PeerConn* conn = std::exchange(conn_, nullptr);
  conn->Close();  // none of its callbacks reaches us after this
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
    // uv_timer_stop always returns 0: it only unlinks an active timer.
    (void)uv_timer_stop(timer_.get());
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
    if (conn_ != nullptr && conn_->tls_handshaking()) {
      // Most likely a node without tls-cluster yes, waiting for a RESP line.
      Drop(Failure::kAuth, "TLS with peer at " + Address() +
                               " failed: TLS handshake timed out (has that node tls-cluster yes?)");
    } else {
      Drop(Failure::kDown, "handshake with " + Address() + " timed out");
    }
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
