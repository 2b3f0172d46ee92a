#include "cluster/ring.h"

#include <xxhash.h>

#include <algorithm>
#include <limits>
#include <set>
#include <tuple>

#include "cluster/hash_tag.h"

namespace shoal::cluster {
namespace {

constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();

std::vector<NodeId> Normalize(std::vector<NodeId> members) {
  std::erase_if(members, [](const NodeId& id) { return id.empty(); });
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  return members;
}

uint64_t IdHash(const NodeId& id, uint64_t seed = 0) {
  return XXH3_64bits_withSeed(id.data(), id.size(), seed);
}

uint32_t IndexOf(const std::vector<NodeId>& sorted, std::string_view id) {
  auto it = std::lower_bound(sorted.begin(), sorted.end(), id);
  if (it == sorted.end() || *it != id) return kNone;
  return static_cast<uint32_t>(it - sorted.begin());
}

}  // namespace

uint64_t KeyHash(std::string_view key) {
  // Hash tags: every placement (partition, store index, transfer, trees)
  // goes through here, so related keys agree everywhere.
  key = HashTag(key);
  return XXH3_64bits(key.data(), key.size());
}

uint32_t PartitionOfHash(uint64_t hash, uint32_t partitions) {
  return static_cast<uint32_t>((static_cast<unsigned __int128>(hash) * partitions) >> 64);
}

Ring Ring::Build(std::vector<NodeId> members, uint32_t partitions) {
  if (partitions == 0) partitions = 1;
  members = Normalize(std::move(members));
  if (members.empty()) return Ring(partitions, {}, {});
  const auto s = static_cast<uint32_t>(members.size());

  // A hash-based permutation of the members, independent of input order.
  std::vector<uint32_t> order(s);
  for (uint32_t i = 0; i < s; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return std::make_tuple(IdHash(members[a]), a) < std::make_tuple(IdHash(members[b]), b);
  });

  // Round-robin: no two consecutive partitions share an owner, except where
  // the ring wraps when Q % S == 1; swapping the last two fixes that (S >= 3).
  std::vector<uint32_t> owner(partitions);
  for (uint32_t p = 0; p < partitions; ++p) owner[p] = order[p % s];
  if (s >= 3 && partitions > s && partitions % s == 1) {
    std::swap(owner[partitions - 1], owner[partitions - 2]);
  }
  return Ring(partitions, std::move(members), std::move(owner));
}

Ring Ring::Rebalance(const Ring& prev, std::vector<NodeId> members) {
  const uint32_t q = prev.partitions_;
  members = Normalize(std::move(members));
  if (prev.empty() || members.empty()) return Build(std::move(members), q);
  const auto s = static_cast<uint32_t>(members.size());

  // Previous ownership in terms of the new member indices (kNone: departed).
  std::vector<uint32_t> cur(q);
  std::vector<uint32_t> count(s, 0);
  for (uint32_t p = 0; p < q; ++p) {
    cur[p] = IndexOf(members, prev.Owner(p));
    if (cur[p] != kNone) ++count[cur[p]];
  }

  // Fair shares: the Q % S members owning the most now get ceil(Q/S), so
  // the fewest partitions move; ties broken by id hash, then id.
  std::vector<uint32_t> rank(s);
  for (uint32_t i = 0; i < s; ++i) rank[i] = i;
  std::sort(rank.begin(), rank.end(), [&](uint32_t a, uint32_t b) {
    return std::make_tuple(-static_cast<int64_t>(count[a]), IdHash(members[a]), a) <
           std::make_tuple(-static_cast<int64_t>(count[b]), IdHash(members[b]), b);
  });
  std::vector<uint32_t> target(s, q / s);
  for (uint32_t r = 0; r < q % s; ++r) ++target[rank[r]];

  auto prev_of = [q](uint32_t p) { return p == 0 ? q - 1 : p - 1; };
  auto next_of = [q](uint32_t p) { return p + 1 == q ? 0 : p + 1; };

  // The pool of partitions to reassign: those of departed members, then each
  // member's surplus. A member releases, one at a time, the partition with
  // the fewest pooled neighbours (so receivers do not get runs), preferring
  // one next to its own partitions, then by a hash of (node, partition).
  std::vector<bool> pooled(q, false);
  for (uint32_t p = 0; p < q; ++p) pooled[p] = cur[p] == kNone;
  // Each release changes only its two neighbours' keys, so the candidates
  // sit in an ordered set (key, then partition: the lowest partition wins a
  // tie) updated around each release: O(Q log Q) rather than a rescan of
  // all Q partitions per release.
  using Key = std::tuple<int, int, uint64_t>;
  std::vector<Key> keys(q);
  for (uint32_t i = 0; i < s; ++i) {
    if (count[i] <= target[i]) continue;
    auto key_of = [&](uint32_t p) {
      const uint32_t a = prev_of(p), b = next_of(p);
      const int pooled_nb = int{pooled[a]} + int{pooled[b]};
      const int self_nb = (cur[a] == i || cur[b] == i) ? 0 : 1;
      return Key(pooled_nb, self_nb, IdHash(members[i], p));
    };
    std::set<std::pair<Key, uint32_t>> candidates;
    for (uint32_t p = 0; p < q; ++p) {
      if (cur[p] != i) continue;
      keys[p] = key_of(p);
      candidates.emplace(keys[p], p);
    }
    for (; count[i] > target[i]; --count[i]) {
      const uint32_t best = candidates.begin()->second;
      candidates.erase(candidates.begin());
      cur[best] = kNone;
      pooled[best] = true;
      for (uint32_t nb : {prev_of(best), next_of(best)}) {
        if (cur[nb] != i) continue;
        candidates.erase({keys[nb], nb});
        keys[nb] = key_of(nb);
        candidates.emplace(keys[nb], nb);
      }
    }
  }

  // Hand the pool out in partition order, each to the member below its share
  // that owns neither neighbour, largest deficit first, then lowest id.
  for (uint32_t p = 0; p < q; ++p) {
    if (!pooled[p]) continue;
    uint32_t best = kNone;
    std::tuple<int, int64_t, uint32_t> best_key;
    for (uint32_t j = 0; j < s; ++j) {
      if (count[j] >= target[j]) continue;
      const int conflict = (cur[prev_of(p)] == j || cur[next_of(p)] == j) ? 1 : 0;
      auto key = std::make_tuple(conflict, -static_cast<int64_t>(target[j] - count[j]), j);
      if (best == kNone || key < best_key) {
        best = j;
        best_key = key;
      }
    }
    cur[p] = best;  // the pool size equals the total deficit
    ++count[best];
  }
  return Ring(q, std::move(members), std::move(cur));
}

