#pragma once
// The byte encoding of a container version's state (a hash, set or sorted
// set: storage/or_hash.h, or_set.h, or_zset.h) inside Object's encodings
// (storage/object_codec.cc writes it as the payload of a version of wire
// kind 3, "container").
//
// Layout (integers are varints, storage/varint.h; "actor" is a varint
// ActorId in the local form and 20 raw bytes of node id in the node-id form):
//
//   payload: type byte (0 hash, 1 set, 2 sorted set), clock, entries
//   clock:   n, n x (actor, counter)
//   entries: n, n x entry, in bytewise name order (strictly increasing)
//   entry:   head = name length << 1 | several-atoms bit, name bytes,
//            [n_atoms (>= 2) if the bit is set], atoms
//   atom:    dot (clock index, gap = that entry's counter - dot counter), body
//     set:        nothing
//     hash:       tag byte (HashAtomKind, other bits zero), then
//                 kValue: timestamp, length, bytes
//                 kInt:   zigzag total
//                 kFloat: length, total text; length, after text; base
//     sorted set: tag byte (ZsetAtomKind, other bits zero), then
//                 kScore: timestamp, score (8 bytes, IEEE double, little end)
//                 kIncr:  total (8 bytes), after (8 bytes), base
//   base:    0 (none), or clock index + 1 and gap as a dot
// Timestamps are int64 bit patterns as uint64 varints.
//
// Cost: a set member written once costs 1 head byte + its bytes + 1 index
// byte + the gap (1-3 bytes: how many writes of this coordinator went to
// OTHER keys or to this one since: the node's dot counter is shared), so
// about 3-5 bytes over the member; the clock is O(actors).
//
// The node-id form is canonical (clock entries and each entry's atoms in
// node-id order; names are always in bytewise order), so equal states have
// equal bytes on every node. The local form writes atoms in dot order.
//
// Decoders check everything — the type byte, counts against the bytes left,
// name order (no repeats), dots (covered by the clock, not repeated within an
// entry), tags, NaN scores, float totals that do not parse, trailing bytes —
// and return Code::kCorruption; peer input is untrusted.

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "storage/actor_table.h"
#include "storage/object.h"
#include "storage/status.h"

namespace shoal::storage {

// Appends the payload of container version `v` (v.IsContainer()). Local
// form if node_ids is nullptr, else node-id form (actors named by
// node_ids).
void EncodeContainer(const Version& v, const ActorTable* node_ids, std::string* out);
// The same payload for a version holding v's clock and only the entries of
// v's map at `indexes` (ascending, each < the entry count): a delta's
// changed entries, written without copying them.
void EncodeContainerEntries(const Version& v, std::span<const size_t> indexes,
                            const ActorTable* node_ids, std::string* out);

// Decodes a whole payload into v->kind and the state (v's other fields are
// left alone). Exactly one of `local` (local form: ActorIds must be in the
// table) and `intern` (node-id form: node ids are interned) is set.
Status DecodeContainer(std::string_view payload, const ActorTable* local, ActorTable* intern,
                       Version* v);

// A lookup without decoding the whole payload (local form): sets v->kind
// and a state holding the clock and at most one entry, the one named
// `name` (none if absent). Scans the entries in order without allocating
// until it finds the name (or passes it); does not check the entries after
// it. For SISMEMBER, HGET, ZSCORE on a big container:
//   v.set.Contains(m), v.hash.Get(f, actors), v.zset.Score(m, actors).
Status DecodeContainerEntry(std::string_view payload, std::string_view name,
                            const ActorTable& local, Version* v);

// True if a payload (local form) holds no entry (an empty container), read
// from its entry count; nullopt if it does not parse that far.
std::optional<bool> EncodedContainerIsEmpty(std::string_view payload);

}  // namespace shoal::storage
