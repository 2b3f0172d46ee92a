#include "cluster/purge_decision.h"

#include <xxhash.h>

namespace shoal::cluster {

bool DeadAndCovered(const storage::Object& object, const storage::VersionVector& context,
                    int64_t now_ms) {
  if (!object.IsAbsent(now_ms)) return false;
  for (const storage::Object::Sibling& s : object.siblings()) {
    if (!context.Covers(s.dot)) return false;
  }
  return true;
}

CopyState ClassifyCopy(const storage::Object& checked, const storage::Object& local,
                       const std::vector<storage::Object>& hints, int64_t now_ms) {
  // A hint is handed to its owner later: once the owner has forgotten the
  // key, whatever the hint holds is all there is.
  for (const storage::Object& hint : hints) {
    if (!DeadAndCovered(hint, checked.Context(), now_ms)) return CopyState::kBlocking;
  }
  if (local.Size() == 0) return CopyState::kAbsent;
  if (local == checked) return CopyState::kSame;
  if (DeadAndCovered(local, checked.Context(), now_ms)) return CopyState::kCovered;
  return CopyState::kBlocking;
}

PurgeRefusal CheckMembers(const std::vector<MemberHealth>& others) {
  for (const MemberHealth& m : others) {
    if (!m.alive || !m.reachable) return PurgeRefusal::kMemberDown;
  }
  return PurgeRefusal::kNone;
}

PurgeRefusal DecidePurge(const std::vector<MemberAnswer>& answers) {
  for (const MemberAnswer& a : answers) {
    if (!a.answered) return PurgeRefusal::kNoAnswer;
  }
  for (const MemberAnswer& a : answers) {
    if (a.primary && a.state != CopyState::kSame) return PurgeRefusal::kReplicaDiffers;
  }
  for (const MemberAnswer& a : answers) {
    if (!a.primary && a.state == CopyState::kBlocking) return PurgeRefusal::kCopyElsewhere;
  }
  return PurgeRefusal::kNone;
}

uint64_t PurgeDigest(const storage::Object& object, const storage::ActorTable& actors) {
  std::string bytes;
  object.EncodeWithNodeIds(actors, &bytes);
  return XXH3_64bits(bytes.data(), bytes.size());
}

}  // namespace shoal::cluster
