#include "storage/actor_table.h"

#include <cassert>

namespace shoal::storage {
namespace {

constexpr char kHex[] = "0123456789abcdef";

bool IsLowerHexId(std::string_view id) {
  if (id.size() != kNodeIdHexLength) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string BinaryToHex(std::string_view binary) {
  std::string hex;
  hex.reserve(2 * binary.size());
  for (char ch : binary) {
    auto b = static_cast<unsigned char>(ch);
    hex.push_back(kHex[b >> 4]);
    hex.push_back(kHex[b & 15]);
  }
  return hex;
}

int HexDigit(char c) {
  return c <= '9' ? c - '0' : c - 'a' + 10;
}

}  // namespace

ActorTable::ActorTable(size_t max_actors) : max_actors_(max_actors < 1 ? 1 : max_actors) {
  names_.emplace_back(kCounterBaseNodeId);
  ids_.emplace(std::string(kCounterBaseNodeId), kCounterBaseActor);
  binaries_.emplace_back(kNodeIdBinaryLength, '\0');
  binary_ids_.emplace(binaries_.back(), kCounterBaseActor);
}

Result<ActorId> ActorTable::Intern(std::string_view node_id) {
  if (auto it = ids_.find(node_id); it != ids_.end()) return it->second;
  if (!IsLowerHexId(node_id)) return Status::Invalid("invalid node id");
  if (names_.size() >= max_actors_) return Status::Invalid("too many node ids");
  auto id = static_cast<ActorId>(names_.size());
  names_.emplace_back(node_id);
  ids_.emplace(std::string(node_id), id);
  std::string binary;
  binary.reserve(kNodeIdBinaryLength);
  for (size_t i = 0; i < kNodeIdHexLength; i += 2) {
    binary.push_back(static_cast<char>((HexDigit(node_id[i]) << 4) | HexDigit(node_id[i + 1])));
  }
  binary_ids_.emplace(binary, id);
  binaries_.push_back(std::move(binary));
  return id;
}

Result<ActorId> ActorTable::InternBinary(std::string_view binary) {
  if (binary.size() != kNodeIdBinaryLength) return Status::Invalid("invalid node id");
  if (auto it = binary_ids_.find(binary); it != binary_ids_.end()) return it->second;
  return Intern(BinaryToHex(binary));
}

Result<ActorId> ActorTable::InternFromClient(std::string_view binary) {
  if (auto it = binary_ids_.find(binary); it != binary_ids_.end()) return it->second;
  if (client_interned_ >= max_client_actors()) {
    ++client_refused_;
    return Status::Invalid("too many node ids named by clients");
  }
  auto id = InternBinary(binary);
  if (id.ok()) ++client_interned_;
  return id;
}

std::optional<ActorId> ActorTable::Lookup(std::string_view node_id) const {
  auto it = ids_.find(node_id);
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

std::optional<ActorId> ActorTable::LookupBinary(std::string_view binary) const {
  if (binary.size() != kNodeIdBinaryLength) return std::nullopt;
  auto it = binary_ids_.find(binary);
  if (it == binary_ids_.end()) return std::nullopt;
  return it->second;
}

const std::string& ActorTable::NameOf(ActorId id) const {
  assert(Contains(id));
  return names_[id];
}

void ActorTable::AppendBinary(ActorId id, std::string* out) const {
  out->append(BinaryOf(id));
}

std::string_view ActorTable::BinaryOf(ActorId id) const {
  assert(Contains(id));
  return binaries_[id];
}

}  // namespace shoal::storage
