#include "cluster/peer/forward_links.h"

#include <doctest/doctest.h>
#include <uv.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cluster/peer/client.h"
#include "tests/unit/cluster/fake_peer.h"

namespace shoal::cluster {
namespace {

using namespace fake_peer;  // NOLINT(google-build-using-namespace): test support

// Backoffs that double from 10 ms up to 20 s: a few refused attempts make
// the next retry seconds away.
PeerClientOptions GrowingBackoff() {
  PeerClientOptions o = ClientOptions("k");
  o.backoff_min_ms = 10;
  o.backoff_max_ms = 20000;
  return o;
}

// Runs until the client whose events `rec` records has failed `attempts`
// more connection attempts to `peer`, which refuses HELLO meanwhile; the
// client's next retry is then at least 10 ms * 2^(attempts-1) / 2 away,
// and RetryNow may retry (backoff_min_ms has passed since the last attempt).
void RefuseUntil(TestLoop& loop, FakePeer& peer, const Recorder& rec, size_t attempts) {
  peer.options().hello_reply = "-ERR not now\r\n";
  const size_t base = rec.down.size();
  REQUIRE(loop.RunUntil([&] { return rec.down.size() >= base + attempts; }, 10000));
  peer.options().hello_reply.clear();
  loop.RunUntil([] { return false; }, 20);  // backoff_min_ms since the last attempt
}

TEST_CASE("RetryNow ends a backoff at once; other phases ignore it") {
  TestLoop loop;
  FakePeer peer(loop.get(), PeerOptions("k"));
  Recorder rec;
  PeerClient client(loop.get(), "127.0.0.1", peer.port(), GrowingBackoff(), rec.Events());
  client.Start();
  // Nine refused attempts: the next retry is 1.28 to 2.56 s away.
  RefuseUntil(loop, peer, rec, 9);
  Recorder refused;
  client.Send({"ECHO", "x"}, loop.now() + 1000, refused.Next());
  REQUIRE(refused.requests[0].size() == 1);
  CHECK(refused.requests[0][0].outcome == PeerOutcome::kNotConnected);  // backing off

  const int64_t start = loop.now();
  client.RetryNow();
  REQUIRE(loop.RunUntil([&] { return client.ready(); }, 1000));
  CHECK(loop.now() - start < 1000);
  const uint64_t reconnects = client.stats().reconnects;
  client.RetryNow();  // ready: nothing to do
  CHECK(client.stats().reconnects == reconnects);
  CHECK(client.ready());
}

TEST_CASE("a forward link backing off reconnects once its main link is ready") {
  TestLoop loop;
  FakePeer peer(loop.get(), PeerOptions("k"));
  Recorder rec;
  PeerClient main(loop.get(), "127.0.0.1", peer.port(), GrowingBackoff(), rec.Events());
  main.Start();
  REQUIRE(loop.RunUntil([&] { return main.ready(); }));
  ForwardLinks links(loop.get(), GrowingBackoff());
  Recorder fwd;
  links.Send(main, kServerId, {"ECHO", "before"}, loop.now() + 2000, false, fwd.Next());
  REQUIRE(loop.RunUntil([&] { return fwd.Finished() == 1; }));
  CHECK(fwd.requests[0][0].outcome == PeerOutcome::kReply);

  // The peer goes away (a restart): both links fail to reconnect for a
  // while, and their backoffs grow to seconds.
  peer.DropAll();
  RefuseUntil(loop, peer, rec, 9);
  // The peer is back; main reconnects first (its retry came first).
  main.RetryNow();
  REQUIRE(loop.RunUntil([&] { return main.ready(); }, 1000));

  // A command forwarded now is sent, not refused for the forward link's backoff.
  links.Send(main, kServerId, {"ECHO", "after"}, loop.now() + 2000, false, fwd.Next());
  REQUIRE(loop.RunUntil([&] { return fwd.Finished() == 2; }, 1500));
  REQUIRE(fwd.requests[1].size() == 1);
  REQUIRE(fwd.requests[1][0].outcome == PeerOutcome::kReply);
  CHECK(fwd.requests[1][0].reply->str == "after");
  links.Clear();
}

TEST_CASE("an ordered command waits for the main link's barrier; others go at once") {
  TestLoop loop;
  FakePeer peer(loop.get(), PeerOptions("k"));
  Recorder rec;
  PeerClient main(loop.get(), "127.0.0.1", peer.port(), ClientOptions("k"), rec.Events());
  main.Start();
  REQUIRE(loop.RunUntil([&] { return main.ready(); }));
  ForwardLinks links(loop.get(), ClientOptions("k"));
  Recorder fwd;
  links.Send(main, kServerId, {"ECHO", "warm-up"}, loop.now() + 2000, false, fwd.Next());
  REQUIRE(loop.RunUntil([&] { return fwd.Finished() == 1; }));

  auto received = [&](const std::string& what) {
    for (const auto& argv : peer.commands()) {
      if (argv.back() == what) return true;
    }
    return false;
  };
  // A write on its way on the main link, its reply held back by the peer.
  peer.Hold();
  Recorder on_main;
  main.Send({"ECHO", "write"}, loop.now() + 2000, on_main.Next());
  REQUIRE(loop.RunUntil([&] { return received("write"); }));
  links.Send(main, kServerId, {"ECHO", "depends"}, loop.now() + 2000, true, fwd.Next());
  links.Send(main, kServerId, {"ECHO", "behind"}, loop.now() + 2000, false, fwd.Next());
  REQUIRE(loop.RunUntil([&] { return received("SHOAL.BARRIER"); }));
  // Nothing forwarded before the barrier's reply, the unordered one either
  // (forwarded commands keep their order).
  loop.RunUntil([] { return false; }, 50);
  CHECK_FALSE(received("depends"));
  CHECK_FALSE(received("behind"));

  peer.Release();
  REQUIRE(loop.RunUntil([&] { return fwd.Finished() == 3; }));
  CHECK(on_main.requests[0][0].outcome == PeerOutcome::kReply);
  CHECK(fwd.requests[1][0].reply->str == "depends");
  CHECK(fwd.requests[2][0].reply->str == "behind");
  std::vector<std::string> order;
  for (const auto& argv : peer.commands()) order.push_back(argv.back());
  const auto at = [&](const std::string& s) {
    return std::find(order.begin(), order.end(), s) - order.begin();
  };
  CHECK(at("SHOAL.BARRIER") < at("depends"));
  CHECK(at("depends") < at("behind"));

  // With nothing in flight on the main link, an ordered command needs no barrier.
  const size_t barriers = std::count(order.begin(), order.end(), "SHOAL.BARRIER");
  links.Send(main, kServerId, {"ECHO", "free"}, loop.now() + 2000, true, fwd.Next());
  REQUIRE(loop.RunUntil([&] { return fwd.Finished() == 4; }));
  size_t now_barriers = 0;
  for (const auto& argv : peer.commands()) now_barriers += argv.back() == "SHOAL.BARRIER";
  CHECK(now_barriers == barriers);
  links.Clear();
}

}  // namespace
}  // namespace shoal::cluster
