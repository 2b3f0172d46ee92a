// Coordinator: the get and put state machines against a fake transport that
// records every request and lets the test answer each one (a replica's real
// reply, an error reply, a timeout, a disconnect, a late reply) in any order.
// Replicas are real keyspaces with a LocalReplica (tests/unit/cluster/
// test_node.h); node 0 is the coordinator.

#include "cluster/coordinator.h"

#include <doctest/doctest.h>

#include <cstring>
#include <deque>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/local_replica.h"
#include "cluster/peer/client.h"
#include "cluster/peer/transport.h"
#include "cluster/quorum.h"
#include "cluster/ring.h"
#include "storage/clock.h"
#include "storage/object.h"
#include "storage/status.h"
#include "tests/unit/cluster/test_node.h"

namespace shoal::cluster {
namespace {

using storage::Code;
using storage::Object;
using testing::TestNode;
using Strings = std::vector<std::string>;

// Records requests; the test completes each one as it likes. Checks the
// callback contract from the caller's side: one late=false call per request,
// and a late reply only after a timeout.
class FakeTransport final : public PeerTransport {
 public:
  struct Request {
    NodeId to;
    std::string command;            // SHOAL.MGET / SHOAL.MPUT, or a sent frame's argv[0]
    std::vector<std::string> args;  // the item's arguments (a sent frame's argv after [0])
    bool batched = false;
    int64_t deadline_ms = 0;
    PeerCallback cb;
    bool answered = false;
    bool timed_out = false;
    bool late_answered = false;
  };

  void Batch(const NodeId& to, std::string_view command, std::vector<std::string> args,
             int64_t deadline_ms, PeerCallback cb) override {
    requests_.push_back(
        Request{to, std::string(command), std::move(args), true, deadline_ms, std::move(cb)});
  }
  void Send(const NodeId& to, std::vector<std::string> argv, int64_t deadline_ms,
            PeerCallback cb) override {
    REQUIRE(!argv.empty());
    std::string command = argv[0];
    argv.erase(argv.begin());
    requests_.push_back(
        Request{to, std::move(command), std::move(argv), false, deadline_ms, std::move(cb)});
  }
  void Flush() override {}  // every request is recorded as it comes
  int64_t NowMs() const override { return now_ms_; }

  void set_now(int64_t now_ms) { now_ms_ = now_ms; }
  size_t size() const { return requests_.size(); }
  const Request& at(size_t i) const { return requests_.at(i); }

  // Indexes of the requests to `to` with `command`, in the order sent.
  std::vector<size_t> To(const NodeId& to, std::string_view command) const {
    std::vector<size_t> out;
    for (size_t i = 0; i < requests_.size(); ++i) {
      if (requests_[i].to == to && requests_[i].command == command) out.push_back(i);
    }
    return out;
  }
  // The one request to `to` with `command`.
  size_t Only(const NodeId& to, std::string_view command) const {
    std::vector<size_t> found = To(to, command);
    REQUIRE(found.size() == 1);
    return found[0];
  }

  // Completes request i with a reply (late=false).
  void Answer(size_t i, const PeerReply& reply) { Complete(i, PeerOutcome::kReply, &reply); }
  // Fails request i (kTimeout, kDisconnected, ...).
  void Fail(size_t i, PeerOutcome outcome) {
    REQUIRE(outcome != PeerOutcome::kReply);
    Complete(i, outcome, nullptr);
  }
  // The reply of request i after its timeout (late=true).
  void Late(size_t i, const PeerReply& reply) {
    Request& r = requests_.at(i);
    REQUIRE(r.timed_out);
    REQUIRE(!r.late_answered);
    r.late_answered = true;
    PeerCallback cb = r.cb;  // the callback may send more requests
    cb(PeerOutcome::kReply, &reply, true);
  }

  // What `node` answers to item i, as the batcher hands it over: the item
  // alone in its frame, and the element of the array reply.
  PeerReply Serve(size_t i, TestNode& node) const {
    const Request& r = requests_.at(i);
    REQUIRE(r.batched);
    REQUIRE(r.to == node.id());
    std::vector<std::string> argv{r.command};
    argv.insert(argv.end(), r.args.begin(), r.args.end());
    PeerReply frame = node.Serve(argv);
    REQUIRE(frame.type == PeerReply::Type::kArray);
    REQUIRE(frame.elements.size() == 1);
    return frame.elements[0];
  }

 private:
  void Complete(size_t i, PeerOutcome outcome, const PeerReply* reply) {
    Request& r = requests_.at(i);
    REQUIRE(!r.answered);
    r.answered = true;
    r.timed_out = outcome == PeerOutcome::kTimeout;
    PeerCallback cb = r.cb;
    cb(outcome, reply, false);
  }

  std::deque<Request> requests_;
  int64_t now_ms_ = 50'000;
};

PeerReply Reply(PeerReply::Type type, std::string str = {}) {
  PeerReply r;
  r.type = type;
  r.str = std::move(str);
  return r;
}

// Nodes 0..n-1 with distinct ids; node 0 coordinates.
struct Cluster {
  storage::ManualClock clock;
  FakeTransport net;
  std::vector<std::unique_ptr<TestNode>> nodes;
  std::unique_ptr<Coordinator> coord;

  explicit Cluster(size_t n, CoordinatorOptions options = {}) {
    for (size_t i = 0; i < n; ++i) {
      nodes.push_back(std::make_unique<TestNode>(std::string(40, "abcdef"[i]), clock));
    }
    coord = std::make_unique<Coordinator>(net, nodes[0]->keyspace(), clock, nodes[0]->id());
    coord->set_options(options);
  }

