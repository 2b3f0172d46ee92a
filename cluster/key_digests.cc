#include "cluster/key_digests.h"

namespace shoal::cluster {
namespace {
constexpr size_t kMinCapacity = 8;
}  // namespace

size_t KeyDigests::Home(uint64_t hash) const {
  // The key hash's low bits pick the tree segment; mix before taking the
  // slot so that one segment's keys spread over the table.
  return static_cast<size_t>((hash * 0x9e3779b97f4a7c15ULL) >> 20) & (slots_.size() - 1);
}

size_t KeyDigests::Probe(uint64_t hash) const {
  size_t i = Home(hash);
  while (slots_[i].hash != 0 && slots_[i].hash != hash) i = (i + 1) & (slots_.size() - 1);
  return i;
}

std::optional<uint64_t> KeyDigests::Find(uint64_t key_hash) const {
  if (size_ == 0) return std::nullopt;
  const uint64_t h = Stored(key_hash);
  const Slot& s = slots_[Probe(h)];
  if (s.hash == 0) return std::nullopt;
  return s.digest;
}

std::optional<uint64_t> KeyDigests::Set(uint64_t key_hash, uint64_t digest) {
  if ((size_ + 1) * 4 > slots_.size() * 3) {
    Resize(slots_.empty() ? kMinCapacity : slots_.size() * 2);
  }
  const uint64_t h = Stored(key_hash);
  Slot& s = slots_[Probe(h)];
  if (s.hash != 0) {
    const uint64_t old = s.digest;
    s.digest = digest;
    return old;
  }
  s.hash = h;
  s.digest = digest;
  ++size_;
  return std::nullopt;
}

std::optional<uint64_t> KeyDigests::Erase(uint64_t key_hash) {
  if (size_ == 0) return std::nullopt;
  const uint64_t h = Stored(key_hash);
  size_t i = Probe(h);
  if (slots_[i].hash == 0) return std::nullopt;
  const uint64_t old = slots_[i].digest;
  // Backward-shift deletion: pull later entries of the cluster into the
  // hole when the hole lies on their probe path, so no tombstones are needed.
  const size_t mask = slots_.size() - 1;
  size_t j = i;
  while (true) {
    j = (j + 1) & mask;
    if (slots_[j].hash == 0) break;
    const size_t home = Home(slots_[j].hash);
    // Move j back to i unless its home lies cyclically in (i, j].
    const bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (!stays) {
      slots_[i] = slots_[j];
      i = j;
    }
  }
  slots_[i] = Slot{};
  --size_;
  if (size_ == 0) {
    Clear();
  } else if (slots_.size() > kMinCapacity && size_ * 8 < slots_.size()) {
    Resize(slots_.size() / 2);
  }
  return old;
}

void KeyDigests::Clear() {
  std::vector<Slot>().swap(slots_);
  size_ = 0;
}

void KeyDigests::Resize(size_t capacity) {
  std::vector<Slot> old;
  old.swap(slots_);
  slots_.assign(capacity, Slot{});
  for (const Slot& s : old) {
    if (s.hash != 0) slots_[Probe(s.hash)] = s;
  }
}

}  // namespace shoal::cluster
