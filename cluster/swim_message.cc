#include "cluster/swim_message.h"

#include <utility>

#include "storage/node_id.h"
#include "storage/varint.h"

namespace shoal::cluster {
namespace {

constexpr uint8_t kVersion = 1;
constexpr size_t kIdLength = 40;

bool HasTarget(SwimType type) {
  return type == SwimType::kPing || type == SwimType::kPingReq;
}

storage::Status Bad(const char* what) {
  return storage::Status::Corruption(std::string("swim message: ") + what);
}

bool GetByte(std::string_view* in, uint8_t* v) {
  if (in->empty()) return false;
  *v = static_cast<uint8_t>((*in)[0]);
  in->remove_prefix(1);
  return true;
}

bool GetId(std::string_view* in, NodeId* id) {
  if (in->size() < kIdLength) return false;
  std::string candidate(in->substr(0, kIdLength));
  if (!storage::IsValidNodeId(candidate)) return false;
  in->remove_prefix(kIdLength);
  *id = std::move(candidate);
  return true;
}

// A varint in its shortest form only, so that every message has exactly one
// encoding (a re-encoded message equals the bytes received).
bool GetVarint(std::string_view* in, uint64_t* v) {
  const size_t before = in->size();
  if (!storage::GetVarint64(in, v)) return false;
  const size_t used = before - in->size();
  return used == 1 || ((*v >> (7 * (used - 1))) != 0);
}

}  // namespace

std::string_view SwimTypeName(SwimType type) {
  switch (type) {
    case SwimType::kPing:
      return "ping";
    case SwimType::kAck:
      return "ack";
    case SwimType::kPingReq:
      return "ping-req";
    case SwimType::kNack:
      return "nack";
    case SwimType::kGossip:
      return "gossip";
  }
  return "unknown";
}

std::string EncodeSwimMessage(const SwimMessage& message) {
  std::string out;
  out.reserve(16 + kIdLength + message.updates.size() * (2 * kIdLength + 12));
  out.push_back(static_cast<char>(kVersion));
  out.push_back(static_cast<char>(message.type));
  storage::PutVarint64(&out, message.seq);
  storage::PutVarint64(&out, message.sender_incarnation);
  if (HasTarget(message.type)) {
    out.push_back(1);
    out.append(message.target);
  } else {
    out.push_back(0);
  }
  storage::PutVarint64(&out, message.updates.size());
  for (const SwimUpdate& u : message.updates) {
    out.append(u.node);
    storage::PutVarint64(&out, u.incarnation);
    out.push_back(static_cast<char>(u.state));
    if (u.state == MemberState::kSuspect) out.append(u.accuser);
  }
  return out;
}

storage::Result<SwimMessage> DecodeSwimMessage(std::string_view in) {
  SwimMessage m;
  uint8_t version = 0;
  uint8_t type = 0;
  if (!GetByte(&in, &version) || version != kVersion) return Bad("bad version");
  if (!GetByte(&in, &type) || type < static_cast<uint8_t>(SwimType::kPing) ||
      type > static_cast<uint8_t>(SwimType::kGossip)) {
    return Bad("bad type");
  }
  m.type = static_cast<SwimType>(type);
  if (!GetVarint(&in, &m.seq)) return Bad("bad seq");
  if (!GetVarint(&in, &m.sender_incarnation) || m.sender_incarnation > kMaxIncarnation) {
    return Bad("bad sender incarnation");
  }
  uint8_t has_target = 0;
  if (!GetByte(&in, &has_target) || has_target > 1) return Bad("bad target flag");
  if ((has_target == 1) != HasTarget(m.type)) return Bad("target does not match type");
  if (has_target == 1 && !GetId(&in, &m.target)) return Bad("bad target id");
  uint64_t count = 0;
  if (!GetVarint(&in, &count) || count > kMaxUpdates) return Bad("bad update count");
  // Each update takes at least an id, a one-byte varint and a state byte.
  if (count * (kIdLength + 2) > in.size()) return Bad("update count past the end");
  m.updates.resize(count);
  for (SwimUpdate& u : m.updates) {
    uint8_t state = 0;
    if (!GetId(&in, &u.node)) return Bad("bad update id");
    if (!GetVarint(&in, &u.incarnation) || u.incarnation > kMaxIncarnation) {
      return Bad("bad update incarnation");
    }
    if (!GetByte(&in, &state) || state > static_cast<uint8_t>(MemberState::kDead)) {
      return Bad("bad update state");
    }
    u.state = static_cast<MemberState>(state);
    if (u.state == MemberState::kSuspect && !GetId(&in, &u.accuser)) {
      return Bad("bad accuser id");
    }
  }
  if (!in.empty()) return Bad("trailing bytes");
  return m;
}

}  // namespace shoal::cluster
