#pragma once
// TicTacTree: the Merkle tree of one ring partition, as Riak 3's tictac
// trees (basho/kv_index_tictactree): a fixed shape of kSegments leaves
// ("segments") under kBranches branches of kBranchWidth segments each.
//
//   segment hash  XOR of the contributions of the keys in the segment
//   branch hash   XOR of its segments' hashes
//   root          XOR of the branch hashes
//
// A key's segment comes from its 64-bit key hash (KeyTreeHash: XXH3 with a
// seed of its own, not the ring hash, so hash tags do not pile keys into one
// segment); its contribution is a hash of (key hash, object digest), the
// object digest being XXH3-64 of the object's canonical node-id encoding
// (storage::Object::EncodeWithNodeIds). XOR makes an update O(1) and order
// free: Toggle(key hash, old digest) takes the old version out,
// Toggle(key hash, new digest) puts the new one in; toggling twice is a
// no-op, so adding then removing a key restores the tree.
//
// Two trees compare by descending: differing branch hashes, then the
// segment hashes of those branches, then the keys of the differing segments
// (listed from the store, outside this class).
//
// Memory: kSegments * 8 + kBranches * 8 = 8448 bytes per partition tree,
// whatever its key count (0 bytes per key; the per-key digests that the
// incremental upkeep needs are kept apart, see cluster/key_digests.h).
//
// Pure value type, no I/O. Not thread safe.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/status.h"

namespace shoal::cluster {

// The hash that places a key in the tree (its segment) and in
// KeyDigests. Not the ring hash.
uint64_t KeyTreeHash(std::string_view key);

// XXH3-64 of an object's node-id encoding.
uint64_t ObjectBytesDigest(std::string_view node_id_bytes);

class TicTacTree {
 public:
  static constexpr uint32_t kBranches = 32;
  static constexpr uint32_t kBranchWidth = 32;
  static constexpr uint32_t kSegments = kBranches * kBranchWidth;  // 1024
  static constexpr size_t kBytes = (kSegments + kBranches) * sizeof(uint64_t);

  TicTacTree() { Clear(); }

  // The segment of a key hash, in [0, kSegments).
  static uint32_t SegmentOf(uint64_t key_hash) {
    return static_cast<uint32_t>(key_hash & (kSegments - 1));
  }
  static uint32_t BranchOf(uint32_t segment) { return segment / kBranchWidth; }

  // XORs the contribution of (key_hash, digest) into its segment: adds it if
  // absent, removes it if present. O(1).
  void Toggle(uint64_t key_hash, uint64_t digest);
  void Clear();

  uint64_t root() const;
  uint64_t branch(uint32_t b) const { return branches_[b]; }
  uint64_t segment(uint32_t s) const { return segments_[s]; }
  const std::array<uint64_t, kBranches>& branches() const { return branches_; }
  // True when every segment is zero (as an empty tree; XOR may cancel, but
  // only with a 2^-64 chance per segment).
  bool empty() const;

  bool operator==(const TicTacTree& other) const {
    return segments_ == other.segments_;  // branches follow from segments
  }

  // The whole tree as bytes ("TT1", segment count, branch width, the segment
  // hashes little-endian), and back. Deserialize refuses a wrong magic,
  // shape or length (Code::kCorruption); the branches are recomputed.
  std::string Serialize() const;
  static storage::Result<TicTacTree> Deserialize(std::string_view bytes);

 private:
  std::array<uint64_t, kSegments> segments_;
  std::array<uint64_t, kBranches> branches_;
};

// --- what the anti-entropy frames carry ------------------------------------

// Hashes as little-endian 8-byte words, and back; DecodeHashes refuses a
// length other than expected * 8 (Code::kInvalid).
std::string EncodeHashes(const uint64_t* hashes, size_t n);
storage::Result<std::vector<uint64_t>> DecodeHashes(std::string_view bytes, size_t expected);

// Indexes where two equal-length hash lists differ, ascending.
std::vector<uint32_t> DifferingIndexes(const std::vector<uint64_t>& a,
                                       const std::vector<uint64_t>& b);

// One key of a listed segment and its object digest.
struct KeyDigest {
  std::string key;
  uint64_t digest = 0;
};

// The keys whose objects differ between two listings of the same segments:
// present on one side only, or with different digests. Sorted, unique. The
// inputs need not be sorted.
std::vector<std::string> DifferingKeys(std::vector<KeyDigest> a, std::vector<KeyDigest> b);

}  // namespace shoal::cluster
