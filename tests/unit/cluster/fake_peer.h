#pragma once
// A fake peer for PeerClient and ForwardLinks tests: a real libuv loop
// (TestLoop), the acceptor side of the peer protocol (FakePeer), request
// and event recorders, and a bound port nobody listens on (ClosedPort).

#include <doctest/doctest.h>
#include <uv.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cluster/peer/auth.h"
#include "cluster/peer/client.h"
#include "cluster/peer/connection.h"
#include "cluster/peer/frame_mac.h"

namespace shoal::cluster::fake_peer {

inline const std::string kClientId(40, 'c');
inline const std::string kServerId(40, 'a');

// A real loop for the test. A 5 ms repeating tick keeps UV_RUN_ONCE from
// blocking long when nothing else is due; conditions are polled, not slept on.
class TestLoop {
 public:
  TestLoop() {
    REQUIRE(uv_loop_init(&loop_) == 0);
    REQUIRE(uv_timer_init(&loop_, &tick_) == 0);
    REQUIRE(uv_timer_start(
                &tick_, [](uv_timer_t*) noexcept {}, 5, 5) == 0);
  }
  ~TestLoop() {
    if (!finished_) (void)Finish();
  }

  uv_loop_t* get() { return &loop_; }
  int64_t now() {
    uv_update_time(&loop_);
    return static_cast<int64_t>(uv_now(&loop_));
  }

  // Runs the loop until cond() holds; false if timeout_ms of real time pass first.
  bool RunUntil(const std::function<bool()>& cond, int64_t timeout_ms = 5000) {
    const uint64_t end = uv_hrtime() + static_cast<uint64_t>(timeout_ms) * 1000000;
    while (!cond()) {
      if (uv_hrtime() > end) return false;
      uv_run(&loop_, UV_RUN_ONCE);
    }
    return true;
  }

  // Closes the tick, runs until no handle is left, and closes the loop;
  // returns uv_loop_close's result (0 when every handle was closed).
  int Finish() {
    finished_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
    const uint64_t end = uv_hrtime() + 5'000'000'000ull;
    while (uv_run(&loop_, UV_RUN_NOWAIT) != 0 && uv_hrtime() < end) {
    }
    return uv_loop_close(&loop_);
  }

 private:
  uv_loop_t loop_;
  uv_timer_t tick_;
  bool finished_ = false;
};

// A parsed RESP array of bulk strings, consumed from the front of `in`.
// Returns false (consuming nothing) until a whole frame is there.
inline bool ParseFrame(std::string& in, std::vector<std::string>& argv) {
  argv.clear();
  size_t pos = 0;
  auto read_line = [&](char prefix, long& value) {
    if (pos >= in.size() || in[pos] != prefix) return false;
    const size_t eol = in.find("\r\n", pos);
    if (eol == std::string::npos) return false;
    value = std::strtol(in.c_str() + pos + 1, nullptr, 10);
    pos = eol + 2;
    return true;
  };
  long n = 0;
  if (!read_line('*', n)) return false;
  for (long i = 0; i < n; ++i) {
    long len = 0;
    if (!read_line('$', len)) return false;
    if (in.size() < pos + static_cast<size_t>(len) + 2) return false;
    argv.push_back(in.substr(pos, static_cast<size_t>(len)));
    pos += static_cast<size_t>(len) + 2;
  }
  in.erase(0, pos);
  return true;
}

inline std::string Bulk(const std::string& s) {
  return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n";
}

// The acceptor side of the peer protocol, just enough of it: HELLO and AUTH
// per the spec (using peer_auth), then ECHO x (a bulk reply), SHOAL.BARRIER
// (+OK), HANG (never answered), CLOSE (closes the socket).
class FakePeer {
 public:
  struct Options {
    std::string id = kServerId;
    std::string secret;           // proves the acceptor with this
    std::string verify_secret;    // checks the connector's proof with this
    bool mute = false;            // never answer HELLO
    std::string hello_reply;      // if set, the raw reply to HELLO (a peer gone wrong)
    std::string auth_extra;       // raw bytes sent right after the +OK to AUTH
    std::string echo_extra;       // raw bytes sent right after each ECHO reply
    bool tamper_replies = false;  // flips a bit of every sealed chunk's MAC
  };

