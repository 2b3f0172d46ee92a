#include "storage/dict.h"

#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>
#include <utility>

namespace shoal::storage {

// One allocation per key: keep the header at 64 bytes so that a 16-byte key
// fits jemalloc's 80-byte class.
static_assert(sizeof(DictEntry) == 64);

namespace {

// Reverses the bits of v (dictScan's rev()).
uint64_t ReverseBits(uint64_t v) {
  v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
  v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
  v = ((v >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((v & 0x0F0F0F0F0F0F0F0FULL) << 4);
  return __builtin_bswap64(v);
}

// Increments the masked-in high bits of a reversed cursor: the cursor walks
// bucket indexes in reverse-binary order, so buckets that split (grow) or
// merge (shrink) between calls are never skipped.
uint64_t NextCursor(uint64_t v, uint64_t mask) {
  v |= ~mask;
  v = ReverseBits(v);
  ++v;
  return ReverseBits(v);
}

bool KeyEquals(const DictEntry* e, std::string_view key) {
  return e->key() == key;
}

}  // namespace

DictEntry* DictEntry::Create(std::string_view key) {
  void* mem = ::operator new(AllocationSize(key.size()));
  auto* e = new (mem) DictEntry();
  e->key_size = static_cast<uint32_t>(key.size());
  if (!key.empty()) std::memcpy(reinterpret_cast<char*>(e + 1), key.data(), key.size());
  return e;
}

void DictEntry::Free(DictEntry* entry) {
  entry->~DictEntry();
  ::operator delete(static_cast<void*>(entry));
}

Dict::Dict(uint64_t seed) : seed_(seed) {}

Dict::~Dict() {
  Clear();
}

uint64_t Dict::Hash(std::string_view key) const {
  return XXH3_64bits_withSeed(key.data(), key.size(), seed_);
}

DictEntry* Dict::FindWithHash(std::string_view key, uint64_t hash) const {
  for (int t = 0; t < 2; ++t) {
    const Table& table = tables_[t];
    if (table.size != 0) {
      for (DictEntry* e = table.buckets[hash & table.mask()]; e != nullptr; e = e->next) {
        if (KeyEquals(e, key)) return e;
      }
    }
    if (!rehashing()) break;
  }
  return nullptr;
}

void Dict::RehashStepIfNeeded() {
  if (rehashing()) RehashStep(1);
}

DictEntry* Dict::Find(std::string_view key) {
  if (size() == 0) return nullptr;
  RehashStepIfNeeded();
  return FindWithHash(key, Hash(key));
}

DictEntry* Dict::FindOrInsert(std::string_view key, bool* inserted) {
  RehashStepIfNeeded();
  const uint64_t hash = Hash(key);
  if (DictEntry* e = FindWithHash(key, hash)) {
    *inserted = false;
    return e;
  }
  ExpandIfNeeded();
  // During a rehash new entries go to the new table only, so table 0 only
  // ever shrinks and the rehash terminates.
  Table& table = rehashing() ? tables_[1] : tables_[0];
  DictEntry* e = DictEntry::Create(key);
  DictEntry*& head = table.buckets[hash & table.mask()];
  e->next = head;
  head = e;
  ++table.used;
  *inserted = true;
  return e;
}

DictEntry* Dict::Unlink(std::string_view key) {
  if (size() == 0) return nullptr;
  RehashStepIfNeeded();
  const uint64_t hash = Hash(key);
  for (int t = 0; t < 2; ++t) {
    Table& table = tables_[t];
    if (table.size != 0) {
      DictEntry** link = &table.buckets[hash & table.mask()];
      for (DictEntry* e = *link; e != nullptr; link = &e->next, e = e->next) {
        if (KeyEquals(e, key)) {
          *link = e->next;
          e->next = nullptr;
          --table.used;
          ShrinkIfNeeded();
          return e;
        }
      }
    }
    if (!rehashing()) break;
  }
  return nullptr;
}

bool Dict::Erase(std::string_view key) {
  DictEntry* e = Unlink(key);
  if (e == nullptr) return false;
  DictEntry::Free(e);
  return true;
}

DictEntry* Dict::RandomEntry(uint64_t random) {
  if (size() == 0) return nullptr;
  RehashStepIfNeeded();
  uint64_t state = random;
  DictEntry* head = nullptr;
  if (rehashing()) {
    // Buckets of table 0 below rehash_index_ are known to be empty.
    const Table& t0 = tables_[0];
    const Table& t1 = tables_[1];
    const uint64_t first = static_cast<uint64_t>(rehash_index_);
    const uint64_t span = t0.size + t1.size - first;
    do {
      const uint64_t h = first + SplitMix64(&state) % span;
      head = h >= t0.size ? t1.buckets[h - t0.size] : t0.buckets[h];
    } while (head == nullptr);
  } else {
    const Table& t0 = tables_[0];
    do {
      head = t0.buckets[SplitMix64(&state) & t0.mask()];
    } while (head == nullptr);
  }
  // A random element of the chain. Like Redis, this favours entries in short
  // chains a little; with load factor <= 1 chains are short.
  size_t length = 0;
  for (DictEntry* e = head; e != nullptr; e = e->next) ++length;
  size_t pick = SplitMix64(&state) % length;
  DictEntry* e = head;
  while (pick-- > 0) e = e->next;
  return e;
}

size_t Dict::SampleEntries(uint64_t random, size_t count, DictEntry** out) {
  count = std::min(count, size());
  if (count == 0) return 0;
  for (size_t i = 0; i < count && rehashing(); ++i) RehashStep(1);
  const int tables = rehashing() ? 2 : 1;
  uint64_t mask = tables_[0].mask();
  if (tables == 2) mask = std::max(mask, tables_[1].mask());
  uint64_t state = random;
  uint64_t i = SplitMix64(&state) & mask;
  size_t got = 0;
  size_t empty_run = 0;
  for (size_t steps = count * 10; got < count && steps > 0; --steps) {
    for (int t = 0; t < tables && got < count; ++t) {
      if (t == 0 && tables == 2 && i < static_cast<uint64_t>(rehash_index_)) {
        // Table 0 is empty below the rehash index: look at table 1 only,
        // or, past its end too, move to where table 0 still has entries.
        if (i >= tables_[1].size) {
          i = static_cast<uint64_t>(rehash_index_);
        } else {
          continue;
        }
      }
      const Table& table = tables_[t];
      if (i >= table.size) continue;  // the smaller table has no bucket i
      DictEntry* e = table.buckets[i];
      if (e == nullptr) {
        // A long empty stretch: try somewhere else.
        if (++empty_run >= 5 && empty_run > count) {
          i = SplitMix64(&state) & mask;
          empty_run = 0;
        }
        continue;
      }
      empty_run = 0;
      for (; e != nullptr && got < count; e = e->next) out[got++] = e;
    }
    i = (i + 1) & mask;
  }
  return got;
}

uint64_t Dict::Scan(uint64_t cursor, const std::function<void(const DictEntry&)>& fn) const {
  if (size() == 0) return 0;
  auto emit = [&fn](const DictEntry* e) {
    while (e != nullptr) {
      const DictEntry* next = e->next;
      fn(*e);
      e = next;
    }
  };
  uint64_t v = cursor;
  if (!rehashing()) {
    const Table& t0 = tables_[0];
    const uint64_t m0 = t0.mask();
    emit(t0.buckets[v & m0]);
    return NextCursor(v, m0);
  }
  // Rehashing: visit the bucket of the smaller table, then every bucket of
  // the larger table that expands it (those whose low bits equal it).
  const Table* small = &tables_[0];
  const Table* large = &tables_[1];
  if (small->size > large->size) std::swap(small, large);
  const uint64_t m0 = small->mask();
  const uint64_t m1 = large->mask();
  emit(small->buckets[v & m0]);
  do {
    emit(large->buckets[v & m1]);
    v = NextCursor(v, m1);
  } while ((v & (m0 ^ m1)) != 0);
  return v;
}

void Dict::ForEach(const std::function<void(const DictEntry&)>& fn) const {
  for (const Table& table : tables_) {
    for (size_t i = 0; i < table.size; ++i) {
      for (const DictEntry* e = table.buckets[i]; e != nullptr; e = e->next) fn(*e);
    }
  }
}

void Dict::ForEachMutable(const std::function<void(DictEntry&)>& fn) {
  for (Table& table : tables_) {
    for (size_t i = 0; i < table.size; ++i) {
      for (DictEntry* e = table.buckets[i]; e != nullptr; e = e->next) fn(*e);
    }
  }
}

bool Dict::RehashStep(size_t buckets) {
  if (!rehashing()) {
    ShrinkIfNeeded();
    if (!rehashing()) return false;
  }
  Table& t0 = tables_[0];
  Table& t1 = tables_[1];
  size_t empty_visits = buckets * 10;
  while (buckets-- > 0 && t0.used != 0) {
    while (t0.buckets[rehash_index_] == nullptr) {
      ++rehash_index_;
      if (--empty_visits == 0) return true;
    }
    DictEntry* e = t0.buckets[rehash_index_];
    while (e != nullptr) {
      DictEntry* next = e->next;
      DictEntry*& head = t1.buckets[Hash(e->key()) & t1.mask()];
      e->next = head;
      head = e;
      --t0.used;
      ++t1.used;
      e = next;
    }
    t0.buckets[rehash_index_] = nullptr;
    ++rehash_index_;
  }
  if (t0.used == 0) {
    tables_[0] = std::move(tables_[1]);
    tables_[1] = Table{};
    rehash_index_ = -1;
    // Deletes during a rehash may have left the new table underfull too.
    ShrinkIfNeeded();
    return rehashing();
  }
  return true;
}

void Dict::ExpandIfNeeded() {
  if (rehashing()) return;
  if (tables_[0].size == 0) {
    StartResize(kMinSize);
  } else if (tables_[0].used >= tables_[0].size) {
    StartResize(std::bit_ceil(tables_[0].used + 1));
  }
}

void Dict::ShrinkIfNeeded() {
  if (rehashing()) return;
  const Table& t0 = tables_[0];
  if (t0.size <= kMinSize || t0.used * 100 / t0.size >= kMinFillPercent) return;
  const size_t target = std::max(kMinSize, std::bit_ceil(std::max<size_t>(t0.used, 1)));
  if (target < t0.size) StartResize(target);
}

void Dict::StartResize(size_t size) {
  Table table;
  table.buckets.reset(new DictEntry*[size]());
  table.size = size;
  if (tables_[0].size == 0) {
    // First table: nothing to move.
    tables_[0] = std::move(table);
    return;
  }
  tables_[1] = std::move(table);
  rehash_index_ = 0;
}

void Dict::FreeChains(Table* table) {
  for (size_t i = 0; i < table->size; ++i) {
    DictEntry* e = table->buckets[i];
    while (e != nullptr) {
      DictEntry* next = e->next;
      DictEntry::Free(e);
      e = next;
    }
  }
  *table = Table{};
}

void Dict::Clear() {
  FreeChains(&tables_[0]);
  FreeChains(&tables_[1]);
  rehash_index_ = -1;
}

}  // namespace shoal::storage
