#include "cluster/partition_trees.h"

#include <algorithm>
#include <bitset>

#include "storage/object.h"

namespace shoal::cluster {
namespace {
const TicTacTree kEmptyTree;
}  // namespace

void PartitionTrees::Enable(uint32_t partitions,
                            std::function<uint32_t(std::string_view)> partition_of) {
  partition_of_ = std::move(partition_of);
  if (parts_.size() == partitions) return;
  Disable();
  parts_.resize(partitions);
  unbuilt_ = partitions;
  build_cursor_ = 0;
}

void PartitionTrees::Disable() {
  std::vector<Part>().swap(parts_);
  unbuilt_ = 0;
  tree_count_ = 0;
  build_cursor_ = 0;
  pending_ = 0;
  pending_bytes_ = 0;
}

size_t PartitionTrees::IndexOf(std::string_view key) const {
  return parts_.empty() ? 0 : std::min<size_t>(partition_of_(key), parts_.size());
}

PartitionTrees::Part* PartitionTrees::PartOf(std::string_view key) {
  const size_t p = IndexOf(key);
  return p < parts_.size() ? &parts_[p] : nullptr;
}

PartitionTrees::Part* PartitionTrees::BuiltPartOf(std::string_view key) {
  Part* part = PartOf(key);
  return part != nullptr && part->built ? part : nullptr;
}

void PartitionTrees::Apply(Part& part, uint64_t key_hash, std::optional<uint64_t> digest) {
  std::optional<uint64_t> old =
      digest ? part.digests.Set(key_hash, *digest) : part.digests.Erase(key_hash);
  if (old == digest) return;  // nothing changed (both absent or equal)
  if (!part.tree) {
    part.tree = std::make_unique<TicTacTree>();
    ++tree_count_;
  }
  if (old) part.tree->Toggle(key_hash, *old);
  if (digest) part.tree->Toggle(key_hash, *digest);
  if (part.digests.empty()) {
    part.tree.reset();
    --tree_count_;
  }
}

void PartitionTrees::OnChange(const storage::Change& change) {
  Part* part = BuiltPartOf(change.key());
  if (part == nullptr) return;
  if (encoder_ && !change.delta().empty()) {
    if (pending_ < max_pending_) {
      if (part->pending.emplace(change.key()).second) {
        ++pending_;
        pending_bytes_ += change.key().size();
      }
      return;
    }
    if (part->pending.contains(change.key())) return;
  }
  Unpend(*part, change.key());
  std::optional<uint64_t> digest;
  if (change.object().Size() > 0) digest = ObjectBytesDigest(change.NodeIdBytes());
  Apply(*part, KeyTreeHash(change.key()), digest);
}

void PartitionTrees::OnFlush() {
  for (Part& part : parts_) {
    part.digests.Clear();
    part.tree.reset();
    part.pending.clear();
  }
  tree_count_ = 0;
  pending_ = 0;
  pending_bytes_ = 0;
}

void PartitionTrees::OnEvicted(std::string_view key) {
  Part* part = BuiltPartOf(key);
  if (part == nullptr) return;
  Unpend(*part, key);
  Apply(*part, KeyTreeHash(key), std::nullopt);
}

bool PartitionTrees::Unpend(Part& part, std::string_view key) {
  if (part.pending.empty()) return false;
  auto it = part.pending.find(key);
  if (it == part.pending.end()) return false;
  part.pending.erase(it);
  --pending_;
  pending_bytes_ -= key.size();
  return true;
}

std::optional<uint64_t> PartitionTrees::CurrentDigest(std::string_view key) {
  std::string bytes;
  if (!encoder_(key, &bytes)) return std::nullopt;
  return ObjectBytesDigest(bytes);
}

void PartitionTrees::Settle(Part& part) {
  if (part.pending.empty()) return;
  // Taken out first: the encoder reads the keyspace, which tells nobody.
  NameSet keys;
  keys.swap(part.pending);
  for (const std::string& key : keys) {
    pending_bytes_ -= key.size();
    Apply(part, KeyTreeHash(key), CurrentDigest(key));
  }
  pending_ -= keys.size();
}

void PartitionTrees::SettleKey(Part& part, std::string_view key) {
  if (!Unpend(part, key)) return;
  Apply(part, KeyTreeHash(key), CurrentDigest(key));
}

std::optional<uint64_t> PartitionTrees::DigestOfStored(std::string_view value) const {
  auto obj = storage::Object::Decode(value, actors_);
  if (!obj.ok()) return std::nullopt;
  if (obj.value().Size() == 0) return std::nullopt;
  std::string bytes;
  obj.value().EncodeWithNodeIds(actors_, &bytes);
  return ObjectBytesDigest(bytes);
}

PartitionTrees::Part PartitionTrees::Read(uint32_t partition, int64_t now_ms, size_t* keys) const {
  Part fresh;
  fresh.built = true;
  store_.ForEachInPartition(partition, now_ms, [&](const storage::EntryView& e) {
    ++*keys;
    std::optional<uint64_t> d = DigestOfStored(e.value);
    if (!d) return;
    const uint64_t h = KeyTreeHash(e.key);
    fresh.digests.Set(h, *d);
    if (!fresh.tree) fresh.tree = std::make_unique<TicTacTree>();
    fresh.tree->Toggle(h, *d);
  });
  if (fresh.digests.empty()) fresh.tree.reset();
  return fresh;
}

size_t PartitionTrees::BuildStep(int64_t now_ms, size_t budget) {
  size_t keys = 0;
  while (unbuilt_ > 0 && (keys == 0 || keys < budget)) {
    while (parts_[build_cursor_].built) build_cursor_ = (build_cursor_ + 1) % parts_.size();
    keys += Rebuild(build_cursor_, now_ms).keys + 1;  // +1: an empty partition counts
  }
  return keys;
}

RebuildResult PartitionTrees::Rebuild(uint32_t partition, int64_t now_ms) {
  RebuildResult r;
  if (partition >= parts_.size()) return r;
  Settle(parts_[partition]);  // pending digests are not mismatches
  Part fresh = Read(partition, now_ms, &r.keys);
  Part& old = parts_[partition];
  if (old.built) {
    size_t matched = 0;
    fresh.digests.ForEach([&](uint64_t h, uint64_t d) {
      std::optional<uint64_t> o = old.digests.Find(h);
      if (o && *o == d) {
        ++matched;
      } else {
        ++r.mismatches;
        if (o) ++matched;  // present on both sides, wrong digest: counted once
      }
    });
    r.mismatches += old.digests.size() - matched;  // kept but no longer stored
  } else {
    --unbuilt_;
  }
  if (old.tree) --tree_count_;
  if (fresh.tree) ++tree_count_;
  old = std::move(fresh);
  return r;
}

const TicTacTree& PartitionTrees::tree(uint32_t partition) {
  if (partition >= parts_.size()) return kEmptyTree;
  Settle(parts_[partition]);
  if (!parts_[partition].tree) return kEmptyTree;
  return *parts_[partition].tree;
}

size_t PartitionTrees::keys(uint32_t partition) {
  if (partition >= parts_.size()) return 0;
  Settle(parts_[partition]);
  return parts_[partition].digests.size();
}

std::vector<KeyDigest> PartitionTrees::ListSegments(uint32_t partition,
                                                    const std::vector<uint32_t>& segments,
                                                    int64_t now_ms, size_t max_keys,
                                                    bool* truncated) {
  *truncated = false;
  std::vector<KeyDigest> out;
  if (partition >= parts_.size()) return out;
  std::bitset<TicTacTree::kSegments> wanted;
  for (uint32_t s : segments) {
    if (s < TicTacTree::kSegments) wanted.set(s);
  }
  Part& part = parts_[partition];
  Settle(part);
  store_.ForEachInPartition(partition, now_ms, [&](const storage::EntryView& e) {
    const uint64_t h = KeyTreeHash(e.key);
    if (!wanted.test(TicTacTree::SegmentOf(h))) return;
    if (out.size() >= max_keys) {
      *truncated = true;
      return;
    }
    std::optional<uint64_t> d = part.digests.Find(h);
    if (!d) d = DigestOfStored(e.value);
    if (!d) return;
    out.push_back({std::string(e.key), *d});
  });
  return out;
}

std::optional<uint64_t> PartitionTrees::DigestOf(std::string_view key) {
  Part* part = PartOf(key);
  if (part == nullptr) return std::nullopt;
  SettleKey(*part, key);
  return part->digests.Find(KeyTreeHash(key));
}

std::optional<uint64_t> PartitionTrees::SettledDigestOf(std::string_view key) const {
  const size_t p = IndexOf(key);
  if (p >= parts_.size()) return std::nullopt;
  const Part& part = parts_[p];
  if (!part.pending.empty() && part.pending.contains(key)) return std::nullopt;
  return part.digests.Find(KeyTreeHash(key));
}

size_t PartitionTrees::bytes() const {
  constexpr size_t kPendingOverhead = 48;  // a set node, its hash, the string
  size_t b = parts_.capacity() * sizeof(Part) + tree_count_ * sizeof(TicTacTree) + pending_bytes_ +
             pending_ * kPendingOverhead;
  for (const Part& part : parts_) b += part.digests.bytes();
  return b;
}

}  // namespace shoal::cluster
