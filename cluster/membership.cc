#include "cluster/membership.h"

#include <xxhash.h>

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

#include "storage/actor_table.h"
#include "storage/node_id.h"
#include "storage/varint.h"

namespace shoal::cluster {
namespace {

using storage::Result;
using storage::Status;

constexpr uint8_t kEncodingVersion = 3;
constexpr uint8_t kEncodingVersionNoReleasing = 2;
constexpr uint8_t kEncodingVersionNoRows = 1;
constexpr uint64_t kFlagLeaving = 1;
constexpr size_t kChecksumLength = 8;
constexpr uint64_t kMaxPort = 65535;
// The smallest encoded member: id, a 1-byte host and four 1-byte varints.
constexpr size_t kMinMemberBytes = storage::kNodeIdHexLength + 1 + 1 + 1 + 1 + 1;

// owner[p] = index of ring.Owner(p) in ring.members().
std::vector<uint32_t> OwnerIndexes(const Ring& ring) {
  std::vector<uint32_t> out(ring.empty() ? 0 : ring.partition_count());
  const std::vector<NodeId>& members = ring.members();
  for (uint32_t p = 0; p < out.size(); ++p) {
    auto it = std::lower_bound(members.begin(), members.end(), ring.Owner(p));
    out[p] = static_cast<uint32_t>(it - members.begin());
  }
  return out;
}

// XXH3_64bits of the ring's canonical form: member count, members, partition
// count, owner indexes. Equal rings have equal digests on every node.
uint64_t RingDigest(const Ring& ring) {
  if (ring.empty()) return 0;
  std::string form;
  storage::PutVarint64(&form, ring.members().size());
  for (const NodeId& id : ring.members()) {
    storage::PutVarint64(&form, id.size());
    form += id;
  }
  storage::PutVarint64(&form, ring.partition_count());
  for (uint32_t owner : OwnerIndexes(ring)) storage::PutVarint64(&form, owner);
  return XXH3_64bits(form.data(), form.size());
}

// The order that picks a merge's base ring: (epoch, digest, members, owners).
// Members and owners are compared only when the digests tie, i.e. almost
// only for equal rings.
bool RingLess(uint64_t epoch_a, uint64_t digest_a, const Ring& a, uint64_t epoch_b,
              uint64_t digest_b, const Ring& b) {
  if (epoch_a != epoch_b) return epoch_a < epoch_b;
  if (digest_a != digest_b) return digest_a < digest_b;
  if (a.members() != b.members()) return a.members() < b.members();
  if (a.partition_count() != b.partition_count()) {
    return a.partition_count() < b.partition_count();
  }
  return OwnerIndexes(a) < OwnerIndexes(b);
}

// True if entry `a` beats entry `b` of the same id in a merge.
bool Beats(const MemberInfo& a, const MemberInfo& b) {
  return std::tie(a.incarnation, a.leaving, a.host, a.port, a.cport) >
         std::tie(b.incarnation, b.leaving, b.host, b.port, b.cport);
}

// True if row `a` beats row `b` of the same id in a merge.
bool Beats(const ReadyRow& a, const ReadyRow& b) {
  return std::tie(a.version, a.bits, a.releasing) > std::tie(b.version, b.bits, b.releasing);
}

void PutFixed64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t DecodeFixed64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

Status Corrupt(const std::string& what) {
  return Status::Corruption("bad membership state: " + what);
}

}  // namespace

bool IsValidMember(const MemberInfo& info) {
  if (!storage::IsValidNodeId(info.id)) return false;
  if (info.host.empty() || info.host.size() > kMaxHostLength) return false;
  for (char c : info.host) {
    if (c <= ' ' || c > '~') return false;
  }
  auto port_ok = [](int port) { return port >= 0 && static_cast<uint64_t>(port) <= kMaxPort; };
  return port_ok(info.port) && port_ok(info.cport);
}

Membership Membership::Solo(MemberInfo self, uint32_t partitions) {
  partitions = std::clamp<uint32_t>(partitions, 1, kMaxPartitions);
  Membership m;
  NodeId id = self.id;
  m.members_.emplace(id, std::move(self));
  m.SetRing(Ring::Build({std::move(id)}, partitions), 1);
  return m;
}

const MemberInfo* Membership::Find(std::string_view id) const {
  auto it = members_.find(std::string(id));
  return it == members_.end() ? nullptr : &it->second;
}

void Membership::UpdateSelf(const MemberInfo& self) {
  if (!IsValidMember(self)) return;
  auto it = members_.find(self.id);
  if (it == members_.end()) return;
  it->second = self;
  FixRing(epoch_);
}

bool Membership::IsReady(std::string_view id, uint32_t partition) const {
  auto it = ready_.find(std::string(id));
  return it != ready_.end() && it->second.Has(partition);
}

bool Membership::IsReleasing(std::string_view id, uint32_t partition) const {
  auto it = ready_.find(std::string(id));
  return it != ready_.end() && it->second.Releasing(partition);
}

bool Membership::SetReady(const NodeId& id, std::string bits, std::string releasing) {
  if (!members_.contains(id) || ring_.empty() ||
      bits.size() != PartitionBitmapBytes(ring_.partition_count()) ||
      (!releasing.empty() && releasing.size() != bits.size())) {
    return false;
  }
  // Canonical: releasing is a subset of bits, and empty when nothing is.
  bool any = false;
  for (size_t i = 0; i < releasing.size(); ++i) {
    releasing[i] = static_cast<char>(releasing[i] & bits[i]);
    any = any || releasing[i] != 0;
  }
  if (!any) releasing.clear();
  ReadyRow& row = ready_[id];
  if (row.bits == bits && row.releasing == releasing && row.version > 0) return false;
  row.bits = std::move(bits);
  row.releasing = std::move(releasing);
  row.version = std::min(row.version + 1, kMaxEpoch);
  return true;
}

bool Membership::Remove(const NodeId& id) {
  auto it = members_.find(id);
  if (it == members_.end()) return false;
  std::vector<NodeId> active = ActiveIds();
  if (active.size() == 1 && active.front() == id) return false;
  members_.erase(it);
  ready_.erase(id);
  removed_.insert(id);
  FixRing(epoch_);
  return true;
}

std::vector<NodeId> Membership::ActiveIds() const {
  std::vector<NodeId> ids;
  ids.reserve(members_.size());
  for (const auto& [id, info] : members_) {
    if (!info.leaving) ids.push_back(id);
  }
  if (ids.empty()) {
    for (const auto& entry : members_) ids.push_back(entry.first);
  }
  return ids;
}

bool Membership::FixRing(uint64_t epoch_floor) {
  std::vector<NodeId> ids = ActiveIds();
  // No member left (a merge removed them all): the ring empties too, rather
  // than stay owned by removed ids (Rebalance over no members is empty).
  if (ring_.members() == ids) return false;
  const uint64_t top = std::max(epoch_, epoch_floor);
  SetRing(ring_.empty() ? Ring::Build(std::move(ids), ring_.partition_count())
                        : Ring::Rebalance(ring_, std::move(ids)),
          top >= kMaxEpoch ? kMaxEpoch : top + 1);
  return true;
}

bool Membership::Merge(const Membership& other) {
  bool changed = false;
  for (const NodeId& id : other.removed_) {
    if (!storage::IsValidNodeId(id) || !removed_.insert(id).second) continue;
    changed = true;
    members_.erase(id);
    ready_.erase(id);
  }
  for (const auto& [id, theirs] : other.members_) {
    if (!IsValidMember(theirs) || theirs.id != id || removed_.contains(id)) continue;
    auto it = members_.find(id);
    if (it == members_.end()) {
      members_.emplace(id, theirs);
      changed = true;
    } else if (Beats(theirs, it->second)) {
      it->second = theirs;
      changed = true;
    }
  }
  const bool theirs_is_base =
      RingLess(epoch_, digest_, ring_, other.epoch_, other.digest_, other.ring_);
  if (theirs_is_base) {
    ring_ = other.ring_;
    epoch_ = other.epoch_;
    digest_ = other.digest_;
    changed = true;
  }
  if (FixRing(std::max(epoch_, other.epoch_))) changed = true;
  // Ready rows, once the ring is known. Rows sized for another partition
  // count (the ring's count changed, or the peer's differs) mean nothing
  // under this ring: ours are dropped and theirs skipped, so that they never
  // beat a row of the right size and a merge with such a peer does not
  // report a change every time.
  const size_t row_bytes = ring_.empty() ? 0 : PartitionBitmapBytes(ring_.partition_count());
  for (auto it = ready_.begin(); it != ready_.end();) {
    if (it->second.bits.size() != row_bytes) {
      it = ready_.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  for (const auto& [id, theirs] : other.ready_) {
    if (!members_.contains(id) || theirs.bits.size() != row_bytes) continue;
    auto it = ready_.find(id);
    if (it == ready_.end()) {
      ready_.emplace(id, theirs);
      changed = true;
    } else if (Beats(theirs, it->second)) {
      it->second = theirs;
      changed = true;
    }
  }
  return changed;
}

bool Membership::AddMember(const MemberInfo& info) {
  if (!IsValidMember(info)) return false;
  Membership single;  // no ring, epoch 0: the ring side of the merge is ours
  single.members_.emplace(info.id, info);
  return Merge(single);
}

void Membership::SetRing(Ring ring, uint64_t epoch) {
  ring_ = std::move(ring);
  epoch_ = epoch;
  digest_ = RingDigest(ring_);
}

bool Membership::operator==(const Membership& other) const {
  return epoch_ == other.epoch_ && digest_ == other.digest_ && members_ == other.members_ &&
         removed_ == other.removed_ && ready_ == other.ready_ &&
         ring_.members() == other.ring_.members() &&
         ring_.partition_count() == other.ring_.partition_count() &&
         OwnerIndexes(ring_) == OwnerIndexes(other.ring_);
}

std::string Membership::Encode() const {
  std::string out;
  out.push_back(static_cast<char>(kEncodingVersion));
  storage::PutVarint64(&out, epoch_);
  storage::PutVarint64(&out, members_.size());
  std::map<std::string_view, uint64_t> index;
  for (const auto& [id, info] : members_) {
    index.emplace(id, index.size());
    out += id;
    storage::PutVarint64(&out, info.host.size());
    out += info.host;
    storage::PutVarint64(&out, static_cast<uint64_t>(info.port));
    storage::PutVarint64(&out, static_cast<uint64_t>(info.cport));
    storage::PutVarint64(&out, info.incarnation);
    storage::PutVarint64(&out, info.leaving ? kFlagLeaving : 0);
  }
  storage::PutVarint64(&out, removed_.size());
  for (const NodeId& id : removed_) out += id;
  // Owners are written as indexes into the member list just written (the
  // ring's members are a subset of it).
  storage::PutVarint64(&out, ring_.empty() ? 0 : ring_.partition_count());
  if (!ring_.empty()) {
    for (uint32_t p = 0; p < ring_.partition_count(); ++p) {
      storage::PutVarint64(&out, index.at(ring_.Owner(p)));
    }
  }
  storage::PutVarint64(&out, ready_.size());
  for (const auto& [id, row] : ready_) {
    storage::PutVarint64(&out, index.at(id));
    storage::PutVarint64(&out, row.version);
    out += row.bits;
    out += row.releasing.empty() ? std::string(row.bits.size(), '\0') : row.releasing;
  }
  PutFixed64(&out, XXH3_64bits(out.data(), out.size()));
  return out;
}

Result<Membership> Membership::Decode(std::string_view bytes) {
  if (bytes.size() < 1 + kChecksumLength) return Corrupt("too short");
  std::string_view in = bytes.substr(0, bytes.size() - kChecksumLength);
  if (DecodeFixed64(bytes.data() + in.size()) != XXH3_64bits(in.data(), in.size())) {
    return Corrupt("checksum mismatch");
  }
  const uint8_t version = static_cast<uint8_t>(in[0]);
  if (version != kEncodingVersion && version != kEncodingVersionNoReleasing &&
      version != kEncodingVersionNoRows) {
    return Corrupt("unknown version");
  }
  const bool v2 = version != kEncodingVersionNoRows;  // flags, removed ids, ready rows
  const bool v3 = version == kEncodingVersion;        // releasing bits
  in.remove_prefix(1);

  uint64_t epoch = 0;
  if (!storage::GetVarint64(&in, &epoch) || epoch == 0 || epoch > kMaxEpoch) {
    return Corrupt("bad epoch");
  }
  uint64_t count = 0;
  if (!storage::GetVarint64(&in, &count) || count == 0 || count > in.size() / kMinMemberBytes) {
    return Corrupt("bad member count");
  }

  Membership m;
  std::vector<NodeId> ids;
  ids.reserve(count);
  std::vector<NodeId> active;
  for (uint64_t i = 0; i < count; ++i) {
    MemberInfo info;
    if (in.size() < storage::kNodeIdHexLength) return Corrupt("truncated member");
    info.id.assign(in.substr(0, storage::kNodeIdHexLength));
    in.remove_prefix(storage::kNodeIdHexLength);
    uint64_t host_len = 0, port = 0, cport = 0, flags = 0;
    if (!storage::GetVarint64(&in, &host_len) || host_len > kMaxHostLength ||
        host_len > in.size()) {
      return Corrupt("bad host");
    }
    info.host.assign(in.substr(0, host_len));
    in.remove_prefix(host_len);
    if (!storage::GetVarint64(&in, &port) || port > kMaxPort ||
        !storage::GetVarint64(&in, &cport) || cport > kMaxPort ||
        !storage::GetVarint64(&in, &info.incarnation) ||
        (v2 && (!storage::GetVarint64(&in, &flags) || (flags & ~kFlagLeaving) != 0))) {
      return Corrupt("bad member fields");
    }
    info.port = static_cast<int>(port);
    info.cport = static_cast<int>(cport);
    info.leaving = (flags & kFlagLeaving) != 0;
    if (!IsValidMember(info)) return Corrupt("invalid member");
    if (!ids.empty() && !(ids.back() < info.id)) return Corrupt("members not in id order");
    ids.push_back(info.id);
    if (!info.leaving) active.push_back(info.id);
    m.members_.emplace_hint(m.members_.end(), ids.back(), std::move(info));
  }
  if (active.empty()) active = ids;

  if (v2) {
    uint64_t removed = 0;
    if (!storage::GetVarint64(&in, &removed) || removed > in.size() / storage::kNodeIdHexLength) {
      return Corrupt("bad removed count");
    }
    for (uint64_t i = 0; i < removed; ++i) {
      NodeId id(in.substr(0, storage::kNodeIdHexLength));
      in.remove_prefix(storage::kNodeIdHexLength);
      if (!storage::IsValidNodeId(id)) return Corrupt("invalid removed id");
      if (!m.removed_.empty() && !(*m.removed_.rbegin() < id)) {
        return Corrupt("removed ids not in order");
      }
      if (m.members_.contains(id)) return Corrupt("a removed id is a member");
      m.removed_.insert(m.removed_.end(), std::move(id));
    }
  }

  uint64_t partitions = 0;
  if (!storage::GetVarint64(&in, &partitions) || partitions == 0 || partitions > kMaxPartitions ||
      partitions > in.size()) {
    return Corrupt("bad partition count");
  }
  std::vector<NodeId> owners;
  owners.reserve(partitions);
  std::map<std::string_view, uint64_t> owned;
  for (const NodeId& id : active) owned.emplace(id, 0);
  for (uint64_t p = 0; p < partitions; ++p) {
    uint64_t owner = 0;
    if (!storage::GetVarint64(&in, &owner) || owner >= count) return Corrupt("bad owner");
    auto it = owned.find(ids[owner]);
    if (it == owned.end()) return Corrupt("a leaving member owns a partition");
    ++it->second;
    owners.push_back(ids[owner]);
  }
  if (v2) {
    uint64_t rows = 0;
    const size_t row_bytes = PartitionBitmapBytes(static_cast<uint32_t>(partitions));
    if (!storage::GetVarint64(&in, &rows) || rows > count) return Corrupt("bad ready row count");
    uint64_t last = 0;
    for (uint64_t i = 0; i < rows; ++i) {
      uint64_t member = 0;
      ReadyRow row;
      if (!storage::GetVarint64(&in, &member) || member >= count || (i > 0 && member <= last) ||
          !storage::GetVarint64(&in, &row.version) || row.version > kMaxEpoch ||
          in.size() < (v3 ? 2 : 1) * row_bytes) {
        return Corrupt("bad ready row");
      }
      last = member;
      row.bits.assign(in.substr(0, row_bytes));
      in.remove_prefix(row_bytes);
      if (v3) {
        std::string releasing(in.substr(0, row_bytes));
        in.remove_prefix(row_bytes);
        bool any = false;
        for (size_t b = 0; b < row_bytes; ++b) {
          if ((releasing[b] & ~row.bits[b]) != 0) return Corrupt("releasing bits not held");
          any = any || releasing[b] != 0;
        }
        if (any) row.releasing = std::move(releasing);
      }
      m.ready_.emplace(ids[member], std::move(row));
    }
  }
  if (!in.empty()) return Corrupt("trailing bytes");
  // Every ring Build and Rebalance make gives each member floor(Q/S) or
  // ceil(Q/S) partitions; a table that does not is not one of ours (and an
  // unbalanced base would make the next Rebalance move far more).
  const uint64_t members = active.size();
  const uint64_t floor_share = partitions / members;
  const uint64_t ceil_share = (partitions + members - 1) / members;
  for (const auto& [id, n] : owned) {
    if (n < floor_share || n > ceil_share) return Corrupt("unbalanced owner table");
  }

  Result<Ring> ring = Ring::FromOwners(owners);
  if (!ring.ok()) return Corrupt(ring.status().message());
  if (ring.value().members() != active) {
    // More members than partitions: some own none, which an owner table
    // cannot say. Each owner holds one partition, so the ring over the full
    // active set keeps the table as it is (checked all the same).
    Ring full = Ring::Rebalance(ring.value(), active);
    if (full.owners() != owners) return Corrupt("owner table does not match the members");
    m.SetRing(std::move(full), epoch);
  } else {
    m.SetRing(std::move(ring).value(), epoch);
  }
  return m;
}

}  // namespace shoal::cluster