  TestNode& node(size_t i) { return *nodes.at(i); }

  ReplicaSet Replicas(std::initializer_list<size_t> which) {
    auto out = std::make_shared<std::vector<Target>>();
    for (size_t i : which) out->push_back(Target{7, node(i).id(), false, {}});
    return out;
  }
  ReplicaSet All() {
    auto out = std::make_shared<std::vector<Target>>();
    for (auto& n : nodes) out->push_back(Target{7, n->id(), false, {}});
    return out;
  }

  TestNode& NodeOf(size_t request) {
    for (auto& n : nodes) {
      if (n->id() == net.at(request).to) return *n;
    }
    FAIL("request to an unknown node");
    return *nodes[0];
  }
  // The one request of `command` to node i.
  size_t Request(size_t i, std::string_view command) { return net.Only(node(i).id(), command); }
  // Node i's real answer to its one request of `command`.
  void Deliver(size_t i, std::string_view command) {
    size_t r = Request(i, command);
    net.Answer(r, net.Serve(r, node(i)));
  }
  void DeliverLate(size_t i, std::string_view command) {
    size_t r = Request(i, command);
    net.Late(r, net.Serve(r, node(i)));
  }
  size_t Count(size_t i, std::string_view command) { return net.To(node(i).id(), command).size(); }
};

constexpr std::string_view kGet = "SHOAL.MGET";
constexpr std::string_view kPut = "SHOAL.MPUT";

// What a Read's callback received, and how often.
struct ReadOutcome {
  int calls = 0;
  std::optional<storage::Result<Object>> result;

  Coordinator::ReadDone Done() {
    return [this](storage::Result<Object> r) {
      ++calls;
      result.emplace(std::move(r));
    };
  }
  const Object& object() const {
    REQUIRE(calls == 1);
    REQUIRE(result->ok());
    return result->value();
  }
  const storage::Status& status() const {
    REQUIRE(calls == 1);
    REQUIRE(!result->ok());
    return result->status();
  }
};

// What ReadIntoStore handed back; merge() checks it ran once and succeeded.
struct StoreReadOutcome {
  int calls = 0;
  std::optional<storage::Result<std::optional<Object>>> result;

  Coordinator::StoreReadDone Done() {
    return [this](storage::Result<std::optional<Object>> r) {
      ++calls;
      result.emplace(std::move(r));
    };
  }
  const std::optional<Object>& merge() const {
    REQUIRE(calls == 1);
    REQUIRE(result->ok());
    return result->value();
  }
};

struct WriteOutcome {
  int calls = 0;
  storage::Status status;

