#include "cluster/peer/client.h"
#include "cluster/peer/connection.h"

#include <doctest/doctest.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/peer/frame_mac.h"
#include "tests/unit/cluster/fake_peer.h"

namespace shoal::cluster {
namespace {

using namespace fake_peer;  // NOLINT(google-build-using-namespace): test support

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
