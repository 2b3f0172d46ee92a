#include "storage/dvv.h"

#include "storage/sorted_merge.h"

namespace shoal::storage {

Result<VersionVector> VersionVector::FromEntries(std::vector<Entry> entries) {
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.actor < b.actor; });
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].counter == 0 || entries[i].counter > kMaxCounter) {
      return Status::Invalid("counter out of range");
    }
    if (i > 0 && entries[i - 1].actor == entries[i].actor) {
      return Status::Invalid("repeated actor");
    }
  }
  VersionVector vv;
  vv.entries_ = std::move(entries);
  return vv;
}

uint64_t VersionVector::Get(ActorId actor) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), actor,
                             [](const Entry& e, ActorId a) { return e.actor < a; });
  return it != entries_.end() && it->actor == actor ? it->counter : 0;
}

void VersionVector::Raise(ActorId actor, uint64_t counter) {
  if (counter == 0) return;
  auto it = std::lower_bound(entries_.begin(), entries_.end(), actor,
                             [](const Entry& e, ActorId a) { return e.actor < a; });
  if (it != entries_.end() && it->actor == actor) {
    it->counter = std::max(it->counter, counter);
  } else {
    entries_.insert(it, Entry{actor, counter});
  }
}

bool VersionVector::Descends(const VersionVector& other) const {
  for (const Entry& e : other.entries_) {
    if (Get(e.actor) < e.counter) return false;
  }
  return true;
}

void VersionVector::Join(const VersionVector& other) {
  if (other.entries_.empty()) return;
  entries_ = MergeByActor(entries_, other.entries_, [](const Entry& x, const Entry& y) {
    return Entry{x.actor, std::max(x.counter, y.counter)};
  });
}

}  // namespace shoal::storage