  Coordinator::WriteDone Done() {
    return [this](storage::Status s) {
      ++calls;
      status = std::move(s);
    };
  }
};

// ---------------------------------------------------------------- Read

TEST_CASE("Read, R=2 of N=3: answers after two replies with their merge; siblings kept") {
  Cluster c(3);
  c.node(0).Set("k", "from-a");
  c.clock.AdvanceMs(1);
  c.node(1).Set("k", "from-b");  // concurrent with node 0's version

  ReadOutcome out;
  c.coord->Read("k", c.All(), out.Done());
  CHECK(out.calls == 0);
  // One MGET per other replica, carrying the digest of the local copy and
  // the request timeout as deadline; none to self.
  REQUIRE(c.net.size() == 2);
  CHECK(c.Count(0, kGet) == 0);
  for (size_t i : {1, 2}) {
    const auto& r = c.net.at(c.Request(i, kGet));
    CHECK(r.args == Strings{"k", c.node(0).Digest("k")});
    CHECK(r.deadline_ms == c.net.NowMs() + c.coord->options().request_timeout_ms);
    CHECK(r.batched);
  }

  c.Deliver(1, kGet);
  CHECK(out.object().Size() == 2);
  CHECK(out.object().LiveValues(c.clock.NowMs(), c.node(0).actors()) ==
        Strings{"from-a", "from-b"});

  // The third reply comes after the answer: the callback does not run again.
  c.Deliver(2, kGet);
  CHECK(out.calls == 1);
  CHECK(c.coord->stats().reads == 1);
  CHECK(c.coord->stats().quorum_failures == 0);
}

TEST_CASE("ReadIntoStore: the merge is saved here and no object is handed back") {
  Cluster c(3);
  c.node(0).Set("k", "from-a");
  c.clock.AdvanceMs(1);
  c.node(1).Set("k", "from-b");  // concurrent with node 0's version

  StoreReadOutcome got;
  c.coord->ReadIntoStore("k", c.All(), got.Done());
  c.Deliver(1, kGet);
  CHECK_FALSE(got.merge().has_value());
  // What the command will run on: the store, which now holds the merge.
  CHECK(c.node(0).Values("k") == Strings{"from-a", "from-b"});
}

TEST_CASE("ReadIntoStore: this node's copy unreadable, the merge is handed back") {
  Cluster c(3);
  c.node(1).Set("k", "from-b");
  c.node(0).store().Set("k", std::string("\xff\xff", 2), 0, c.clock.NowMs());

  StoreReadOutcome got;
  c.coord->ReadIntoStore("k", c.All(), got.Done());
  c.Deliver(1, kGet);
  c.Deliver(2, kGet);
  REQUIRE(got.merge().has_value());
  CHECK(got.merge()->LiveValues(c.clock.NowMs(), c.node(0).actors()) == Strings{"from-b"});

  SUBCASE("and a quorum failure is an error, as for Read") {
    Cluster d(3, CoordinatorOptions{.read_quorum = 3});
    d.node(1).Set("k", "v");
    StoreReadOutcome failed;
    d.coord->ReadIntoStore("k", d.All(), failed.Done());
    d.net.Fail(d.Request(1, kGet), PeerOutcome::kTimeout);
    d.Deliver(2, kGet);
    REQUIRE(failed.calls == 1);
    CHECK(failed.result->status().code() == storage::Code::kUnavailable);
  }
}

TEST_CASE("ReadIntoStore with a stored digest: the copy is read only to merge a reply") {
  Cluster c(3, CoordinatorOptions{.read_quorum = 3});
  c.node(0).Set("k", "v1");
  c.node(0).CopyTo(c.node(1), "k");
  c.node(0).CopyTo(c.node(2), "k");
  // The digest anti-entropy keeps for the key: that of node 0's copy now.
  uint64_t d = 0;
  std::memcpy(&d, c.node(0).Digest("k").data(), sizeof(d));
  c.coord->set_stored_digests(
      [d](std::string_view key) { return key == "k" ? std::optional<uint64_t>(d) : std::nullopt; });

  SUBCASE("replicas that agree: nothing is read, merged or repaired") {
    // Damaged bytes here would fail any read of the copy: none happens.
    c.node(0).store().Set("k", std::string("\xff\xff", 2), 0, c.clock.NowMs());
    StoreReadOutcome got;
    c.coord->ReadIntoStore("k", c.All(), got.Done());
    CHECK(c.net.at(c.Request(1, kGet)).args[1].size() == sizeof(d));
    c.Deliver(1, kGet);
    c.Deliver(2, kGet);
    CHECK_FALSE(got.merge().has_value());
    CHECK(c.coord->stats().read_repairs == 0);
  }

  SUBCASE("a newer reply is merged with the copy; the agreeing replica is repaired") {
    c.clock.AdvanceMs(1);
    c.node(1).Set("k", "v2");  // supersedes v1 on node 1 only
    StoreReadOutcome got;
    c.coord->ReadIntoStore("k", c.All(), got.Done());
    c.Deliver(2, kGet);  // "="
    CHECK(got.calls == 0);
    c.Deliver(1, kGet);  // its object
    CHECK_FALSE(got.merge().has_value());
    CHECK(c.node(0).Values("k") == Strings{"v2"});
    // Node 2 answered "=" to node 0's copy, which lacked v2.
    REQUIRE(c.Count(2, kPut) == 1);
    c.Deliver(2, kPut);
    CHECK(c.node(2).Values("k") == Strings{"v2"});
    CHECK(c.Count(1, kPut) == 0);
  }

  SUBCASE("a reply to merge while the copy cannot be read fails the read") {
    c.clock.AdvanceMs(1);
    c.node(1).Set("k", "v2");
    StoreReadOutcome got;
    c.coord->ReadIntoStore("k", c.All(), got.Done());
    c.node(0).store().Set("k", std::string("\xff\xff", 2), 0, c.clock.NowMs());
    c.Deliver(1, kGet);
    REQUIRE(got.calls == 1);
    CHECK(got.result->status().code() == storage::Code::kCorruption);
    c.Deliver(2, kGet);  // after the decision: ignored
    CHECK(got.calls == 1);
  }
}

TEST_CASE("ReadIntoStore of a cached container: a causal digest, and the copy is not read") {
  Cluster c(3, CoordinatorOptions{.read_quorum = 3});
  for (int i = 0; i < 20; ++i) c.node(0).AddMember("s", "m" + std::to_string(i));
  c.node(0).CopyTo(c.node(1), "s");
  c.node(0).CopyTo(c.node(2), "s");
  const std::string causal = c.node(0).CausalDigest("s");

  SUBCASE("replicas that agree answer '=': nothing merged or repaired") {
    StoreReadOutcome got;
    c.coord->ReadIntoStore("s", c.All(), got.Done());
    CHECK(c.net.at(c.Request(1, kGet)).args[1] == causal);
    c.Deliver(1, kGet);
    c.Deliver(2, kGet);
    REQUIRE(got.calls == 1);
    CHECK_FALSE(got.merge().has_value());
    CHECK(c.coord->stats().read_repairs == 0);
  }
  SUBCASE("a replica with a newer write answers with it; it is merged and the other repaired") {
    c.clock.AdvanceMs(1);
    c.node(1).AddMember("s", "newer");
    StoreReadOutcome got;
    c.coord->ReadIntoStore("s", c.All(), got.Done());
    c.Deliver(2, kGet);  // "="
    c.Deliver(1, kGet);  // its object
    REQUIRE(got.calls == 1);
    CHECK(c.node(0).CausalDigest("s") == c.node(1).CausalDigest("s"));
    REQUIRE(c.Count(2, kPut) == 1);
    c.Deliver(2, kPut);
    CHECK(c.node(2).CausalDigest("s") == c.node(1).CausalDigest("s"));
  }
}

TEST_CASE("Read: no replica has the key, an empty object; no digest sent") {
  Cluster c(3);
  ReadOutcome out;
  c.coord->Read("k", c.All(), out.Done());
  CHECK(c.net.at(c.Request(1, kGet)).args == Strings{"k", ""});
  c.Deliver(2, kGet);
  CHECK(out.object().Size() == 0);
  c.Deliver(1, kGet);
  CHECK(out.calls == 1);
  CHECK(c.net.To(c.node(1).id(), kPut).empty());
  CHECK(c.net.To(c.node(2).id(), kPut).empty());
}

TEST_CASE("Read: a '=' reply counts as the coordinator's own copy") {
  Cluster c(3, CoordinatorOptions{.read_quorum = 3});
  c.node(0).Set("k", "v");
  c.node(0).CopyTo(c.node(1), "k");
  c.node(0).CopyTo(c.node(2), "k");

  ReadOutcome out;
  c.coord->Read("k", c.All(), out.Done());
  for (size_t i : {1, 2}) {
    size_t r = c.Request(i, kGet);
    PeerReply reply = c.net.Serve(r, c.node(i));
    CHECK(reply.type == PeerReply::Type::kStatus);  // the replica saw the same digest
    CHECK(reply.str == "=");
    c.net.Answer(r, reply);
  }
  CHECK(out.object() == c.node(0).Load("k"));
  // Nobody was stale: no repair.
  CHECK(c.net.size() == 2);
  CHECK(c.coord->stats().read_repairs == 0);
}

TEST_CASE("Read: too few replies is kUnavailable with NOQUORUM text") {
  SUBCASE("R=2: a timeout and a disconnect") {
    Cluster c(3);
    c.node(0).Set("k", "v");
    ReadOutcome out;
    c.coord->Read("k", c.All(), out.Done());
    c.net.Fail(c.Request(1, kGet), PeerOutcome::kTimeout);
    CHECK(out.calls == 0);
    c.net.Fail(c.Request(2, kGet), PeerOutcome::kDisconnected);
    CHECK(out.status().code() == Code::kUnavailable);
    CHECK(out.status().message() == "NOQUORUM got 1 of 2 required replies");
    CHECK(out.status().message() == NoQuorumMessage(1, 2));
    CHECK(c.coord->stats().quorum_failures == 1);
    // The timed-out replica's late reply does not answer again.
    c.DeliverLate(1, kGet);
    CHECK(out.calls == 1);
    CHECK(c.coord->stats().late_replies == 1);  // after its deadline
    CHECK(c.coord->stats().replies_after_quorum == 1);
  }
  SUBCASE("R=3: an error reply fails at once") {
    Cluster c(3, CoordinatorOptions{.read_quorum = 3});
    ReadOutcome out;
    c.coord->Read("k", c.All(), out.Done());
    c.net.Answer(c.Request(2, kGet), Reply(PeerReply::Type::kError, "ERR something"));
    CHECK(out.status().message() == "NOQUORUM got 1 of 3 required replies");
    c.Deliver(1, kGet);
    CHECK(out.calls == 1);
  }
  SUBCASE("R=3: an object that does not decode is a failure") {
    Cluster c(3, CoordinatorOptions{.read_quorum = 3});
    ReadOutcome out;
    c.coord->Read("k", c.All(), out.Done());
    c.net.Answer(c.Request(1, kGet), Reply(PeerReply::Type::kString, "\xff garbage"));
    CHECK(out.status().message() == "NOQUORUM got 1 of 3 required replies");
  }
  SUBCASE("R=2: unexpected reply types are failures") {
    Cluster c(3);
    ReadOutcome out;
    c.coord->Read("k", c.All(), out.Done());
    c.net.Answer(c.Request(1, kGet), Reply(PeerReply::Type::kStatus, "OK"));
    c.net.Answer(c.Request(2, kGet), Reply(PeerReply::Type::kInteger));
    CHECK(out.status().message() == "NOQUORUM got 1 of 2 required replies");
  }
  SUBCASE("a damaged local copy does not count as a reply") {
    Cluster c(3, CoordinatorOptions{.read_quorum = 3});
    c.node(0).store().Set("k", "\xff damaged", 0);
    ReadOutcome out;
    c.coord->Read("k", c.All(), out.Done());
    // Decided before any peer answered, synchronously.
    CHECK(out.status().code() == Code::kUnavailable);
    CHECK(out.status().message() == "NOQUORUM got 0 of 3 required replies");
    c.Deliver(1, kGet);
    c.Deliver(2, kGet);
    CHECK(out.calls == 1);
  }
}

// A batched frame's deadline is that of its first item, so one replica's
// frame can time out, and its reply arrive, while another replica of the
// same read is still pending. The reply counts (ReadQuorum::AddLateReply).
TEST_CASE("Read: a late reply while the read is still pending counts toward R") {
  Cluster c(3);
  c.node(0).Set("k", "from-a");
  c.clock.AdvanceMs(1);
  c.node(1).Set("k", "from-b");
  ReadOutcome out;
  c.coord->Read("k", c.All(), out.Done());
  c.net.Fail(c.Request(1, kGet), PeerOutcome::kTimeout);
  CHECK(out.calls == 0);
  c.DeliverLate(1, kGet);
  // Self and node 1 replied: R=2 is met.
  CHECK(out.object().LiveValues(c.clock.NowMs(), c.node(0).actors()) ==
        Strings{"from-a", "from-b"});
  CHECK(c.node(0).Values("k") == Strings{"from-a", "from-b"});
  c.Deliver(1, kPut);  // node 1 lacked node 0's version
  CHECK(c.node(1).Values("k") == Strings{"from-a", "from-b"});
  c.net.Fail(c.Request(2, kGet), PeerOutcome::kTimeout);
  CHECK(out.calls == 1);
  CHECK(c.coord->stats().quorum_failures == 0);
}

TEST_CASE("Read: R=1 answers with the local copy before any peer replies") {
  Cluster c(3, CoordinatorOptions{.read_quorum = 1});
  c.node(0).Set("k", "v");
  ReadOutcome out;
  c.coord->Read("k", c.All(), out.Done());
  CHECK(out.object() == c.node(0).Load("k"));
  // The peers are still asked, for read repair.
  CHECK(c.Count(1, kGet) == 1);
  CHECK(c.Count(2, kGet) == 1);
}

TEST_CASE("Read: a stale local copy is merged into the local keyspace before the callback") {
  Cluster c(3);
  c.node(0).Set("k", "old");
  c.node(0).CopyTo(c.node(1), "k");
  c.clock.AdvanceMs(1);
  c.node(1).Set("k", "new");  // supersedes "old" on node 1 only

  bool checked = false;
  c.coord->Read("k", c.All(), [&](storage::Result<Object> r) {
    REQUIRE(r.ok());
    CHECK(r.value().LiveValues(c.clock.NowMs(), c.node(0).actors()) == Strings{"new"});
    // Already saved here when the command runs.
    CHECK(c.node(0).Load("k") == r.value());
    checked = true;
  });
  c.Deliver(1, kGet);
  CHECK(checked);
  CHECK(c.node(0).Values("k") == Strings{"new"});
  // Node 1 had everything: no repair for it.
  CHECK(c.Count(1, kPut) == 0);
}

TEST_CASE("Read: a failed save of the merge is the callback's error") {
  Cluster c(3);
  c.node(0).Set("k", "from-a");
  c.node(1).Set("k", "from-b");
  ReadOutcome out;
  c.coord->Read("k", c.All(), out.Done());
  // The local copy is damaged while the read waits.
  c.node(0).store().Set("k", "\xff damaged", 0);
  c.Deliver(1, kGet);
  CHECK(out.status().code() == Code::kCorruption);
  CHECK(c.Count(1, kPut) == 0);
}

TEST_CASE("Read repair: stale replicas get the merge, late ones included") {
  Cluster c(3);
  c.node(0).Set("k", "from-a");
  c.node(0).CopyTo(c.node(2), "k");  // node 2 = node 0's copy
  c.clock.AdvanceMs(1);
  c.node(1).Set("k", "from-b");  // concurrent

  ReadOutcome out;
  c.coord->Read("k", c.All(), out.Done());
  c.Deliver(1, kGet);
  REQUIRE(out.calls == 1);
  const Strings both{"from-a", "from-b"};
  CHECK(out.object().LiveValues(c.clock.NowMs(), c.node(0).actors()) == both);

  // Node 1 lacked node 0's version: it is sent the merge.
  size_t put1 = c.Request(1, kPut);
  std::string merged;
  out.object().EncodeWithNodeIds(c.node(0).actors(), &merged);
  CHECK(c.net.at(put1).args == Strings{"k", merged});
  CHECK(c.coord->stats().read_repairs == 1);
  c.Deliver(1, kPut);
  CHECK(c.node(1).Values("k") == both);

  // Node 2 answers after the answer, with "=" (it holds what node 0 held
  // when the read began), which lacks node 1's version: repaired too.
  CHECK(c.Count(2, kPut) == 0);
  size_t get2 = c.Request(2, kGet);
  PeerReply same = c.net.Serve(get2, c.node(2));
  CHECK(same.type == PeerReply::Type::kStatus);
  c.net.Answer(get2, same);
  // In time, after the quorum: not late.
  CHECK(c.coord->stats().late_replies == 0);
  CHECK(c.coord->stats().replies_after_quorum == 1);
  CHECK(c.coord->stats().read_repairs == 2);
  c.Deliver(2, kPut);
  CHECK(c.node(2).Values("k") == both);
  CHECK(out.calls == 1);
  // Nobody is sent anything more.
  CHECK(c.net.size() == 4);
}

TEST_CASE("Read repair: a replica that timed out and replies late is repaired") {
  Cluster c(3);
  c.node(0).Set("k", "v");
  c.node(0).CopyTo(c.node(1), "k");
  ReadOutcome out;
  c.coord->Read("k", c.All(), out.Done());
  c.net.Fail(c.Request(2, kGet), PeerOutcome::kTimeout);
  c.Deliver(1, kGet);
  REQUIRE(out.calls == 1);
  CHECK(c.net.size() == 2);
  // Node 2 had nothing; its late nil makes it a repair target.
  c.DeliverLate(2, kGet);
  c.Deliver(2, kPut);
  CHECK(c.node(2).Values("k") == Strings{"v"});
  CHECK(c.coord->stats().late_replies == 1);
  CHECK(c.coord->stats().replies_after_quorum == 1);
  CHECK(c.coord->stats().read_repairs == 1);
  CHECK(out.calls == 1);
}

TEST_CASE("Read repair: a late reply with news is merged here and sent to every stale replica") {
  Cluster c(3);
  c.node(0).Set("k", "from-a");
  c.node(0).CopyTo(c.node(1), "k");
  c.clock.AdvanceMs(1);
  c.node(2).Set("k", "from-c");  // only node 2 has it

  ReadOutcome out;
  c.coord->Read("k", c.All(), out.Done());
  c.Deliver(1, kGet);
  CHECK(out.object().LiveValues(c.clock.NowMs(), c.node(0).actors()) == Strings{"from-a"});
  CHECK(c.net.size() == 2);

  c.Deliver(2, kGet);
  const Strings both{"from-a", "from-c"};
  CHECK(c.node(0).Values("k") == both);
  c.Deliver(1, kPut);
  c.Deliver(2, kPut);
  CHECK(c.node(1).Values("k") == both);
  CHECK(c.node(2).Values("k") == both);
  CHECK(c.coord->stats().read_repairs == 2);
  CHECK(out.calls == 1);
}

TEST_CASE("Read repair off: no repair puts; the local copy is still brought up to date") {
  Cluster c(3, CoordinatorOptions{.read_repair = false});
  c.node(0).Set("k", "from-a");
  c.node(2).Set("k", "from-c");
  c.clock.AdvanceMs(1);
  c.node(1).Set("k", "from-b");

  ReadOutcome out;
  c.coord->Read("k", c.All(), out.Done());
  c.Deliver(1, kGet);
  REQUIRE(out.calls == 1);
  c.Deliver(2, kGet);                                                     // late, with news
  CHECK(c.node(0).Values("k") == Strings{"from-a", "from-c", "from-b"});  // (time, node id)
  CHECK(c.net.size() == 2);
  CHECK(c.coord->stats().read_repairs == 0);
  CHECK(c.node(1).Values("k") == Strings{"from-b"});
}

TEST_CASE("Read: a coordinator outside the replica list takes part as an extra replica") {
  Cluster c(3);
  c.node(1).Set("k", "from-b");
  ReadOutcome out;
  c.coord->Read("k", c.Replicas({1, 2}), out.Done());
  CHECK(c.net.size() == 2);
  CHECK(c.Count(0, kGet) == 0);
  // Self (empty) and node 1 make R=2.
  c.Deliver(1, kGet);
  CHECK(out.object().LiveValues(c.clock.NowMs(), c.node(0).actors()) == Strings{"from-b"});
  CHECK(c.node(0).Values("k") == Strings{"from-b"});
  c.Deliver(2, kGet);
  c.Deliver(2, kPut);
  CHECK(c.node(2).Values("k") == Strings{"from-b"});
  CHECK(out.calls == 1);
}

// ---------------------------------------------------------------- Replicate

TEST_CASE("Replicate, W=2 of N=3: acks after one other replica applied the object") {
  Cluster c(3);
  c.node(0).Set("k", "v");
  const std::string object = c.node(0).Encoded("k");
  WriteOutcome out;
  c.coord->Replicate("k", object, c.All(), out.Done());
  CHECK(out.calls == 0);
  REQUIRE(c.net.size() == 2);
  CHECK(c.net.at(c.Request(1, kPut)).args == Strings{"k", object});
  CHECK(c.net.at(c.Request(2, kPut)).args == Strings{"k", object});

  c.Deliver(2, kPut);
  CHECK(out.calls == 1);
  CHECK(out.status.ok());
  CHECK(c.node(2).Values("k") == Strings{"v"});
  c.Deliver(1, kPut);
  CHECK(out.calls == 1);
  CHECK(c.node(1).Values("k") == Strings{"v"});
  CHECK(c.coord->stats().writes == 1);
}

TEST_CASE("Replicate, W=1: acks before any peer replies (this node's write counts)") {
  Cluster c(3, CoordinatorOptions{.write_quorum = 1});
  c.node(0).Set("k", "v");
  WriteOutcome out;
  c.coord->Replicate("k", c.node(0).Encoded("k"), c.All(), out.Done());
  CHECK(out.calls == 1);
  CHECK(out.status.ok());
  CHECK(c.net.size() == 2);  // still sent to the others
  c.net.Fail(c.Request(1, kPut), PeerOutcome::kTimeout);
  c.Deliver(2, kPut);
  CHECK(out.calls == 1);
}

TEST_CASE("Replicate: a late ack while the write is still pending counts toward W") {
  Cluster c(3);
  c.node(0).Set("k", "v");
  WriteOutcome out;
  c.coord->Replicate("k", c.node(0).Encoded("k"), c.All(), out.Done());
  c.net.Fail(c.Request(1, kPut), PeerOutcome::kTimeout);
  CHECK(out.calls == 0);  // node 2 has not answered yet
  c.DeliverLate(1, kPut);
  CHECK(out.calls == 1);
  CHECK(out.status.ok());
  c.Deliver(2, kPut);
  CHECK(out.calls == 1);
}

TEST_CASE("Replicate: W not met is kUnavailable; a late reply after that changes nothing") {
  SUBCASE("W=2: a timeout and a refused put") {
    Cluster c(3);
    c.node(0).Set("k", "v");
    WriteOutcome out;
    c.coord->Replicate("k", c.node(0).Encoded("k"), c.All(), out.Done());
    c.net.Fail(c.Request(1, kPut), PeerOutcome::kTimeout);
    CHECK(out.calls == 0);
    c.net.Fail(c.Request(2, kPut), PeerOutcome::kOverloaded);
    CHECK(out.calls == 1);
    CHECK(out.status.code() == Code::kUnavailable);
    CHECK(out.status.message() == "NOQUORUM got 1 of 2 required replies");
    CHECK(c.coord->stats().quorum_failures == 1);
    // The late ack (node 1 did apply it) changes nothing.
    c.DeliverLate(1, kPut);
    CHECK(c.node(1).Values("k") == Strings{"v"});
    CHECK(out.calls == 1);
    CHECK(c.coord->stats().quorum_failures == 1);
  }
  SUBCASE("W=3: a replica's error reply for a damaged object fails at once") {
    Cluster c(3, CoordinatorOptions{.write_quorum = 3});
    WriteOutcome out;
    c.coord->Replicate("k", "\xff damaged", c.All(), out.Done());
    size_t r = c.Request(1, kPut);
    PeerReply reply = c.net.Serve(r, c.node(1));
    CHECK(reply.type == PeerReply::Type::kError);
    c.net.Answer(r, reply);
    CHECK(out.calls == 1);
    CHECK(out.status.message() == "NOQUORUM got 1 of 3 required replies");
    c.net.Answer(c.Request(2, kPut), Reply(PeerReply::Type::kStatus, "OK"));
    CHECK(out.calls == 1);
  }
  SUBCASE("W=2: a nil or an array is not an ack") {
    Cluster c(3);
    WriteOutcome out;
    c.coord->Replicate("k", "x", c.All(), out.Done());
    c.net.Answer(c.Request(1, kPut), Reply(PeerReply::Type::kNil));
    c.net.Answer(c.Request(2, kPut), Reply(PeerReply::Type::kArray));
    CHECK(out.calls == 1);
    CHECK(out.status.code() == Code::kUnavailable);
  }
}

TEST_CASE("Replicate: a coordinator outside the replica list counts as an extra replica") {
  Cluster c(3, CoordinatorOptions{.write_quorum = 3});
  c.node(0).Set("k", "v");
  WriteOutcome out;
  c.coord->Replicate("k", c.node(0).Encoded("k"), c.Replicas({1, 2}), out.Done());
  CHECK(c.net.size() == 2);
  CHECK(c.Count(0, kPut) == 0);
  c.Deliver(1, kPut);
  CHECK(out.calls == 0);  // N is 3 with this node, W=3 needs both others
  c.Deliver(2, kPut);
  CHECK(out.calls == 1);
  CHECK(out.status.ok());
}

// ------------------------------------------------------- Replicate (deltas)

constexpr std::string_view kDelta = "SHOAL.MDELTA";

// Keeps the delta of the last change a keyspace published.
struct DeltaGrab final : storage::ChangeListener {
  std::string delta;
  void OnChange(const storage::Change& change) override { delta = std::string(change.delta()); }
  void OnFlush() override {}
};

// Node 0 writes a 300-member set, which node 1 gets whole (node 2 does
// not), then adds one member: the returned delta.
std::string SetUpDelta(Cluster& c, DeltaGrab& grab) {
  c.node(0).keyspace().changes().Subscribe(&grab);
  auto sadd = [&](std::vector<std::string> members) {
    REQUIRE(c.node(0)
                .keyspace()
                .ModifySet("k", c.clock.NowMs(),
                           [&](storage::OrSet& s,
                               storage::Keyspace::ContainerWrite& w) -> storage::Result<bool> {
                             for (const auto& m : members) s.Add(m, w.dot);
                             return true;
                           })
                .ok());
  };
  std::vector<std::string> members;
  for (int i = 0; i < 300; ++i) members.push_back("member-" + std::to_string(1000 + i));
  sadd(members);
  c.node(0).CopyTo(c.node(1), "k");
  sadd({"one-more"});
  REQUIRE_FALSE(grab.delta.empty());
  return grab.delta;
}

TEST_CASE("Replicate with a delta: primaries get SHOAL.MDELTA; a stale one gets the object") {
  Cluster c(3, CoordinatorOptions{.write_quorum = 3});
  DeltaGrab grab;
  const std::string delta = SetUpDelta(c, grab);
  WriteOutcome out;
  c.coord->Replicate("k", "", c.All(), out.Done(), delta);
  REQUIRE(c.net.size() == 2);
  CHECK(c.net.at(c.Request(1, kDelta)).args == Strings{"k", delta});
  CHECK(c.net.at(c.Request(2, kDelta)).args == Strings{"k", delta});
  CHECK(c.coord->stats().deltas_sent == 2);
  c.Deliver(1, kDelta);  // node 1 holds the base
  CHECK(c.node(1).Encoded("k") == c.node(0).Encoded("k"));
  CHECK(c.node(1).replica().stats().deltas_applied == 1);
  // Node 2 has nothing: STALE, and the whole object follows.
  size_t r = c.Request(2, kDelta);
  PeerReply stale = c.net.Serve(r, c.node(2));
  REQUIRE(stale.type == PeerReply::Type::kError);
  CHECK(stale.str.rfind("STALE ", 0) == 0);
  CHECK(c.node(2).replica().stats().deltas_stale == 1);
  c.net.Answer(r, stale);
  CHECK(out.calls == 0);  // node 2's ack counts once the object applied
  CHECK(c.coord->stats().deltas_refused == 1);
  CHECK(c.net.at(c.Request(2, kPut)).args == Strings{"k", c.node(0).Encoded("k")});
  c.Deliver(2, kPut);
  CHECK(out.calls == 1);
  CHECK(out.status.ok());
  CHECK(c.node(2).Encoded("k") == c.node(0).Encoded("k"));
}

TEST_CASE("Replicate with a delta: a refused delta whose object fails is no ack") {
  Cluster c(3, CoordinatorOptions{.write_quorum = 3});
  DeltaGrab grab;
  const std::string delta = SetUpDelta(c, grab);
  WriteOutcome out;
  c.coord->Replicate("k", "", c.All(), out.Done(), delta);
  c.Deliver(1, kDelta);
  // Any error reply (an older node that does not know the frame) falls back.
  c.net.Answer(c.Request(2, kDelta), Reply(PeerReply::Type::kError, "ERR unknown command"));
  CHECK(out.calls == 0);
  c.net.Fail(c.Request(2, kPut), PeerOutcome::kTimeout);
  CHECK(out.calls == 1);
  CHECK(out.status.code() == Code::kUnavailable);
  // A timeout of the delta itself is a failure too, with no object sent.
  Cluster d(3, CoordinatorOptions{.write_quorum = 3});
  DeltaGrab grab2;
  const std::string delta2 = SetUpDelta(d, grab2);
  WriteOutcome out2;
  d.coord->Replicate("k", "", d.All(), out2.Done(), delta2);
  d.net.Fail(d.Request(2, kDelta), PeerOutcome::kTimeout);
  CHECK(out2.calls == 1);
  CHECK(d.Count(2, kPut) == 0);
  // Its late STALE still sends the object (repair), which may complete
  // nothing more.
  size_t r = d.Request(2, kDelta);
  d.net.Late(r, d.net.Serve(r, d.node(2)));
  CHECK(d.Count(2, kPut) == 1);
  d.Deliver(2, kPut);
  CHECK(d.node(2).Encoded("k") == d.node(0).Encoded("k"));
  CHECK(out2.calls == 1);
}

TEST_CASE("Replicate with a delta: a fallback gets the whole object as a hint") {
  Cluster c(3);
  DeltaGrab grab;
  const std::string delta = SetUpDelta(c, grab);
  auto targets = std::make_shared<std::vector<Target>>();
  targets->push_back(Target{7, c.node(0).id(), false, {}});
  targets->push_back(Target{7, c.node(1).id(), false, {}});
  Target stand_in{7, c.node(2).id(), true, std::string(40, 'f')};
  targets->push_back(stand_in);
  WriteOutcome out;
  c.coord->Replicate("k", "", targets, out.Done(), delta);
  CHECK(c.Count(1, kDelta) == 1);
  CHECK(c.Count(2, kDelta) == 0);
  const size_t hint = c.Request(2, "SHOAL.HPUT");
  CHECK(c.net.at(hint).args == Strings{"k", c.node(0).Encoded("k"), std::string(40, 'f')});
  CHECK(c.coord->stats().deltas_sent == 1);
}

// ---------------------------------------------------------------- Forward

struct ForwardOutcome {
  int calls = 0;
  bool ok = false;
  std::string bytes;

