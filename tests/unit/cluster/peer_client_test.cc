#include "cluster/peer/client.h"
#include "cluster/peer/connection.h"

#include <doctest/doctest.h>
#include <uv.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster/peer/auth.h"
#include "cluster/peer/frame_mac.h"

namespace shoal::cluster {
namespace {

const std::string kClientId(40, 'c');
const std::string kServerId(40, 'a');

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
bool ParseFrame(std::string& in, std::vector<std::string>& argv) {
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

std::string Bulk(const std::string& s) {
  return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n";
}

// The acceptor side of the peer protocol, just enough of it: HELLO and AUTH
// per the spec (using peer_auth), then ECHO x (a bulk reply), HANG (never
// answered), CLOSE (closes the socket).
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
    if (cmd == "ECHO" && argv.size() == 2) {
      if (holding_) {
        c->held += Bulk(argv[1]);
      } else {
        WriteSealed(c, Bulk(argv[1]) + options_.echo_extra);
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

PeerClientOptions ClientOptions(std::string secret) {
  PeerClientOptions o;
  o.self_id = kClientId;
  o.secret = std::move(secret);
  o.handshake_timeout_ms = 2000;
  o.backoff_min_ms = 20;
  o.backoff_max_ms = 40;
  return o;
}

FakePeer::Options PeerOptions(std::string secret) {
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

// A client whose handshake with a well-behaved fake peer (secret "k") is done.
struct ReadyClient {
  TestLoop loop;
  FakePeer peer{loop.get(), PeerOptions("k")};
  Recorder rec;
  PeerClient client{loop.get(), "127.0.0.1", peer.port(), ClientOptions("k"), rec.Events()};

  ReadyClient() {
    client.Start();
    REQUIRE(loop.RunUntil([&] { return client.ready(); }));
  }
};

TEST_CASE("handshake, then pipelined requests answered in order") {
  TestLoop loop;
  FakePeer peer(loop.get(), PeerOptions("s3cret"));
  Recorder rec;
  auto client = std::make_unique<PeerClient>(loop.get(), "127.0.0.1", peer.port(),
                                             ClientOptions("s3cret"), rec.Events());
  CHECK_FALSE(client->ready());
  CHECK(client->remote_id().empty());
  const int64_t deadline = loop.now() + 5000;
  // Sent before Start and during the handshake: queued, then written in order.
  for (int i = 0; i < 50; ++i)
    client->Send({"ECHO", "v" + std::to_string(i)}, deadline, rec.Next());
  client->Start();
  for (int i = 50; i < 60; ++i)
    client->Send({"ECHO", "v" + std::to_string(i)}, deadline, rec.Next());
  CHECK(client->inflight() == 60);
  REQUIRE(loop.RunUntil([&] { return client->ready(); }));
  CHECK(rec.ready == std::vector<std::string>{kServerId});
  CHECK(client->remote_id() == kServerId);
  // Written once ready: pipelined behind the queued ones; binary-safe arguments.
  const std::string binary("a\r\n$3\r\n\0b*", 10);
  for (int i = 60; i < 100; ++i)
    client->Send({"ECHO", "v" + std::to_string(i)}, deadline, rec.Next());
  client->Send({"ECHO", binary}, deadline, rec.Next());
  REQUIRE(loop.RunUntil([&] { return rec.Finished() == 101; }));
  for (int i = 0; i < 100; ++i) {
    CAPTURE(i);
    REQUIRE(rec.requests[i].size() == 1);
    const Seen& s = rec.requests[i][0];
    CHECK(s.outcome == PeerOutcome::kReply);
    CHECK_FALSE(s.late);
    REQUIRE(s.reply.has_value());
    CHECK(s.reply->type == PeerReply::Type::kString);
    CHECK(s.reply->str == "v" + std::to_string(i));
  }
  CHECK(rec.requests[100][0].reply->str == binary);
  // Every frame carried its MAC, checked and stripped by the peer.
  CHECK(peer.mac_failures() == 0);
  CHECK(peer.commands().size() == 101);
  CHECK(peer.commands()[100] == std::vector<std::string>{"ECHO", binary});
  CHECK(peer.accepted() == 1);
  CHECK(client->inflight() == 0);
  CHECK(client->stats().connects == 1);
  CHECK(client->stats().sent == 101);
  CHECK(client->stats().replies == 101);
  CHECK(rec.down.empty());
  CHECK(rec.auth_failures.empty());
  client.reset();
  peer.Close();
  CHECK(loop.Finish() == 0);
}

TEST_CASE("error replies and other reply types come back as PeerReply") {
  TestLoop loop;
  FakePeer peer(loop.get(), PeerOptions(""));  // empty secrets interoperate
  Recorder rec;
  PeerClient client(loop.get(), "127.0.0.1", peer.port(), ClientOptions(""), rec.Events());
  client.Start();
  client.Send({"NOSUCH"}, loop.now() + 5000, rec.Next());
  REQUIRE(loop.RunUntil([&] { return rec.Finished() == 1; }));
  CHECK(client.remote_id() == kServerId);
  REQUIRE(rec.requests[0][0].outcome == PeerOutcome::kReply);
  CHECK(rec.requests[0][0].reply->type == PeerReply::Type::kError);
  CHECK(rec.requests[0][0].reply->str == "ERR unknown command");
}

TEST_CASE("a wrong secret on the connector's side: the peer's proof is refused") {
  TestLoop loop;
  FakePeer peer(loop.get(), PeerOptions("theirs"));
  Recorder rec;
  auto client = std::make_unique<PeerClient>(loop.get(), "127.0.0.1", peer.port(),
                                             ClientOptions("ours"), rec.Events());
  client->Send({"ECHO", "queued"}, loop.now() + 5000, rec.Next());
  client->Start();
  REQUIRE(loop.RunUntil([&] { return !rec.auth_failures.empty(); }));
  CHECK(rec.auth_failures[0] == "peer at 127.0.0.1:" + std::to_string(peer.port()) +
                                    " failed authentication: wrong cluster-secret?");
  CHECK_FALSE(client->ready());
  CHECK(client->remote_id().empty());
  CHECK(peer.authenticated() == 0);
  CHECK(peer.commands().empty());
  // The queued request never went out.
  REQUIRE(rec.requests[0].size() == 1);
  CHECK(rec.requests[0][0].outcome == PeerOutcome::kNotConnected);
  // Backing off: requests fail at once, synchronously.
  client->Send({"ECHO", "x"}, loop.now() + 5000, rec.Next());
  REQUIRE(rec.requests[1].size() == 1);
  CHECK(rec.requests[1][0].outcome == PeerOutcome::kNotConnected);
  // It keeps retrying (with backoff), failing the same way, and never reports down.
  REQUIRE(loop.RunUntil([&] { return rec.auth_failures.size() >= 3; }));
  CHECK(peer.accepted() >= 3);
  CHECK(client->stats().auth_failures >= 3);
  CHECK(client->stats().reconnects >= 2);
  CHECK(client->stats().connects == 0);
  CHECK(rec.ready.empty());
  CHECK(rec.down.empty());
  client.reset();
  peer.Close();
  CHECK(loop.Finish() == 0);
}

TEST_CASE("a wrong secret on the acceptor's side: our AUTH is refused") {
  TestLoop loop;
  FakePeer::Options po = PeerOptions("ours");
  po.verify_secret = "something else";  // it proves itself right, then rejects us
  FakePeer peer(loop.get(), po);
  Recorder rec;
  PeerClient client(loop.get(), "127.0.0.1", peer.port(), ClientOptions("ours"), rec.Events());
  client.Start();
  client.Send({"ECHO", "queued"}, loop.now() + 5000, rec.Next());
  REQUIRE(loop.RunUntil([&] { return !rec.auth_failures.empty(); }));
  CHECK(rec.auth_failures[0].find("rejected our authentication") != std::string::npos);
  CHECK(rec.auth_failures[0].find("wrong cluster-secret?") != std::string::npos);
  CHECK_FALSE(client.ready());
  CHECK(client.stats().auth_failures == 1);
  REQUIRE(rec.requests[0].size() == 1);
  CHECK(rec.requests[0][0].outcome == PeerOutcome::kNotConnected);
  CHECK(peer.commands().empty());
  CHECK(rec.ready.empty());
  CHECK(rec.down.empty());
}

TEST_CASE("an error or a malformed answer to HELLO fails the attempt") {
  struct Case {
    std::string reply;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"-ERR unknown command 'SHOAL.HELLO'\r\n", "refused the handshake: \"ERR unknown command"},
      // A peer's text is quoted and escaped: it cannot forge a log line.
      {"-ERR x\nforged\r\n", "refused the handshake: \"ERR x\\nforged\""},
      {"+OK\r\n", "malformed HELLO reply"},
      {"*2\r\n" + Bulk(kServerId) + Bulk("n"), "malformed HELLO reply"},
      {"*3\r\n" + Bulk("not-an-id") + Bulk("n") + Bulk("p"), "malformed HELLO reply"},
      {"*3\r\n" + Bulk(kServerId) + ":1\r\n" + Bulk("p"), "malformed HELLO reply"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.reply);
    TestLoop loop;
    FakePeer::Options po = PeerOptions("k");
    po.hello_reply = c.reply;
    FakePeer peer(loop.get(), po);
    Recorder rec;
    PeerClient client(loop.get(), "127.0.0.1", peer.port(), ClientOptions("k"), rec.Events());
    client.Start();
    client.Send({"ECHO", "x"}, loop.now() + 5000, rec.Next());
    REQUIRE(loop.RunUntil([&] { return !rec.down.empty(); }));
    CHECK(rec.down[0].find(c.says) != std::string::npos);
    CHECK(rec.auth_failures.empty());
    CHECK(rec.requests[0][0].outcome == PeerOutcome::kNotConnected);
    CHECK_FALSE(client.ready());
  }
}

TEST_CASE("replies whose MAC does not match drop the connection") {
  TestLoop loop;
  FakePeer::Options po = PeerOptions("k");
  po.tamper_replies = true;
  FakePeer peer(loop.get(), po);
  Recorder rec;
  PeerClient client(loop.get(), "127.0.0.1", peer.port(), ClientOptions("k"), rec.Events());
  client.Start();
  REQUIRE(loop.RunUntil([&] { return client.ready(); }));
  client.Send({"ECHO", "x"}, loop.now() + 5000, rec.Next());
  REQUIRE(loop.RunUntil([&] { return !rec.down.empty(); }));
  CHECK(rec.down[0].find("failed their MAC check") != std::string::npos);
  REQUIRE(rec.requests[0].size() == 1);
  CHECK(rec.requests[0][0].outcome == PeerOutcome::kDisconnected);
  CHECK(peer.commands().size() == 1);  // the frame itself was fine
}

TEST_CASE_FIXTURE(ReadyClient, "timeout, then the late reply") {
  peer.Hold();
  const int64_t sent_at = loop.now();
  client.Send({"ECHO", "slow"}, sent_at + 50, rec.Next());
  client.Send({"ECHO", "patient"}, sent_at + 60000, rec.Next());
  REQUIRE(loop.RunUntil([&] { return !rec.requests[0].empty(); }));
  CHECK(loop.now() >= sent_at + 50);
  REQUIRE(rec.requests[0].size() == 1);
  CHECK(rec.requests[0][0].outcome == PeerOutcome::kTimeout);
  CHECK_FALSE(rec.requests[0][0].reply.has_value());
  CHECK(rec.requests[1].empty());
  CHECK(client.stats().timeouts == 1);
  CHECK(client.inflight() == 2);  // the timed-out one still counts until its reply
  REQUIRE(loop.RunUntil([&] { return peer.commands().size() == 2; }));
  peer.Release();
  REQUIRE(loop.RunUntil([&] { return rec.requests[0].size() == 2 && !rec.requests[1].empty(); }));
  const Seen& late = rec.requests[0][1];
  CHECK(late.outcome == PeerOutcome::kReply);
  CHECK(late.late);
  REQUIRE(late.reply.has_value());
  CHECK(late.reply->str == "slow");
  // The reply after it still matches its own request.
  REQUIRE(rec.requests[1].size() == 1);
  CHECK(rec.requests[1][0].outcome == PeerOutcome::kReply);
  CHECK_FALSE(rec.requests[1][0].late);
  CHECK(rec.requests[1][0].reply->str == "patient");
  CHECK(client.stats().late_replies == 1);
  CHECK(client.stats().replies == 2);
  CHECK(client.inflight() == 0);
}

TEST_CASE_FIXTURE(ReadyClient, "deadlines need not follow send order") {
  const int64_t now = loop.now();
  client.Send({"HANG"}, now + 400, rec.Next());
  client.Send({"HANG"}, now + 40, rec.Next());
  REQUIRE(loop.RunUntil([&] { return !rec.requests[1].empty(); }));
  CHECK(rec.requests[1][0].outcome == PeerOutcome::kTimeout);
  CHECK(rec.requests[0].empty());
  CHECK(loop.now() < now + 400);
  REQUIRE(loop.RunUntil([&] { return !rec.requests[0].empty(); }));
  CHECK(rec.requests[0][0].outcome == PeerOutcome::kTimeout);
  CHECK(loop.now() >= now + 400);
}

TEST_CASE_FIXTURE(ReadyClient, "a big request's deadline allows for its size") {
  // 3 MiB of arguments: 3 * kBigRequestMsPerMiB past the deadline given.
  const int64_t now = loop.now();
  client.Send({"HANG", std::string(3u << 20, 'x')}, now + 20, rec.Next());
  client.Send({"HANG"}, now + 20, rec.Next());
  REQUIRE(loop.RunUntil([&] { return !rec.requests[1].empty(); }));
  CHECK(rec.requests[0].empty());
  REQUIRE(loop.RunUntil([&] { return !rec.requests[0].empty(); }));
  CHECK(rec.requests[0][0].outcome == PeerOutcome::kTimeout);
  CHECK(loop.now() >= now + 20 + 3 * PeerClient::kBigRequestMsPerMiB);
}

TEST_CASE_FIXTURE(ReadyClient, "deadlines survive the pruning of finished requests' heap entries") {
  // 3000 answered requests leave 3000 stale deadline entries behind...
  for (int i = 0; i < 3000; ++i) client.Send({"ECHO", "x"}, loop.now() + 60000, rec.Next());
  REQUIRE(loop.RunUntil([&] { return rec.Finished() == 3000; }));
  // ...so the next Send rebuilds the heap, which must keep the new entry.
  client.Send({"HANG"}, loop.now() + 20, rec.Next());
  REQUIRE(loop.RunUntil([&] { return rec.Finished() == 3001; }));
  CHECK(rec.requests[3000][0].outcome == PeerOutcome::kTimeout);
  // An empty frame is refused: the peer would not answer it.
  client.Send({}, loop.now() + 60000, rec.Next());
  REQUIRE(rec.requests[3001].size() == 1);
  CHECK(rec.requests[3001][0].outcome == PeerOutcome::kNotConnected);
}

TEST_CASE("a request queued during the handshake can time out before it is written") {
  TestLoop loop;
  FakePeer::Options po = PeerOptions("k");
  po.mute = true;
  FakePeer peer(loop.get(), po);
  Recorder rec;
  PeerClient client(loop.get(), "127.0.0.1", peer.port(), ClientOptions("k"), rec.Events());
  client.Start();
  client.Send({"ECHO", "x"}, loop.now() + 30, rec.Next());
  REQUIRE(loop.RunUntil([&] { return !rec.requests[0].empty(); }));
  CHECK(rec.requests[0][0].outcome == PeerOutcome::kTimeout);
  CHECK(client.inflight() == 0);
}

TEST_CASE_FIXTURE(ReadyClient,
                  "a lost connection fails what is in flight, and the client reconnects") {
  const int64_t now = loop.now();
  client.Send({"HANG"}, now + 20, rec.Next());  // times out first: dropped silently later
  client.Send({"HANG"}, now + 60000, rec.Next());
  client.Send({"HANG"}, now + 60000, rec.Next());
  REQUIRE(loop.RunUntil([&] { return !rec.requests[0].empty(); }));
  CHECK(rec.requests[0][0].outcome == PeerOutcome::kTimeout);
  client.Send({"CLOSE"}, now + 60000, rec.Next());
  REQUIRE(loop.RunUntil([&] { return rec.Finished() == 4; }));
  for (int i = 1; i < 4; ++i) {
    REQUIRE(rec.requests[i].size() == 1);
    CHECK(rec.requests[i][0].outcome == PeerOutcome::kDisconnected);
  }
  CHECK(rec.requests[0].size() == 1);  // no second call for the timed-out one
  REQUIRE(rec.down.size() == 1);
  CHECK(rec.down[0].find("lost") != std::string::npos);
  CHECK(client.inflight() == 0);
  REQUIRE(loop.RunUntil([&] { return rec.ready.size() == 2; }));
  CHECK(client.ready());
  CHECK(client.stats().connects == 2);
  CHECK(client.stats().reconnects == 1);
  CHECK(peer.accepted() == 2);
  client.Send({"ECHO", "again"}, loop.now() + 5000, rec.Next());
  REQUIRE(loop.RunUntil([&] { return rec.Finished() == 5; }));
  CHECK(rec.requests[4][0].reply->str == "again");
}

TEST_CASE_FIXTURE(ReadyClient, "the acceptor dropping every connection is noticed") {
  client.Send({"HANG"}, loop.now() + 60000, rec.Next());
  REQUIRE(loop.RunUntil([&] { return peer.commands().size() == 1; }));
  peer.DropAll();
  REQUIRE(loop.RunUntil([&] { return rec.Finished() == 1; }));
  CHECK(rec.requests[0][0].outcome == PeerOutcome::kDisconnected);
  CHECK_FALSE(rec.down.empty());
  REQUIRE(loop.RunUntil([&] { return rec.ready.size() == 2; }));
}

// hiredis 0.14.1's async context aborts the process on a reply with no
// callback waiting; ours must only drop the connection, then reconnect.
TEST_CASE("a reply with no request waiting, or a malformed one, drops the connection") {
  struct Variant {
    const char* name;
    std::string auth_extra, echo_extra;
    const char* why;  // in the on_down message
    bool hang;        // a HANG follows the ECHO (it must fail with kDisconnected)
  };
  const Variant variants[] = {
      {"two replies to one request", "", "+OK\r\n", "no request waiting", false},
      {"a reply before any request", "+OK\r\n", "", "no request waiting", false},
      {"bytes that are not RESP", "", "?oops\r\n", "malformed reply", true},
  };
  for (const Variant& v : variants) {
    CAPTURE(v.name);
    TestLoop loop;
    FakePeer::Options po = PeerOptions("k");
    po.auth_extra = v.auth_extra;
    po.echo_extra = v.echo_extra;
    FakePeer peer(loop.get(), po);
    Recorder rec;
    PeerClient client(loop.get(), "127.0.0.1", peer.port(), ClientOptions("k"), rec.Events());
    client.Start();
    REQUIRE(loop.RunUntil([&] { return !rec.ready.empty(); }));
    if (!v.echo_extra.empty()) {
      client.Send({"ECHO", "a"}, loop.now() + 60000, rec.Next());
      if (v.hang) client.Send({"HANG"}, loop.now() + 60000, rec.Next());
    }
    REQUIRE(loop.RunUntil([&] { return !rec.down.empty(); }));
    CHECK(rec.down[0].find("lost") != std::string::npos);
    CHECK(rec.down[0].find(v.why) != std::string::npos);
    if (!v.echo_extra.empty()) {
      // The ECHO got its reply; the stray bytes behind it ended the
      // connection, failing the HANG still waiting.
      REQUIRE(rec.Finished() == rec.requests.size());
      REQUIRE(rec.requests[0].size() == 1);
      CHECK(rec.requests[0][0].outcome == PeerOutcome::kReply);
      CHECK(rec.requests[0][0].reply->str == "a");
      if (v.hang) {
        REQUIRE(rec.requests[1].size() == 1);
        CHECK(rec.requests[1][0].outcome == PeerOutcome::kDisconnected);
      }
      CHECK(client.inflight() == 0);
    }
    // The client backs off and reconnects; the process is still here.
    REQUIRE(loop.RunUntil([&] { return rec.ready.size() >= 2; }));
    CHECK(client.stats().connects >= 2);
  }
}

// A process at an address we dial must not make us buffer without bound:
// before the handshake a reply may not exceed PeerConn::kHandshakeReplyLimit.
TEST_CASE("an oversized reply before the handshake drops the connection") {
  TestLoop loop;
  FakePeer::Options po = PeerOptions("k");
  // A bulk that announces 1 GB, then more bytes than the limit.
  po.hello_reply = "$1000000000\r\n" + std::string(PeerConn::kHandshakeReplyLimit + 4096, 'x');
  FakePeer peer(loop.get(), po);
  Recorder rec;
  PeerClient client(loop.get(), "127.0.0.1", peer.port(), ClientOptions("k"), rec.Events());
  client.Start();
  REQUIRE(loop.RunUntil([&] { return !rec.down.empty(); }));
  CHECK(rec.down[0].find("reply too large") != std::string::npos);
  CHECK_FALSE(client.ready());
}

TEST_CASE("max_inflight and max_pending_bytes refuse at once with kOverloaded") {
  TestLoop loop;
  FakePeer peer(loop.get(), PeerOptions("k"));
  Recorder rec;
  PeerClientOptions o = ClientOptions("k");
  o.max_inflight = 4;
  o.max_pending_bytes = 100;
  PeerClient client(loop.get(), "127.0.0.1", peer.port(), o, rec.Events());
  client.Start();
  REQUIRE(loop.RunUntil([&] { return client.ready(); }));
  const int64_t deadline = loop.now() + 60000;
  for (int i = 0; i < 4; ++i) client.Send({"HANG"}, deadline, rec.Next());
  CHECK(client.inflight() == 4);
  client.Send({"HANG"}, deadline, rec.Next());
  REQUIRE(rec.requests[4].size() == 1);
  CHECK(rec.requests[4][0].outcome == PeerOutcome::kOverloaded);
  CHECK(client.inflight() == 4);
  for (int i = 0; i < 4; ++i) CHECK(rec.requests[i].empty());

  // Bytes: a request that would pass 100 is refused while others are pending.
  PeerClient roomy(loop.get(), "127.0.0.1", peer.port(), o, {});
  roomy.Start();
  REQUIRE(loop.RunUntil([&] { return roomy.ready(); }));
  roomy.Send({"ECHO", std::string(90, 'x')}, deadline, rec.Next());   // 94 bytes: fits
  roomy.Send({"ECHO", std::string(10, 'x')}, deadline, rec.Next());   // 94 + 14 > 100
  roomy.Send({"ECHO", std::string(200, 'x')}, deadline, rec.Next());  // too big beside 94
  CHECK(rec.requests[6].size() == 1);
  CHECK(rec.requests[6][0].outcome == PeerOutcome::kOverloaded);
  CHECK(rec.requests[7].size() == 1);
  CHECK(rec.requests[7][0].outcome == PeerOutcome::kOverloaded);
  REQUIRE(loop.RunUntil([&] { return rec.requests[5].size() == 1; }));
  CHECK(rec.requests[5][0].outcome == PeerOutcome::kReply);
  // Once answered, its bytes are free again, and a request bigger than the
  // whole limit goes through alone (a big value must replicate at all)...
  roomy.Send({"ECHO", std::string(200, 'y')}, deadline, rec.Next());
  // ...holding back the next one until it is answered.
  roomy.Send({"ECHO", std::string(1, 'z')}, deadline, rec.Next());
  CHECK(rec.requests[9].size() == 1);
  CHECK(rec.requests[9][0].outcome == PeerOutcome::kOverloaded);
  REQUIRE(loop.RunUntil([&] { return rec.requests[8].size() == 1; }));
  CHECK(rec.requests[8][0].outcome == PeerOutcome::kReply);
  roomy.Send({"ECHO", std::string(90, 'w')}, deadline, rec.Next());
  REQUIRE(loop.RunUntil([&] { return rec.requests[10].size() == 1; }));
  CHECK(rec.requests[10][0].outcome == PeerOutcome::kReply);
  // A request bigger than the limit also goes through beside small ones
  // (at most half the limit pending): anti-entropy's or a hint's must not
  // keep a big value from replicating.
  roomy.Send({"ECHO", std::string(20, 's')}, deadline, rec.Next());
  roomy.Send({"ECHO", std::string(200, 'b')}, deadline, rec.Next());
  REQUIRE(loop.RunUntil([&] { return rec.requests[12].size() == 1; }));
  CHECK(rec.requests[11][0].outcome == PeerOutcome::kReply);
  CHECK(rec.requests[12][0].outcome == PeerOutcome::kReply);
}

TEST_CASE("the destructor fails pending requests and leaves the loop able to close") {
  TestLoop loop;
  FakePeer peer(loop.get(), PeerOptions("k"));
  Recorder rec;
  auto client = std::make_unique<PeerClient>(loop.get(), "127.0.0.1", peer.port(),
                                             ClientOptions("k"), rec.Events());
  client->Start();
  REQUIRE(loop.RunUntil([&] { return client->ready(); }));
  const int64_t now = loop.now();
  client->Send({"HANG"}, now + 60000, rec.Next());
  client->Send({"HANG"}, now + 60000, rec.Next());
  REQUIRE(loop.RunUntil([&] { return peer.commands().size() == 2; }));
  // A callback that sends again while the client is being destroyed.
  std::optional<PeerOutcome> resend;
  PeerClient* raw = client.get();
  client->Send({"HANG"}, now + 60000, [&](PeerOutcome o, const PeerReply*, bool) {
    CHECK(o == PeerOutcome::kDisconnected);
    raw->Send({"HANG"}, now + 60000,
              [&](PeerOutcome again, const PeerReply*, bool) { resend = again; });
  });
  client.reset();
  REQUIRE(rec.requests.size() == 2);
  for (const auto& r : rec.requests) {
    REQUIRE(r.size() == 1);
    CHECK(r[0].outcome == PeerOutcome::kDisconnected);
  }
  CHECK(resend == PeerOutcome::kNotConnected);
  CHECK(rec.down.empty());  // no events from the destructor
  peer.Close();
  CHECK(loop.Finish() == 0);
}

TEST_CASE("destroyed while connecting, with queued requests") {
  TestLoop loop;
  FakePeer peer(loop.get(), PeerOptions("k"));
  Recorder rec;
  auto client = std::make_unique<PeerClient>(loop.get(), "127.0.0.1", peer.port(),
                                             ClientOptions("k"), rec.Events());
  client->Start();
  client->Send({"ECHO", "x"}, loop.now() + 5000, rec.Next());
  client.reset();
  REQUIRE(rec.requests[0].size() == 1);
  CHECK(rec.requests[0][0].outcome == PeerOutcome::kDisconnected);
  peer.Close();
  CHECK(loop.Finish() == 0);
}

TEST_CASE("destroying the client from inside its own callbacks") {
  TestLoop loop;
  FakePeer peer(loop.get(), PeerOptions("k"));
  Recorder rec;
  std::unique_ptr<PeerClient> client;
  SUBCASE("from a reply callback, with more replies in the same read") {
    client = std::make_unique<PeerClient>(loop.get(), "127.0.0.1", peer.port(), ClientOptions("k"),
                                          rec.Events());
    client->Start();
    REQUIRE(loop.RunUntil([&] { return client->ready(); }));
    peer.Hold();  // so that all three replies arrive together
    std::vector<PeerOutcome> seen;
    const int64_t deadline = loop.now() + 5000;
    client->Send({"ECHO", "1"}, deadline, [&](PeerOutcome o, const PeerReply*, bool) {
      seen.push_back(o);
      client.reset();
    });
    client->Send({"ECHO", "2"}, deadline,
                 [&](PeerOutcome o, const PeerReply*, bool) { seen.push_back(o); });
    client->Send({"ECHO", "3"}, deadline,
                 [&](PeerOutcome o, const PeerReply*, bool) { seen.push_back(o); });
    REQUIRE(loop.RunUntil([&] { return peer.commands().size() == 3; }));
    peer.Release();
    REQUIRE(loop.RunUntil([&] { return seen.size() == 3; }));
    CHECK(seen[0] == PeerOutcome::kReply);
    CHECK(seen[1] == PeerOutcome::kDisconnected);
    CHECK(seen[2] == PeerOutcome::kDisconnected);
  }
  SUBCASE("from on_auth_failure") {
    PeerClientEvents events;
    events.on_auth_failure = [&](const std::string&) { client.reset(); };
    client = std::make_unique<PeerClient>(loop.get(), "127.0.0.1", peer.port(),
                                          ClientOptions("wrong"), events);
    client->Start();
    REQUIRE(loop.RunUntil([&] { return client == nullptr; }));
  }
  SUBCASE("from a timeout callback") {
    client = std::make_unique<PeerClient>(loop.get(), "127.0.0.1", peer.port(), ClientOptions("k"),
                                          rec.Events());
    client->Start();
    REQUIRE(loop.RunUntil([&] { return client->ready(); }));
    int calls = 0;
    const int64_t now = loop.now();
    client->Send({"HANG"}, now + 10, [&](PeerOutcome, const PeerReply*, bool) {
      ++calls;
      client.reset();
    });
    client->Send({"HANG"}, now + 10,
                 [&](PeerOutcome o, const PeerReply*, bool) { CHECK(o != PeerOutcome::kReply); });
    REQUIRE(loop.RunUntil([&] { return client == nullptr; }));
    CHECK(calls == 1);
  }
  peer.Close();
  CHECK(loop.Finish() == 0);
}

TEST_CASE("a refused connect is noticed at once, not at the handshake timeout") {
  TestLoop loop;
  ClosedPort closed(loop.get());
  Recorder rec;
  PeerClientOptions o = ClientOptions("k");
  o.handshake_timeout_ms = 60000;
  PeerClient client(loop.get(), "127.0.0.1", closed.port(), o, rec.Events());
  client.Start();
  client.Send({"ECHO", "x"}, loop.now() + 60000, rec.Next());
  REQUIRE(loop.RunUntil([&] { return !rec.down.empty(); }, 3000));
  CHECK(rec.down[0].find("connecting to 127.0.0.1:" + std::to_string(closed.port()) + " failed") !=
        std::string::npos);
  REQUIRE(rec.requests[0].size() == 1);
  CHECK(rec.requests[0][0].outcome == PeerOutcome::kNotConnected);
  CHECK_FALSE(client.ready());
  // Retries keep failing, each reported.
  REQUIRE(loop.RunUntil([&] { return rec.down.size() >= 3; }, 3000));
  CHECK(client.stats().reconnects >= 2);
}

TEST_CASE("a handshake with no answer times out, and is retried") {
  TestLoop loop;
  FakePeer::Options po = PeerOptions("k");
  po.mute = true;
  FakePeer peer(loop.get(), po);
  Recorder rec;
  PeerClientOptions o = ClientOptions("k");
  o.handshake_timeout_ms = 50;
  PeerClient client(loop.get(), "127.0.0.1", peer.port(), o, rec.Events());
  const int64_t started = loop.now();
  client.Start();
  REQUIRE(loop.RunUntil([&] { return !rec.down.empty(); }));
  CHECK(loop.now() >= started + 50);
  CHECK(rec.down[0] == "handshake with 127.0.0.1:" + std::to_string(peer.port()) + " timed out");
  REQUIRE(loop.RunUntil([&] { return peer.accepted() >= 2 && rec.down.size() >= 2; }));
  CHECK(rec.ready.empty());
}

TEST_CASE("SetAddress moves the client to a new address") {
  TestLoop loop;
  ClosedPort closed(loop.get());
  FakePeer peer(loop.get(), PeerOptions("k"));
  Recorder rec;
  PeerClientOptions o = ClientOptions("k");
  o.backoff_min_ms = o.backoff_max_ms = 60000;  // no retry on its own during the test
  PeerClient client(loop.get(), "127.0.0.1", closed.port(), o, rec.Events());
  client.Start();
  REQUIRE(loop.RunUntil([&] { return !rec.down.empty(); }));
  client.SetAddress("127.0.0.1", closed.port());  // unchanged: nothing happens
  client.Send({"ECHO", "x"}, loop.now() + 5000, rec.Next());
  CHECK(rec.requests[0][0].outcome == PeerOutcome::kNotConnected);
  client.SetAddress("127.0.0.1", peer.port());
  CHECK(client.port() == peer.port());
  client.Send({"ECHO", "y"}, loop.now() + 5000, rec.Next());  // queued for the new address
  REQUIRE(loop.RunUntil([&] { return client.ready() && rec.Finished() == 2; }));
  CHECK(rec.requests[1][0].reply->str == "y");
  // Moving a ready client drops its connection and reconnects at once.
  FakePeer other(loop.get(), PeerOptions("k"));
  client.SetAddress("127.0.0.1", other.port());
  CHECK_FALSE(client.ready());
  CHECK(rec.down.size() == 2);
  REQUIRE(loop.RunUntil([&] { return client.ready(); }));
  CHECK(other.accepted() == 1);
  CHECK(rec.ready.size() == 2);
}

TEST_CASE("bind_addr sets the source address") {
  TestLoop loop;
  FakePeer peer(loop.get(), PeerOptions("k"));
  Recorder rec;
  PeerClientOptions o = ClientOptions("k");
  o.bind_addr = "127.0.0.1";
  PeerClient client(loop.get(), "127.0.0.1", peer.port(), o, rec.Events());
  client.Start();
  REQUIRE(loop.RunUntil([&] { return client.ready(); }));

  // An address this host does not have cannot be bound: the attempt fails at once.
  Recorder bad;
  o.bind_addr = "192.0.2.1";  // TEST-NET-1
  PeerClient unbindable(loop.get(), "127.0.0.1", peer.port(), o, bad.Events());
  unbindable.Start();
  REQUIRE(bad.down.size() == 1);
  CHECK_FALSE(unbindable.ready());
}

}  // namespace
}  // namespace shoal::cluster
