// The serving side of partition transfer (SHOAL.XFER): a walk over one
// partition in bounded steps that yields every key of it exactly as stored,
// and malformed frames refused with an error reply.

#include "cluster/partition_transfer.h"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "tests/unit/cluster/node_fixture.h"

namespace shoal::cluster {
namespace {

constexpr uint32_t kQ = 16;

struct Fixture : testing::NodeFixture {
  std::unique_ptr<PartitionTransfer> transfer;

  Fixture() : NodeFixture("xfer", kQ) {
    data.store().SetPartitioner(
        {kQ, [](std::string_view key) { return PartitionOfHash(KeyHash(key), kQ); }});
    transfer = std::make_unique<PartitionTransfer>(&loop, *node, data.keyspace(), clock, LogSink{});
  }
  ~Fixture() { transfer.reset(); }

  PeerReply Serve(const std::vector<std::string>& argv) {
    return Run([&](facade::ReplyBuilder& r) { transfer->ServeScan(argv, r); });
  }
};

TEST_CASE("SHOAL.XFER walks one partition in bounded steps, every key once, as stored") {
  Fixture f;
  std::vector<std::set<std::string>> by_partition(kQ);
  for (int i = 0; i < 500; ++i) {
    const std::string key = "k" + std::to_string(i);
    f.data.Set(key, "v" + std::to_string(i));
    by_partition[PartitionOfHash(KeyHash(key), kQ)].insert(key);
  }
  for (uint32_t p = 0; p < kQ; ++p) {
    CAPTURE(p);
    std::set<std::string> seen;
    int64_t bound = INT64_MAX;
    int steps = 0;
    do {
      PeerReply r =
          f.Serve({"SHOAL.XFER", std::to_string(p), std::to_string(bound), "7", "1048576"});
      REQUIRE(r.type == PeerReply::Type::kArray);
      REQUIRE(r.elements.size() % 2 == 1);
      REQUIRE(r.elements[0].type == PeerReply::Type::kInteger);
      CHECK(r.elements.size() <= 1 + 2 * 7);
      for (size_t i = 1; i + 1 < r.elements.size(); i += 2) {
        const std::string& key = r.elements[i].str;
        CHECK(seen.insert(key).second);  // never twice
        CHECK(r.elements[i + 1].str == f.data.Encoded(key));
      }
      bound = r.elements[0].integer;
      ++steps;
    } while (bound != 0);
    CHECK(seen == by_partition[p]);
    CHECK(steps >= static_cast<int>(by_partition[p].size() / 7));
  }
}

TEST_CASE("SHOAL.XFER keeps its byte budget and survives removals between steps") {
  Fixture f;
  std::set<std::string> keys;
  for (int i = 0; i < 2000; ++i) {
    const std::string key = "key:" + std::to_string(i);
    if (PartitionOfHash(KeyHash(key), kQ) != 3) continue;
    f.data.Set(key, std::string(100, 'x'));
    keys.insert(key);
  }
  REQUIRE(keys.size() > 50);
  // A small byte budget: each step still returns at least one key.
  PeerReply first = f.Serve({"SHOAL.XFER", "3", std::to_string(INT64_MAX), "4096", "1"});
  REQUIRE(first.type == PeerReply::Type::kArray);
  CHECK(first.elements.size() == 3);
  // Keys removed between steps (a drop or purge) never hide keys present
  // throughout.
  std::set<std::string> seen;
  std::set<std::string> removed;
  int64_t bound = INT64_MAX;
  do {
    PeerReply r = f.Serve({"SHOAL.XFER", "3", std::to_string(bound), "5", "1048576"});
    REQUIRE(r.type == PeerReply::Type::kArray);
    for (size_t i = 1; i + 1 < r.elements.size(); i += 2) seen.insert(r.elements[i].str);
    for (const std::string& k : keys) {
      if (removed.size() >= 20 || removed.contains(k) || seen.contains(k)) continue;
      f.data.keyspace().Forget(k, f.clock.NowMs());
      removed.insert(k);
      break;
    }
    bound = r.elements[0].integer;
  } while (bound != 0);
  for (const std::string& k : keys) {
    if (!removed.contains(k)) CHECK(seen.contains(k));
  }
}

TEST_CASE("SHOAL.XFER refuses malformed frames") {
  Fixture f;
  f.data.Set("a", "1");
  const std::string max = std::to_string(INT64_MAX);
  for (const std::vector<std::string>& argv : std::vector<std::vector<std::string>>{
           {"SHOAL.XFER"},
           {"SHOAL.XFER", "0", max, "10"},
           {"SHOAL.XFER", "0", max, "10", "100", "extra"},
           {"SHOAL.XFER", "16", max, "10", "100"},  // partition out of range
           {"SHOAL.XFER", "-1", max, "10", "100"},
           {"SHOAL.XFER", "x", max, "10", "100"},
           {"SHOAL.XFER", "0", "-5", "10", "100"},
           {"SHOAL.XFER", "0", max, "0", "100"},  // no keys
           {"SHOAL.XFER", "0", max, "100000", "100"},
           {"SHOAL.XFER", "0", max, "10", "0"},  // no bytes
           {"SHOAL.XFER", "0", max, "10", "999999999999"},
       }) {
    CAPTURE(argv.size());
    PeerReply r = f.Serve(argv);
    CHECK(r.type == PeerReply::Type::kError);
  }
}

}  // namespace
}  // namespace shoal::cluster
