#include "cluster/tictac_tree.h"

#include <algorithm>
#include <cstring>

#include <xxhash.h>

namespace shoal::cluster {
namespace {

// Any fixed value other than the ring's seed (0): segments must not follow
// partitions.
constexpr uint64_t kTreeSeed = 0x7ac7ac5eedULL;
constexpr char kMagic[3] = {'T', 'T', '1'};
constexpr size_t kHeader = sizeof(kMagic) + 2 * sizeof(uint32_t);

void PutU64(std::string* out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out->append(b, 8);
}

uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

}  // namespace

uint64_t KeyTreeHash(std::string_view key) {
  return XXH3_64bits_withSeed(key.data(), key.size(), kTreeSeed);
}

uint64_t ObjectBytesDigest(std::string_view node_id_bytes) {
  return XXH3_64bits(node_id_bytes.data(), node_id_bytes.size());
}

void TicTacTree::Toggle(uint64_t key_hash, uint64_t digest) {
  // The contribution hashes the digest seeded by the key hash: the same
  // object under two keys contributes differently.
  const uint64_t c = XXH3_64bits_withSeed(&digest, sizeof(digest), key_hash);
  const uint32_t s = SegmentOf(key_hash);
  segments_[s] ^= c;
  branches_[BranchOf(s)] ^= c;
}

void TicTacTree::Clear() {
  segments_.fill(0);
  branches_.fill(0);
}

uint64_t TicTacTree::root() const {
  uint64_t r = 0;
  for (uint64_t b : branches_) r ^= b;
  return r;
}

bool TicTacTree::empty() const {
  return std::all_of(segments_.begin(), segments_.end(), [](uint64_t s) { return s == 0; });
}

std::string TicTacTree::Serialize() const {
  std::string out(kMagic, sizeof(kMagic));
  PutU32(&out, kSegments);
  PutU32(&out, kBranchWidth);
  out.reserve(kHeader + kSegments * 8);
  for (uint64_t s : segments_) PutU64(&out, s);
  return out;
}

storage::Result<TicTacTree> TicTacTree::Deserialize(std::string_view bytes) {
  if (bytes.size() < kHeader || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return storage::Status::Corruption("tictac tree: bad header");
  }
  const uint32_t segments = GetU32(bytes.data() + sizeof(kMagic));
  const uint32_t width = GetU32(bytes.data() + sizeof(kMagic) + 4);
  if (segments != kSegments || width != kBranchWidth) {
    return storage::Status::Corruption("tictac tree: shape " + std::to_string(segments) + "/" +
                                       std::to_string(width) + " is not ours");
  }
  if (bytes.size() != kHeader + size_t{kSegments} * 8) {
    return storage::Status::Corruption("tictac tree: bad length");
  }
  TicTacTree t;
  const char* p = bytes.data() + kHeader;
  for (uint32_t s = 0; s < kSegments; ++s) {
    t.segments_[s] = GetU64(p + size_t{s} * 8);
    t.branches_[BranchOf(s)] ^= t.segments_[s];
  }
  return t;
}

std::string EncodeHashes(const uint64_t* hashes, size_t n) {
  std::string out;
  out.reserve(n * 8);
  for (size_t i = 0; i < n; ++i) PutU64(&out, hashes[i]);
  return out;
}

storage::Result<std::vector<uint64_t>> DecodeHashes(std::string_view bytes, size_t expected) {
  if (bytes.size() != expected * 8) {
    return storage::Status::Invalid("expected " + std::to_string(expected) + " hashes, got " +
                                    std::to_string(bytes.size()) + " bytes");
  }
  std::vector<uint64_t> out(expected);
  for (size_t i = 0; i < expected; ++i) out[i] = GetU64(bytes.data() + i * 8);
  return out;
}

std::vector<uint32_t> DifferingIndexes(const std::vector<uint64_t>& a,
                                       const std::vector<uint64_t>& b) {
  std::vector<uint32_t> out;
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) out.push_back(static_cast<uint32_t>(i));
  }
  return out;
}

std::vector<std::string> DifferingKeys(std::vector<KeyDigest> a, std::vector<KeyDigest> b) {
  auto by_key = [](const KeyDigest& x, const KeyDigest& y) { return x.key < y.key; };
  std::sort(a.begin(), a.end(), by_key);
  std::sort(b.begin(), b.end(), by_key);
  std::vector<std::string> out;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].key < b[j].key)) {
      out.push_back(std::move(a[i++].key));
    } else if (i == a.size() || b[j].key < a[i].key) {
      out.push_back(std::move(b[j++].key));
    } else {
      if (a[i].digest != b[j].digest) out.push_back(a[i].key);
      ++i;
      ++j;
    }
  }
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace shoal::cluster
