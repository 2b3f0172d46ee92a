#pragma once
// KeyDigests: the object digest of every key of one partition, by key hash
// (KeyTreeHash), so that the partition's TicTacTree can take a key's old
// contribution out when the key changes or leaves, knowing only the key.
// This is what makes the tree's upkeep incremental (no rebuild, no previous
// object needed on a write, and eviction, which tells only the key, keeps
// the tree right).
//
// Open addressing with linear probing and backward-shift deletion over
// 16-byte slots {key hash, digest}; hash 0 marks an empty slot (a key whose
// hash is 0 is stored as 1). The table doubles past 3/4 full and halves
// below 1/8, so it holds 16 bytes per key at 100% and averages about 24-28
// bytes per key (between 21 and 43 at the extremes), plus the object header.
//
// Two keys of one partition with the same 64-bit hash share a slot (chance
// about n^2 / 2^65 for n keys): their tree contribution is then wrong until
// the partition is rebuilt, and anti-entropy may see a difference it cannot
// name. Accepted.
//
// Pure value type. Not thread safe.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace shoal::cluster {

class KeyDigests {
 public:
  KeyDigests() = default;

  // The digest recorded for `key_hash`, if any.
  std::optional<uint64_t> Find(uint64_t key_hash) const;
  // Records `digest` for `key_hash`; returns the digest it replaces, if any.
  std::optional<uint64_t> Set(uint64_t key_hash, uint64_t digest);
  // Forgets `key_hash`; returns the digest it had, if any.
  std::optional<uint64_t> Erase(uint64_t key_hash);
  void Clear();

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Heap bytes held (the slot array).
  size_t bytes() const { return slots_.capacity() * sizeof(Slot); }

  // Calls fn(key_hash, digest) for every entry, in no order (a key hash of
  // 0 shows as 1).
  template <typename Fn>
  void ForEach(const Fn& fn) const {
    for (const Slot& s : slots_) {
      if (s.hash != 0) fn(s.hash, s.digest);
    }
  }

 private:
  struct Slot {
    uint64_t hash = 0;  // 0: empty
    uint64_t digest = 0;
  };
  static uint64_t Stored(uint64_t key_hash) { return key_hash == 0 ? 1 : key_hash; }
  size_t Home(uint64_t hash) const;
  // The slot holding `hash`, or the empty slot where it would go.
  size_t Probe(uint64_t hash) const;
  void Resize(size_t capacity);

  std::vector<Slot> slots_;  // size is 0 or a power of two
  size_t size_ = 0;
};

}  // namespace shoal::cluster