  FakePeer(uv_loop_t* loop, Options options) : loop_(loop), options_(std::move(options)) {
    REQUIRE(uv_tcp_init(loop_, &listener_) == 0);
    listener_.data = this;
    sockaddr_in addr{};
    REQUIRE(uv_ip4_addr("127.0.0.1", 0, &addr) == 0);
    REQUIRE(uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&addr), 0) == 0);
    REQUIRE(uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 16, &FakePeer::OnConnection) ==
            0);
    sockaddr_storage bound{};
    int len = sizeof(bound);
    REQUIRE(uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &len) == 0);
    port_ = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }
  ~FakePeer() { Close(); }

  int port() const { return port_; }
  // May be changed between connections (hello_reply: refuse, then accept).
  Options& options() { return options_; }
  int accepted() const { return accepted_; }
  int authenticated() const { return authenticated_; }
  // Frames after the handshake refused for a bad MAC.
  int mac_failures() const { return mac_failures_; }
  const std::vector<std::vector<std::string>>& commands() const { return commands_; }

  // While holding, replies are kept back per connection until Release().
  void Hold() { holding_ = true; }
  void Release() {
    holding_ = false;
    for (Conn* c : conns_) {
      if (!c->held.empty()) WriteSealed(c, std::exchange(c->held, {}));
    }
  }
  // Closes every accepted connection (the listener stays).
  void DropAll() {
    for (Conn* c : std::set<Conn*>(conns_)) CloseConn(c);
  }
  void Close() {
    if (closed_) return;
    closed_ = true;
    DropAll();
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  }

 private:
  struct Conn {
    uv_tcp_t tcp;
    FakePeer* peer = nullptr;
    std::string in;
    std::string held;
    bool authed = false;
    std::string client_id, client_nonce, server_nonce;
    std::unique_ptr<FrameVerifier> verifier;
    std::unique_ptr<ReplySealer> sealer;
  };
  struct WriteReq {
    uv_write_t req;
    std::string data;
    Conn* close_after = nullptr;
  };

  static void OnConnection(uv_stream_t* server, int status) noexcept {
    auto* self = static_cast<FakePeer*>(server->data);
    if (status != 0) return;
    auto* c = new Conn;
    c->peer = self;
    uv_tcp_init(self->loop_, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp),
               [](uv_handle_t* h) noexcept { delete static_cast<Conn*>(h->data); });
      return;
    }
    ++self->accepted_;
    self->conns_.insert(c);
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->tcp),
        [](uv_handle_t*, size_t, uv_buf_t* buf) noexcept {
          static char chunk[65536];
          *buf = uv_buf_init(chunk, sizeof(chunk));
        },
        &FakePeer::OnRead);
  }

  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept {
    auto* c = static_cast<Conn*>(stream->data);
    FakePeer* self = c->peer;
    if (nread < 0) {
      self->CloseConn(c);
      return;
    }
    c->in.append(buf->base, static_cast<size_t>(nread));
    std::vector<std::string> argv;
    while (self->conns_.count(c) != 0 && ParseFrame(c->in, argv)) self->Handle(c, argv);
  }

  void Handle(Conn* c, const std::vector<std::string>& argv) {
    if (argv.empty()) return;
    const std::string& cmd = argv[0];
    if (c->authed) {
      // Frames are held until their batch's seal verifies, as PeerServer does.
      if (cmd != kSealCommand || argv.size() != 2) {
        if (!c->verifier->Hold(std::vector<std::string>(argv))) {
          ++mac_failures_;
          CloseConn(c);
        }
        return;
      }
      auto frames = c->verifier->Open(argv[1]);
      if (!frames) {
        ++mac_failures_;
        CloseConn(c);
        return;
      }
      for (const std::vector<std::string>& frame : *frames) {
        if (conns_.count(c) == 0) return;
        HandleVerified(c, frame);
      }
      return;
    }
    if (cmd == "SHOAL.HELLO" && argv.size() == 4 && argv[3] == kPeerProtocolVersion) {
      if (options_.mute) return;
      if (!options_.hello_reply.empty()) {
        Write(c, options_.hello_reply);
        return;
      }
      c->client_id = argv[1];
      c->client_nonce = argv[2];
      c->server_nonce = NewNonce();
      Write(c, "*3\r\n" + Bulk(options_.id) + Bulk(c->server_nonce) +
                   Bulk(ServerProof(options_.secret, c->client_nonce, options_.id, c->client_id)));
      return;
    }
    if (cmd == "SHOAL.AUTH" && argv.size() == 2) {
      const std::string expected =
          ClientProof(options_.verify_secret, c->server_nonce, c->client_id, options_.id);
      if (!c->server_nonce.empty() && SecretEquals(expected, argv[1])) {
        c->authed = true;
        ++authenticated_;
        const SessionKeys keys = DeriveSessionKeys(options_.verify_secret, c->client_nonce,
                                                   c->server_nonce, c->client_id, options_.id);
        c->verifier = std::make_unique<FrameVerifier>(keys.requests);
        c->sealer = std::make_unique<ReplySealer>(keys.replies);
        Write(c, "+OK\r\n");
        if (!options_.auth_extra.empty()) WriteSealed(c, options_.auth_extra);
      } else {
        Write(c, "-ERR authentication failed\r\n", /*close_after=*/true);
      }
      return;
    }
    Write(c, "-NOAUTH peer not authenticated\r\n", /*close_after=*/true);
  }

  void HandleVerified(Conn* c, const std::vector<std::string>& argv) {
    const std::string& cmd = argv[0];
    commands_.push_back(argv);
    if ((cmd == "ECHO" && argv.size() == 2) || cmd == "SHOAL.BARRIER") {
      const std::string reply = cmd == "ECHO" ? Bulk(argv[1]) : "+OK\r\n";
      if (holding_) {
        c->held += reply;
      } else {
        WriteSealed(c, cmd == "ECHO" ? reply + options_.echo_extra : reply);
      }
    } else if (cmd == "CLOSE") {
      CloseConn(c);
    } else if (cmd != "HANG") {
      WriteSealed(c, "-ERR unknown command\r\n");
    }
  }

  // Replies after the handshake: one sealed chunk per write.
  void WriteSealed(Conn* c, std::string data) {
    c->sealer->Seal(data);
    // The chunk is *2 $32 <mac>: its MAC's first byte sits at offset 9.
    if (options_.tamper_replies) data[9] = static_cast<char>(data[9] ^ 1);
    Write(c, std::move(data));
  }

  void Write(Conn* c, std::string data, bool close_after = false) {
    auto* w = new WriteReq;
    w->data = std::move(data);
    w->close_after = close_after ? c : nullptr;
    uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    const int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1,
                            [](uv_write_t* req, int) noexcept {
                              auto* w = reinterpret_cast<WriteReq*>(req);
                              if (w->close_after != nullptr) {
                                w->close_after->peer->CloseConn(w->close_after);
                              }
                              delete w;
                            });
    if (rc != 0) delete w;
  }

  void CloseConn(Conn* c) {
    if (conns_.erase(c) == 0) return;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp),
             [](uv_handle_t* h) noexcept { delete static_cast<Conn*>(h->data); });
  }

  uv_loop_t* loop_;
  Options options_;
  uv_tcp_t listener_;
  int port_ = 0;
  bool closed_ = false;
  bool holding_ = false;
  int accepted_ = 0;
  int authenticated_ = 0;
  int mac_failures_ = 0;
  std::set<Conn*> conns_;
  std::vector<std::vector<std::string>> commands_;
};

