#include "cluster/membership.h"

#include <xxhash.h>

#include <algorithm>
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

constexpr uint8_t kEncodingVersion = 1;
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
  return std::tie(a.incarnation, a.host, a.port, a.cport) >
         std::tie(b.incarnation, b.host, b.port, b.cport);
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
  if (it != members_.end()) it->second = self;
}

bool Membership::Merge(const Membership& other) {
  bool changed = false;
  for (const auto& [id, theirs] : other.members_) {
    if (!IsValidMember(theirs) || theirs.id != id) continue;
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
  const Ring& base = theirs_is_base ? other.ring_ : ring_;
  std::vector<NodeId> ids;
  ids.reserve(members_.size());
  for (const auto& entry : members_) ids.push_back(entry.first);

  if (base.members() == ids) {
    if (theirs_is_base) {
      ring_ = other.ring_;
      epoch_ = other.epoch_;
      digest_ = other.digest_;
      changed = true;
    }
    return changed;
  }
  const uint64_t top = std::max(epoch_, other.epoch_);
  SetRing(Ring::Rebalance(base, std::move(ids)), top >= kMaxEpoch ? kMaxEpoch : top + 1);
  return true;
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
         ring_.members() == other.ring_.members() &&
         ring_.partition_count() == other.ring_.partition_count() &&
         OwnerIndexes(ring_) == OwnerIndexes(other.ring_);
}

std::string Membership::Encode() const {
  std::string out;
  out.push_back(static_cast<char>(kEncodingVersion));
  storage::PutVarint64(&out, epoch_);
  storage::PutVarint64(&out, members_.size());
  for (const auto& [id, info] : members_) {
    out += id;
    storage::PutVarint64(&out, info.host.size());
    out += info.host;
    storage::PutVarint64(&out, static_cast<uint64_t>(info.port));
    storage::PutVarint64(&out, static_cast<uint64_t>(info.cport));
    storage::PutVarint64(&out, info.incarnation);
  }
  // The ring's members are the member set (the invariant), so indexes into
  // ring.members() are indexes into the member list just written.
  storage::PutVarint64(&out, ring_.empty() ? 0 : ring_.partition_count());
  for (uint32_t owner : OwnerIndexes(ring_)) storage::PutVarint64(&out, owner);
  PutFixed64(&out, XXH3_64bits(out.data(), out.size()));
  return out;
}

Result<Membership> Membership::Decode(std::string_view bytes) {
  if (bytes.size() < 1 + kChecksumLength) return Corrupt("too short");
  std::string_view in = bytes.substr(0, bytes.size() - kChecksumLength);
  if (DecodeFixed64(bytes.data() + in.size()) != XXH3_64bits(in.data(), in.size())) {
    return Corrupt("checksum mismatch");
  }
  if (static_cast<uint8_t>(in[0]) != kEncodingVersion) return Corrupt("unknown version");
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
  for (uint64_t i = 0; i < count; ++i) {
    MemberInfo info;
    if (in.size() < storage::kNodeIdHexLength) return Corrupt("truncated member");
    info.id.assign(in.substr(0, storage::kNodeIdHexLength));
    in.remove_prefix(storage::kNodeIdHexLength);
    uint64_t host_len = 0, port = 0, cport = 0;
    if (!storage::GetVarint64(&in, &host_len) || host_len > kMaxHostLength ||
        host_len > in.size()) {
      return Corrupt("bad host");
    }
    info.host.assign(in.substr(0, host_len));
    in.remove_prefix(host_len);
    if (!storage::GetVarint64(&in, &port) || port > kMaxPort ||
        !storage::GetVarint64(&in, &cport) || cport > kMaxPort ||
        !storage::GetVarint64(&in, &info.incarnation)) {
      return Corrupt("bad member fields");
    }
    info.port = static_cast<int>(port);
    info.cport = static_cast<int>(cport);
    if (!IsValidMember(info)) return Corrupt("invalid member");
    if (!ids.empty() && !(ids.back() < info.id)) return Corrupt("members not in id order");
    ids.push_back(info.id);
    m.members_.emplace_hint(m.members_.end(), ids.back(), std::move(info));
  }

  uint64_t partitions = 0;
  if (!storage::GetVarint64(&in, &partitions) || partitions == 0 || partitions > kMaxPartitions ||
      partitions > in.size()) {
    return Corrupt("bad partition count");
  }
  std::vector<NodeId> owners;
  owners.reserve(partitions);
  std::vector<uint64_t> owned(count, 0);
  for (uint64_t p = 0; p < partitions; ++p) {
    uint64_t owner = 0;
    if (!storage::GetVarint64(&in, &owner) || owner >= count) return Corrupt("bad owner");
    ++owned[owner];
    owners.push_back(ids[owner]);
  }
  if (!in.empty()) return Corrupt("trailing bytes");
  // Every ring Build and Rebalance make gives each member floor(Q/S) or
  // ceil(Q/S) partitions; a table that does not is not one of ours (and an
  // unbalanced base would make the next Rebalance move far more).
  const uint64_t floor_share = partitions / count;
  const uint64_t ceil_share = (partitions + count - 1) / count;
  for (uint64_t n : owned) {
    if (n < floor_share || n > ceil_share) return Corrupt("unbalanced owner table");
  }

  Result<Ring> ring = Ring::FromOwners(owners);
  if (!ring.ok()) return Corrupt(ring.status().message());
  if (ring.value().members() != ids) {
    // More members than partitions: some own none, which an owner table
    // cannot say. Each owner holds one partition, so the ring over the full
    // member set keeps the table as it is (checked all the same).
    Ring full = Ring::Rebalance(ring.value(), ids);
    if (full.owners() != owners) return Corrupt("owner table does not match the members");
    m.SetRing(std::move(full), epoch);
  } else {
    m.SetRing(std::move(ring).value(), epoch);
  }
  return m;
}

}  // namespace shoal::cluster
