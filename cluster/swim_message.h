#pragma once
// SwimMessage: one failure-detector message between two nodes (SWIM, Das et
// al. 2002; Lifeguard, Dadgar et al. 2017) and its wire form. The failure
// detector (cluster/failure_detector.h) produces and consumes these; the
// peer channel carries the bytes and names the (authenticated) sender, which
// is therefore not part of the message.
//
// Types:
//   kPing     "are you there?" to `target` (the receiver's own id: a node that
//             is not `target`, e.g. a new node on a reused address, ignores
//             it). Answered by kAck with the same seq.
//   kAck      the answer to a ping; also forwarded by a ping-req relay with
//             the requester's seq.
//   kPingReq  "ping `target` for me" (indirect probe). The relay answers with
//             the target's ack (forwarded) or, if none came in time, kNack.
//   kNack     Lifeguard's negative ack: the relay is alive but the target did
//             not answer it, which tells the requester that its own links
//             work (its local health is fine).
//   kGossip   nothing but piggybacked updates (the extra fan-out each protocol
//             period that makes a rumour reach everyone in O(log n) periods).
// Every message carries its sender's incarnation (first-hand proof that the
// sender is alive at it) and up to kMaxUpdates piggybacked updates.
//
// Wire form (version 1):
//   u8 version | u8 type | varint seq | varint sender incarnation |
//   u8 has_target (0/1) | [40-byte target id] | varint update count |
//   per update: 40-byte node id | varint incarnation | u8 state |
//     [40-byte accuser id, for a suspect only]
// Ping and ping-req have a target, the others none. Incarnations are at most
// kMaxIncarnation; ids are node ids (storage::IsValidNodeId).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/liveness.h"
#include "cluster/ring.h"
#include "storage/status.h"

namespace shoal::cluster {

// Most updates one message may carry (Decode refuses more).
inline constexpr size_t kMaxUpdates = 64;

enum class SwimType : uint8_t { kPing = 1, kAck = 2, kPingReq = 3, kNack = 4, kGossip = 5 };

// A rumour about `node`: its liveness at an incarnation. For a suspect,
// `accuser` names the node whose probe failed (independent accusers confirm
// a suspicion, Lifeguard section 4.2); empty otherwise.
struct SwimUpdate {
  NodeId node;
  uint64_t incarnation = 0;
  MemberState state = MemberState::kAlive;
  NodeId accuser;
  bool operator==(const SwimUpdate&) const = default;
};

struct SwimMessage {
  SwimType type = SwimType::kPing;
  uint64_t seq = 0;
  uint64_t sender_incarnation = 0;
  NodeId target;  // kPing and kPingReq only
  std::vector<SwimUpdate> updates;
  bool operator==(const SwimMessage&) const = default;
};

// "ping", "ack", "ping-req", "nack", "gossip".
std::string_view SwimTypeName(SwimType type);

// The wire form above. Precondition: the message is well formed (what Decode
// accepts); a caller building one by hand checks with Decode in tests.
std::string EncodeSwimMessage(const SwimMessage& message);

// Parses EncodeSwimMessage's form. Checks everything — version, type,
// varint bounds (shortest form only, so an encoding is unique), target
// presence by type, ids, states, incarnations, the update count against
// kMaxUpdates and the bytes left, no trailing bytes — and returns
// Code::kCorruption otherwise. Never reads out of bounds or crashes, whatever
// the bytes (a hostile peer's input).
storage::Result<SwimMessage> DecodeSwimMessage(std::string_view bytes);

}  // namespace shoal::cluster
