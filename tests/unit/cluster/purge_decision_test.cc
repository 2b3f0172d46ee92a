// The decisions of tombstone purging (cluster/purge_decision.h).

#include "cluster/purge_decision.h"

#include <doctest/doctest.h>

#include <vector>

namespace shoal::cluster {
namespace {

using storage::Object;
using storage::Version;

constexpr int64_t kNow = 1'700'000'000'000;

// v1 written by actor 1, then deleted (the context covers v1).
struct Objects {
  Object v1;
  Object tomb;
  Objects() {
    v1.Put(Version::Bytes("v1", kNow), 1);
    tomb = v1;
    tomb.Put(Version::Tombstone(kNow + 1), 1);
  }
};

TEST_CASE("ClassifyCopy: absent, same, covered, blocking") {
  Objects o;
  CHECK(ClassifyCopy(o.tomb, Object(), {}, kNow) == CopyState::kAbsent);
  CHECK(ClassifyCopy(o.tomb, o.tomb, {}, kNow) == CopyState::kSame);
  // A live copy: the value would come back.
  CHECK(ClassifyCopy(o.tomb, o.v1, {}, kNow) == CopyState::kBlocking);
  // An older tombstone the checked one covers: harmless.
  Object old_tomb;
  old_tomb.Put(Version::Tombstone(kNow), 1);
  CHECK(ClassifyCopy(o.tomb, old_tomb, {}, kNow) == CopyState::kCovered);
  // A dead copy with a version the checked object has not seen: blocking.
  Object concurrent;
  concurrent.Put(Version::Tombstone(kNow), 9);
  CHECK(ClassifyCopy(o.tomb, concurrent, {}, kNow) == CopyState::kBlocking);
}

TEST_CASE("ClassifyCopy: a hint of an older value blocks, a covered dead hint does not") {
  Objects o;
  CHECK(ClassifyCopy(o.tomb, Object(), {o.v1}, kNow) == CopyState::kBlocking);
  CHECK(ClassifyCopy(o.tomb, o.tomb, {o.v1}, kNow) == CopyState::kBlocking);
  CHECK(ClassifyCopy(o.tomb, o.tomb, {o.tomb}, kNow) == CopyState::kSame);
  CHECK(ClassifyCopy(o.tomb, Object(), {o.tomb}, kNow) == CopyState::kAbsent);
}

TEST_CASE("ClassifyCopy: an expired value is dead, so covered remains are harmless") {
  Object expired;
  expired.Put(Version::Bytes("s", kNow, kNow + 10), 1);
  Object settled = expired;
  settled.CompactExpired(kNow + 20);
  CHECK(ClassifyCopy(settled, expired, {}, kNow + 20) == CopyState::kCovered);
  CHECK(ClassifyCopy(settled, expired, {}, kNow) == CopyState::kBlocking);  // still live then
}

TEST_CASE("CheckMembers: every other member alive and reachable") {
  CHECK(CheckMembers({}) == PurgeRefusal::kNone);
  CHECK(CheckMembers({{true, true}, {true, true}}) == PurgeRefusal::kNone);
  CHECK(CheckMembers({{true, true}, {false, true}}) == PurgeRefusal::kMemberDown);  // suspect/dead
  CHECK(CheckMembers({{true, false}}) == PurgeRefusal::kMemberDown);                // link down
}

TEST_CASE("DecidePurge: primaries identical, others harmless, everyone answered") {
  const MemberAnswer same_primary{true, true, CopyState::kSame};
  const MemberAnswer absent_other{false, true, CopyState::kAbsent};
  CHECK(DecidePurge({same_primary, same_primary, absent_other}) == PurgeRefusal::kNone);
  CHECK(DecidePurge({same_primary, {false, true, CopyState::kCovered}}) == PurgeRefusal::kNone);
  CHECK(DecidePurge({same_primary, {false, true, CopyState::kSame}}) == PurgeRefusal::kNone);
  // A primary without the tombstone, or with another object.
  CHECK(DecidePurge({same_primary, {true, true, CopyState::kAbsent}}) ==
        PurgeRefusal::kReplicaDiffers);
  CHECK(DecidePurge({{true, true, CopyState::kCovered}}) == PurgeRefusal::kReplicaDiffers);
  CHECK(DecidePurge({{true, true, CopyState::kBlocking}}) == PurgeRefusal::kReplicaDiffers);
  // A stray copy or hint elsewhere.
  CHECK(DecidePurge({same_primary, {false, true, CopyState::kBlocking}}) ==
        PurgeRefusal::kCopyElsewhere);
  // Silence beats everything: nobody knows what the silent member holds.
  CHECK(DecidePurge({{true, true, CopyState::kBlocking}, {false, false, CopyState::kAbsent}}) ==
        PurgeRefusal::kNoAnswer);
}

TEST_CASE("PurgeDigest: equal objects, equal digests; different objects differ") {
  Objects o;
  storage::ActorTable actors;
  REQUIRE(actors.Intern(std::string(40, 'a')).ok());
  REQUIRE(actors.Intern(std::string(40, 'b')).ok());
  Object v1;
  v1.Put(Version::Bytes("v1", kNow), 1);
  Object tomb = v1;
  tomb.Put(Version::Tombstone(kNow + 1), 1);
  CHECK(PurgeDigest(tomb, actors) == PurgeDigest(Object(tomb), actors));
  CHECK(PurgeDigest(tomb, actors) != PurgeDigest(v1, actors));
}

}  // namespace
}  // namespace shoal::cluster
