// The replica side of the tombstone purge: SHOAL.PURGECHECK reports how each
// key's copy here compares with the owner's dead object, SHOAL.PURGE deletes
// only a copy whose digest is still the one checked, and malformed frames
// get an error reply.

#include "cluster/tombstone_reaper.h"

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "cluster/purge_decision.h"
#include "tests/unit/cluster/node_fixture.h"

namespace shoal::cluster {
namespace {

struct Fixture : testing::NodeFixture {
  std::unique_ptr<TombstoneReaper> reaper;

  Fixture() : NodeFixture("reaper", kDefaultPartitions) {
    storage::KeyspaceOptions ko = data.keyspace().options();
    ko.keep_tombstones = true;  // a cluster replica
    data.keyspace().set_options(ko);
    reaper = std::make_unique<TombstoneReaper>(&loop, *node, data.keyspace(), clock);
  }
  ~Fixture() { reaper.reset(); }

  PeerReply Serve(const std::vector<std::string>& argv) {
    return Run([&](facade::ReplyBuilder& r) {
      if (argv.at(0) == "SHOAL.PURGECHECK") {
        reaper->ServeCheck(argv, r);
      } else {
        reaper->ServePurge(argv, r);
      }
    });
  }

  // Deletes `key` (a tombstone stays) and returns its object, node-id encoded.
  std::string Kill(const std::string& key) {
    data.Set(key, "v");
    clock.AdvanceMs(1);
    REQUIRE(data.keyspace().Delete(key, clock.NowMs()).ok());
    return data.Encoded(key);
  }
};

TEST_CASE("SHOAL.PURGECHECK reports each copy, SHOAL.PURGE deletes only the copy checked") {
  Fixture f;
  const std::string dead = f.Kill("dead");
  f.data.Set("live", "v");
  const std::string live = f.data.Encoded("live");

  PeerReply check = f.Serve(
      {"SHOAL.PURGECHECK", "dead", dead, "absent", dead, "live", dead, "garbage", "not an object"});
  REQUIRE(check.type == PeerReply::Type::kArray);
  REQUIRE(check.elements.size() == 8);  // a state and a digest per key
  CHECK(check.elements[0].integer == static_cast<int64_t>(CopyState::kSame));
  const int64_t digest = check.elements[1].integer;
  CHECK(digest != 0);
  CHECK(check.elements[2].integer == static_cast<int64_t>(CopyState::kAbsent));
  CHECK(check.elements[3].integer == 0);
  CHECK(check.elements[4].integer == static_cast<int64_t>(CopyState::kBlocking));  // live here
  CHECK(check.elements[6].integer == static_cast<int64_t>(CopyState::kBlocking));  // undecodable

  // Another digest, a bad digest, a live key: nothing is deleted.
  PeerReply refused = f.Serve({"SHOAL.PURGE", "dead", std::to_string(digest + 1), "dead", "x1",
                               "live", std::to_string(check.elements[5].integer)});
  REQUIRE(refused.type == PeerReply::Type::kArray);
  REQUIRE(refused.elements.size() == 3);
  CHECK(refused.elements[0].integer == 0);
  CHECK(refused.elements[1].type == PeerReply::Type::kError);
  CHECK(refused.elements[2].integer == 0);
  CHECK(f.data.Load("dead").Size() > 0);
  CHECK(f.data.Load("live").Size() > 0);

  PeerReply purged = f.Serve({"SHOAL.PURGE", "dead", std::to_string(digest)});
  REQUIRE(purged.type == PeerReply::Type::kArray);
  CHECK(purged.elements.at(0).integer == 1);
  CHECK(f.data.Load("dead").Size() == 0);
  CHECK(f.data.Load("live").Size() > 0);
}

TEST_CASE("SHOAL.PURGECHECK and SHOAL.PURGE refuse malformed frames") {
  Fixture f;
  std::vector<std::string> too_many{"SHOAL.PURGE"};
  for (size_t i = 0; i <= TombstoneReaper::kMaxPurgeKeys; ++i) {
    too_many.push_back("k" + std::to_string(i));
    too_many.push_back("1");
  }
  for (const char* name : {"SHOAL.PURGECHECK", "SHOAL.PURGE"}) {
    CAPTURE(name);
    too_many[0] = name;
    for (const std::vector<std::string>& argv : std::vector<std::vector<std::string>>{
             {name}, {name, "k"}, {name, "k", "v", "k2"}, too_many}) {
      CAPTURE(argv.size());
      CHECK(f.Serve(argv).type == PeerReply::Type::kError);
    }
  }
}

}  // namespace
}  // namespace shoal::cluster