storage::Result<Ring> Ring::FromOwners(std::vector<NodeId> owners) {
  if (owners.empty()) return storage::Status::Invalid("empty owner table");
  if (owners.size() > std::numeric_limits<uint32_t>::max()) {
    return storage::Status::Invalid("owner table too large");
  }
  std::vector<NodeId> members = owners;
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  if (members.front().empty()) {
    return storage::Status::Invalid("empty node id in owner table");
  }
  std::vector<uint32_t> owner(owners.size());
  for (size_t p = 0; p < owners.size(); ++p) {
    owner[p] = IndexOf(members, owners[p]);
  }
  return Ring(static_cast<uint32_t>(owners.size()), std::move(members), std::move(owner));
}

bool Ring::IsMember(std::string_view node) const {
  return IndexOf(members_, node) != kNone;
}

std::vector<NodeId> Ring::owners() const {
  std::vector<NodeId> out;
  out.reserve(owner_.size());
  for (uint32_t i : owner_) out.push_back(members_[i]);
  return out;
}

std::vector<uint32_t> Ring::PartitionsOf(std::string_view node) const {
  std::vector<uint32_t> out;
  const uint32_t i = IndexOf(members_, node);
  if (i == kNone) return out;
  for (uint32_t p = 0; p < owner_.size(); ++p) {
    if (owner_[p] == i) out.push_back(p);
  }
  return out;
}

PreferenceList Ring::Preference(std::string_view key, size_t n) const {
  return PreferenceForPartition(PartitionOf(key), n);
}

PreferenceList Ring::PreferenceForPartition(uint32_t partition, size_t n) const {
  PreferenceList out;
  if (empty()) return out;
  std::vector<bool> seen(members_.size(), false);
  size_t found = 0;
  for (uint32_t i = 0; i < partitions_ && found < members_.size(); ++i) {
    const uint32_t p = (partition + i) % partitions_;
    const uint32_t o = owner_[p];
    if (seen[o]) continue;
    seen[o] = true;
    ++found;
    auto& list = out.primaries.size() < n ? out.primaries : out.fallbacks;
    list.push_back(Replica{p, members_[o]});
  }
  return out;
}

std::vector<Target> Ring::SloppyPreference(std::string_view key, size_t n,
                                           const std::unordered_set<NodeId>& up) const {
  return SloppyPreferenceForPartition(PartitionOf(key), n, up);
}

std::vector<Target> Ring::SloppyPreferenceForPartition(uint32_t partition, size_t n,
                                                       const std::unordered_set<NodeId>& up) const {
  const PreferenceList list = PreferenceForPartition(partition, n);
  std::vector<Target> out;
  auto fb = list.fallbacks.begin();
  for (const Replica& primary : list.primaries) {
    if (up.contains(primary.node)) {
      out.push_back(Target{primary.partition, primary.node, false, {}});
      continue;
    }
    while (fb != list.fallbacks.end() && !up.contains(fb->node)) ++fb;
    if (fb == list.fallbacks.end()) continue;  // no stand-in left
    out.push_back(Target{primary.partition, fb->node, true, primary.node});
    ++fb;
  }
  return out;
}

std::vector<Share> Ring::Shares() const {
  std::vector<Share> out(members_.size());
  for (size_t i = 0; i < members_.size(); ++i) out[i].node = members_[i];
  for (uint32_t o : owner_) ++out[o].partitions;
  for (Share& s : out) {
    s.fraction = static_cast<double>(s.partitions) / partitions_;
  }
  return out;
}

std::vector<Move> Ring::Moves(const Ring& from, const Ring& to) {
  std::vector<Move> out;
  const uint32_t q = std::min(from.partitions_, to.partitions_);
  if (from.empty() || to.empty()) return out;
  for (uint32_t p = 0; p < q; ++p) {
    const NodeId& a = from.Owner(p);
    const NodeId& b = to.Owner(p);
    if (a != b) out.push_back(Move{p, a, b});
  }
  return out;
}

}  // namespace shoal::cluster