// What one request's callback saw, call by call.
struct Seen {
  PeerOutcome outcome;
  std::optional<PeerReply> reply;
  bool late;
};

// Collects request outcomes and connection events.
struct Recorder {
  std::vector<std::vector<Seen>> requests;
  std::vector<std::string> ready, down, auth_failures;

  // A callback recording into requests[i]; i is the next index.
  PeerCallback Next() {
    const size_t i = requests.size();
    requests.emplace_back();
    return [this, i](PeerOutcome o, const PeerReply* r, bool late) {
      requests[i].push_back({o, r != nullptr ? std::optional<PeerReply>(*r) : std::nullopt, late});
    };
  }
  size_t Finished() const {
    size_t n = 0;
    for (const auto& r : requests) n += r.empty() ? 0 : 1;
    return n;
  }
  PeerClientEvents Events() {
    PeerClientEvents e;
    e.on_ready = [this](const std::string& id) { ready.push_back(id); };
    e.on_down = [this](const std::string& why) { down.push_back(why); };
    e.on_auth_failure = [this](const std::string& why) { auth_failures.push_back(why); };
    return e;
  }
};

inline PeerClientOptions ClientOptions(std::string secret) {
  PeerClientOptions o;
  o.self_id = kClientId;
  o.secret = std::move(secret);
  o.handshake_timeout_ms = 2000;
  o.backoff_min_ms = 20;
  o.backoff_max_ms = 40;
  return o;
}

inline FakePeer::Options PeerOptions(std::string secret) {
  FakePeer::Options o;
  o.secret = secret;
  o.verify_secret = secret;
  return o;
}

// A port with nothing listening: bound (so no one else takes it) but not listening.
class ClosedPort {
 public:
  explicit ClosedPort(uv_loop_t* loop) {
    REQUIRE(uv_tcp_init(loop, &tcp_) == 0);
    sockaddr_in addr{};
    REQUIRE(uv_ip4_addr("127.0.0.1", 0, &addr) == 0);
    REQUIRE(uv_tcp_bind(&tcp_, reinterpret_cast<const sockaddr*>(&addr), 0) == 0);
    sockaddr_storage bound{};
    int len = sizeof(bound);
    REQUIRE(uv_tcp_getsockname(&tcp_, reinterpret_cast<sockaddr*>(&bound), &len) == 0);
    port_ = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }
  ~ClosedPort() { uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), nullptr); }
  int port() const { return port_; }

 private:
  uv_tcp_t tcp_;
  int port_ = 0;
};

}  // namespace shoal::cluster::fake_peer