  Coordinator::ForwardDone Done() {
    return [this](bool o, std::string b) {
      ++calls;
      ok = o;
      bytes = std::move(b);
    };
  }
};

TEST_CASE("Forward: a RESP3 client's command carries PROTO 3; a RESP2 one is the plain frame") {
  Cluster c(2);
  ForwardOutcome out;
  c.coord->Forward(c.node(1).id(), {"GET", "k"}, 2, /*resp=*/3, out.Done());
  REQUIRE(c.net.size() == 1);
  CHECK(c.net.at(0).command == "SHOAL.FWD");
  CHECK(c.net.at(0).args == Strings{"PROTO", "3", "GET", "k"});
  c.net.Answer(0, Reply(PeerReply::Type::kString, "_\r\n"));
  CHECK(out.ok);
  CHECK(out.bytes == "_\r\n");
}

TEST_CASE("Forward: relays the remote reply, an error's text, NOQUORUM when unanswered") {
  Cluster c(2);
  ForwardOutcome out;
  c.coord->Forward(c.node(1).id(), {"GET", "k"}, 2, /*resp=*/2, out.Done());
  REQUIRE(c.net.size() == 1);
  const auto& req = c.net.at(0);
  CHECK(!req.batched);
  CHECK(req.to == c.node(1).id());
  CHECK(req.command == "SHOAL.FWD");
  CHECK(req.args == Strings{"GET", "k"});
  // Two hops, each allowed the request timeout.
  CHECK(req.deadline_ms == c.net.NowMs() + 2 * c.coord->options().request_timeout_ms);
  CHECK(c.coord->stats().forwards == 1);

  SUBCASE("a bulk reply's bytes are the client's reply") {
    const std::string resp = "*2\r\n$1\r\na\r\n$-1\r\n";
    c.net.Answer(0, Reply(PeerReply::Type::kString, resp));
    CHECK(out.calls == 1);
    CHECK(out.ok);
    CHECK(out.bytes == resp);
  }
  SUBCASE("an error reply's text") {
    c.net.Answer(0, Reply(PeerReply::Type::kError, "ERR bad SHOAL.FWD command"));
    CHECK(out.calls == 1);
    CHECK(!out.ok);
    CHECK(out.bytes == "ERR bad SHOAL.FWD command");
  }
  SUBCASE("a timeout, then a late reply") {
    c.net.Fail(0, PeerOutcome::kTimeout);
    CHECK(out.calls == 1);
    CHECK(!out.ok);
    CHECK(out.bytes == "NOQUORUM got 0 of 2 required replies");
    CHECK(c.coord->stats().quorum_failures == 1);
    c.net.Late(0, Reply(PeerReply::Type::kString, "+OK\r\n"));
    CHECK(out.calls == 1);
    CHECK(out.bytes == "NOQUORUM got 0 of 2 required replies");
  }
  SUBCASE("a disconnect") {
    c.net.Fail(0, PeerOutcome::kDisconnected);
    CHECK(out.calls == 1);
    CHECK(!out.ok);
    CHECK(out.bytes == NoQuorumMessage(0, 2));
  }
}

}  // namespace
}  // namespace shoal::cluster
