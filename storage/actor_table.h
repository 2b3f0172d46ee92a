#pragma once
// ActorTable: the actors of version vectors, DVV dots and PN-counters are
// node ids (40 lower-case hex characters, storage/node_id.h). In memory they
// are small integers (ActorId) so that clocks stay a few bytes per entry; this
// table maps one to the other. Encodings that leave the node (the append-only
// log, the peer channel, context tokens) always write full node ids, never
// ActorIds, which are meaningful only inside one process.
//
// Ids are never removed: an ActorId stays valid for the life of the table.
// The table has a size limit so that hostile input cannot grow it without
// bound; Intern() fails once it is full.
//
// Owned by whoever owns the store (the Server) and passed by reference. Not
// thread safe.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "storage/status.h"

namespace shoal::storage {

using ActorId = uint32_t;

inline constexpr size_t kNodeIdHexLength = 40;
inline constexpr size_t kNodeIdBinaryLength = 20;

// The pseudo-actor that holds a PN-counter's starting value when a string
// such as "5" becomes a counter (INCR on a string key). Always ActorId 0,
// named by forty zeros; never a coordinator. See storage/pn_counter.h.
inline constexpr ActorId kCounterBaseActor = 0;
inline constexpr std::string_view kCounterBaseNodeId = "0000000000000000000000000000000000000000";

class ActorTable {
 public:
  static constexpr size_t kDefaultMaxActors = size_t{1} << 16;

  // The table starts with kCounterBaseActor interned. max_actors counts it.
  explicit ActorTable(size_t max_actors = kDefaultMaxActors);
  ActorTable(const ActorTable&) = delete;
  ActorTable& operator=(const ActorTable&) = delete;

  // The id of `node_id` (40 lower-case hex characters), interning it if new.
  // kInvalid if node_id is malformed or the table is full.
  Result<ActorId> Intern(std::string_view node_id);
  // Same for a node id in binary form (exactly 20 bytes).
  Result<ActorId> InternBinary(std::string_view binary);
  // InternBinary for a node id a client named (in a context token) that
  // this table does not know yet. Such ids are real actors whose writes have
  // not reached this node (a fallback's stand-in actor, say) or inventions;
  // at most max_client_actors() of them are interned over the table's life,
  // so that hostile tokens cannot fill the room that replication needs.
  // kInvalid past that quota (counted in client_refused()).
  Result<ActorId> InternFromClient(std::string_view binary);

  // The id of a node id already interned, without interning.
  std::optional<ActorId> Lookup(std::string_view node_id) const;
  std::optional<ActorId> LookupBinary(std::string_view binary) const;

  // True if `id` was handed out by this table.
  bool Contains(ActorId id) const { return id < names_.size(); }
  // The node id of `id` (40 hex characters). Precondition: Contains(id).
  // The reference stays valid for the life of the table.
  const std::string& NameOf(ActorId id) const;
  // Appends the 20-byte binary node id of `id` to *out. Precondition:
  // Contains(id).
  void AppendBinary(ActorId id, std::string* out) const;
  // The same 20 bytes, valid for the life of the table.
  std::string_view BinaryOf(ActorId id) const;
  // Node id order (the tie-break of last-writer-wins): true if NameOf(a) <
  // NameOf(b).
  bool NameLess(ActorId a, ActorId b) const { return NameOf(a) < NameOf(b); }

  size_t size() const { return names_.size(); }
  // One eighth of the table.
  size_t max_client_actors() const { return max_actors_ / 8; }
  // Ids InternFromClient added, and those it refused past the quota.
  size_t client_interned() const { return client_interned_; }
  size_t client_refused() const { return client_refused_; }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  size_t max_actors_;
  size_t client_interned_ = 0;
  size_t client_refused_ = 0;
  // names_[id] is the node id of id; a deque so that references stay valid.
  std::deque<std::string> names_;
  std::unordered_map<std::string, ActorId, Hash, std::equal_to<>> ids_;
  // The same in binary form: the log and the peer channel read and write
  // binary ids on every object, so neither side converts per use.
  std::deque<std::string> binaries_;
  std::unordered_map<std::string, ActorId, Hash, std::equal_to<>> binary_ids_;
};

}  // namespace shoal::storage
