// The byte encodings of Object (declared in storage/object.h).
//
// Layout (all integers are varints, storage/varint.h; "actor" is a varint
// ActorId in the local form and 20 raw bytes of node id in the node-id form):
//
//   flags: 1 byte
//     bit 0  kSingle: exactly one clock entry and one sibling whose dot is
//            (that entry's actor, that entry's counter)
//     bit 1  kNodeIds: the node-id form
//     bit 2-3  single form only: the sibling's VersionKind
//     bit 4  single form only: the sibling has an expiry
//     bit 5-7  zero (room for future formats)
//   single form:  actor, counter, timestamp, [expire], payload
//     payload: kBytes: the rest of the input, no length (this is what makes
//              the common case cheap and PeekSingleValue() allocation-free);
//              kCounter: a counter (must end the input); kTombstone: nothing;
//              container: the rest of the input (storage/container_codec.h).
//   general form: n_entries, n_entries x (actor, counter),
//                 n_siblings, n_siblings x sibling
//     sibling: entry index, counter gap (entry counter - dot counter),
//              tag byte (bits 0-1 VersionKind, bit 2 has expiry, rest zero),
//              timestamp, [expire], payload
//     payload: kBytes: length, bytes; kCounter: a counter; kTombstone: nothing;
//              container: length, container payload.
//   kind on the wire: 0 bytes, 1 counter, 2 tombstone, 3 container (a hash,
//   set or sorted set: the container payload starts with its type).
//   counter: n, n x (actor, p, n)
//
// The node-id form is canonical: clock entries, siblings (by entry, then
// counter) and counter entries are written in node-id order, so equal
// objects have equal bytes on every node (digests compare them).
//
// Timestamps and expiries are int64 bit patterns written as uint64 varints,
// so every int64 round-trips.

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "storage/container_codec.h"
#include "storage/object.h"
#include "storage/varint.h"

namespace shoal::storage {
namespace {

constexpr uint8_t kFlagSingle = 1 << 0;
constexpr uint8_t kFlagNodeIds = 1 << 1;
constexpr int kSingleKindShift = 2;
constexpr uint8_t kSingleKindMask = 3 << kSingleKindShift;
constexpr uint8_t kSingleHasExpire = 1 << 4;
constexpr uint8_t kReservedFlags = 0xe0;

constexpr uint8_t kTagKindMask = 3;
constexpr uint8_t kWireContainer = 3;  // the wire kind of kHash, kSet and kZset

uint8_t WireKind(VersionKind k) {
  return k >= VersionKind::kHash ? kWireContainer : static_cast<uint8_t>(k);
}
constexpr uint8_t kTagHasExpire = 1 << 2;
constexpr uint8_t kTagReserved = 0xf8;

class Writer {
 public:
  Writer(std::string* out, const ActorTable* node_ids) : out_(out), node_ids_(node_ids) {}

  void Byte(uint8_t b) { out_->push_back(static_cast<char>(b)); }
  void Varint(uint64_t v) { PutVarint64(out_, v); }
  void Int64(int64_t v) { PutVarint64(out_, static_cast<uint64_t>(v)); }
  void Actor(ActorId a) {
    if (node_ids_ != nullptr) {
      node_ids_->AppendBinary(a, out_);
    } else {
      Varint(a);
    }
  }
  void Counter(const PnCounter& c) {
    Varint(c.entries().size());
    if (node_ids_ == nullptr) {
      for (const PnCounter::Entry& e : c.entries()) {
        Actor(e.actor);
        Varint(e.p);
        Varint(e.n);
      }
      return;
    }
    // Node-id form: in node-id order, so every node writes the same bytes.
    std::vector<std::pair<std::string, const PnCounter::Entry*>> sorted;
    sorted.reserve(c.entries().size());
    for (const PnCounter::Entry& e : c.entries()) sorted.emplace_back(BinaryId(e.actor), &e);
    std::sort(sorted.begin(), sorted.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [id, e] : sorted) {
      Raw(id);
      Varint(e->p);
      Varint(e->n);
    }
  }
  std::string BinaryId(ActorId a) const {
    std::string id;
    node_ids_->AppendBinary(a, &id);
    return id;
  }
  void Raw(std::string_view s) { out_->append(s); }

 private:
  std::string* out_;
  const ActorTable* node_ids_;  // node-id form if set
};

void EncodeTo(const Object& obj, const ActorTable* node_ids, std::string* out) {
  Writer w(out, node_ids);
  const uint8_t form = node_ids != nullptr ? kFlagNodeIds : 0;
  const auto& entries = obj.Context().entries();
  const auto& sibs = obj.siblings();
  if (entries.size() == 1 && sibs.size() == 1 && sibs[0].dot.actor == entries[0].actor &&
      sibs[0].dot.counter == entries[0].counter) {
    const Version& v = sibs[0].value;
    uint8_t flags = kFlagSingle | form | static_cast<uint8_t>(WireKind(v.kind) << kSingleKindShift);
    if (v.expire_at_ms != 0) flags |= kSingleHasExpire;
    out->reserve(out->size() + 24 + v.bytes.size());
    w.Byte(flags);
    w.Actor(entries[0].actor);
    w.Varint(entries[0].counter);
    w.Int64(v.timestamp_ms);
    if (v.expire_at_ms != 0) w.Int64(v.expire_at_ms);
    if (v.kind == VersionKind::kBytes) w.Raw(v.bytes);
    if (v.kind == VersionKind::kCounter) w.Counter(v.counter);
    if (v.IsContainer()) EncodeContainer(v, node_ids, out);
    return;
  }
  w.Byte(form);
  w.Varint(entries.size());
  // The local form follows the local actor order. The node-id form is
  // canonical (entries and siblings in node-id order) so that equal objects
  // have equal bytes on every node, whatever order each met the actors in:
  // digests (read repair's "=" reply, anti-entropy) compare those bytes.
  std::vector<size_t> order(entries.size());  // written position -> entry index
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::vector<std::string> ids;
  if (node_ids != nullptr && entries.size() > 1) {
    ids.reserve(entries.size());
    for (const VersionVector::Entry& e : entries) ids.push_back(w.BinaryId(e.actor));
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ids[a] < ids[b]; });
  }
  std::vector<size_t> position(entries.size());  // entry index -> written position
  for (size_t i = 0; i < order.size(); ++i) position[order[i]] = i;
  for (size_t i : order) {
    w.Actor(entries[i].actor);
    w.Varint(entries[i].counter);
  }
  // Siblings are sorted by dot and entries by actor: find each one's entry.
  std::vector<std::pair<size_t, const Object::Sibling*>> written;  // (entry index, sibling)
  written.reserve(sibs.size());
  for (const Object::Sibling& s : sibs) {
    size_t index = 0;
    while (entries[index].actor != s.dot.actor) ++index;
    written.emplace_back(index, &s);
  }
  if (node_ids != nullptr) {
    std::stable_sort(written.begin(), written.end(), [&](const auto& a, const auto& b) {
      if (position[a.first] != position[b.first]) return position[a.first] < position[b.first];
      return a.second->dot.counter < b.second->dot.counter;
    });
  }
  w.Varint(sibs.size());
  for (const auto& [index, sib] : written) {
    const Version& v = sib->value;
    w.Varint(position[index]);
    w.Varint(entries[index].counter - sib->dot.counter);
    w.Byte(static_cast<uint8_t>(WireKind(v.kind) | (v.expire_at_ms != 0 ? kTagHasExpire : 0)));
    w.Int64(v.timestamp_ms);
    if (v.expire_at_ms != 0) w.Int64(v.expire_at_ms);
    if (v.kind == VersionKind::kBytes) {
      w.Varint(v.bytes.size());
      w.Raw(v.bytes);
    } else if (v.kind == VersionKind::kCounter) {
      w.Counter(v.counter);
    } else if (v.IsContainer()) {
      std::string payload;
      EncodeContainer(v, node_ids, &payload);
      w.Varint(payload.size());
      w.Raw(payload);
    }
  }
}

Status Bad(const char* why) {
  return Status::Corruption(std::string("bad object encoding: ") + why);
}

// Reads one encoding. Exactly one of `local` (local form: ActorIds must be
// in the table) and `intern` (node-id form) is set.
class Reader {
 public:
  Reader(std::string_view in, const ActorTable* local, ActorTable* intern)
      : in_(in), local_(local), intern_(intern) {}

  std::string_view rest() const { return in_; }
  bool Byte(uint8_t* b) {
    if (in_.empty()) return false;
    *b = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool Varint(uint64_t* v) { return GetVarint64(&in_, v); }
  // The next `len` bytes, if there are that many.
  bool Take(uint64_t len, std::string_view* out) {
    if (len > in_.size()) return false;
    *out = in_.substr(0, len);
    in_.remove_prefix(len);
    return true;
  }
  bool Int64(int64_t* v) {
    uint64_t u = 0;
    if (!GetVarint64(&in_, &u)) return false;
    *v = static_cast<int64_t>(u);
    return true;
  }
  // A count of items each at least `min_bytes` long: no more than fit.
  bool Count(size_t min_bytes, uint64_t* n) { return Varint(n) && *n <= in_.size() / min_bytes; }
  bool Counter(uint64_t* c) { return Varint(c) && *c >= 1 && *c <= kMaxCounter; }
  size_t actor_bytes() const { return intern_ != nullptr ? kNodeIdBinaryLength : 1; }
  bool Actor(ActorId* a) {
    if (intern_ != nullptr) {
      if (in_.size() < kNodeIdBinaryLength) return false;
      Result<ActorId> r = intern_->InternBinary(in_.substr(0, kNodeIdBinaryLength));
      if (!r.ok()) return false;
      in_.remove_prefix(kNodeIdBinaryLength);
      *a = r.value();
      return true;
    }
    uint64_t v = 0;
    if (!Varint(&v) || v > UINT32_MAX || !local_->Contains(static_cast<ActorId>(v))) return false;
    *a = static_cast<ActorId>(v);
    return true;
  }
  Result<PnCounter> ReadCounter() {
    uint64_t n = 0;
    if (!Count(actor_bytes() + 2, &n)) return Bad("counter entries");
    std::vector<PnCounter::Entry> entries(n);
    for (PnCounter::Entry& e : entries) {
      if (!Actor(&e.actor) || !Varint(&e.p) || !Varint(&e.n)) return Bad("counter entry");
    }
    Result<PnCounter> c = PnCounter::FromEntries(std::move(entries));
    if (!c.ok()) return Bad("counter repeats an actor");
    return c;
  }

 private:
  std::string_view in_;
  const ActorTable* local_;
  ActorTable* intern_;
};

// `values`: false leaves bytes values empty (DecodeWithoutValues).
Result<Object> DecodeFrom(std::string_view encoded, const ActorTable* local, ActorTable* intern,
                          bool values = true) {
  Reader r(encoded, local, intern);
  uint8_t flags = 0;
  if (!r.Byte(&flags)) return Bad("empty");
  if ((flags & kReservedFlags) != 0) return Bad("unknown flags");
  if (((flags & kFlagNodeIds) != 0) != (intern != nullptr)) return Bad("wrong actor form");

  if ((flags & kFlagSingle) != 0) {
    Version v;
    const uint8_t kind = (flags & kSingleKindMask) >> kSingleKindShift;
    const bool container = kind == kWireContainer;
    if (!container) v.kind = static_cast<VersionKind>(kind);
    Dot dot;
    if (!r.Actor(&dot.actor) || !r.Counter(&dot.counter)) return Bad("clock");
    if (!r.Int64(&v.timestamp_ms)) return Bad("timestamp");
    if ((flags & kSingleHasExpire) != 0 && (!r.Int64(&v.expire_at_ms) || v.expire_at_ms == 0)) {
      return Bad("expiry");
    }
    if (container) {
      Status st = DecodeContainer(r.rest(), local, intern, &v);
      if (!st.ok()) return st;
    } else if (v.kind == VersionKind::kBytes) {
      if (values) v.bytes.assign(r.rest());
    } else if (v.kind == VersionKind::kCounter) {
      Result<PnCounter> c = r.ReadCounter();
      if (!c.ok()) return c.status();
      v.counter = std::move(c).value();
      if (!r.rest().empty()) return Bad("trailing bytes");
    } else if (!r.rest().empty()) {
      return Bad("trailing bytes");
    }
    Result<VersionVector> clock = VersionVector::FromEntries({{dot.actor, dot.counter}});
    if (!clock.ok()) return Bad("clock");
    std::vector<Object::Sibling> sibs;
    sibs.push_back(Object::Sibling{dot, std::move(v)});
    Result<Object::Set> set = Object::Set::FromParts(std::move(clock).value(), std::move(sibs));
    if (!set.ok()) return Bad("siblings");
    return Object(std::move(set).value());
  }

  if ((flags & (kSingleKindMask | kSingleHasExpire)) != 0) return Bad("unknown flags");
  uint64_t n_entries = 0;
  if (!r.Count(r.actor_bytes() + 1, &n_entries)) return Bad("clock size");
  std::vector<VersionVector::Entry> entries(n_entries);
  for (VersionVector::Entry& e : entries) {
    if (!r.Actor(&e.actor) || !r.Counter(&e.counter)) return Bad("clock entry");
  }
  uint64_t n_sibs = 0;
  if (!r.Count(4, &n_sibs)) return Bad("sibling count");
  std::vector<Object::Sibling> sibs(n_sibs);
  for (Object::Sibling& s : sibs) {
    uint64_t index = 0, gap = 0;
    uint8_t tag = 0;
    if (!r.Varint(&index) || index >= entries.size()) return Bad("sibling actor");
    if (!r.Varint(&gap) || gap >= entries[index].counter) return Bad("sibling counter");
    s.dot = Dot{entries[index].actor, entries[index].counter - gap};
    if (!r.Byte(&tag) || (tag & kTagReserved) != 0) return Bad("sibling tag");
    const bool container = (tag & kTagKindMask) == kWireContainer;
    Version& v = s.value;
    if (!container) v.kind = static_cast<VersionKind>(tag & kTagKindMask);
    if (!r.Int64(&v.timestamp_ms)) return Bad("timestamp");
    if ((tag & kTagHasExpire) != 0 && (!r.Int64(&v.expire_at_ms) || v.expire_at_ms == 0)) {
      return Bad("expiry");
    }
    if (container) {
      uint64_t len = 0;
      std::string_view payload;
      if (!r.Varint(&len) || !r.Take(len, &payload)) return Bad("container length");
      Status st = DecodeContainer(payload, local, intern, &v);
      if (!st.ok()) return st;
    } else if (v.kind == VersionKind::kBytes) {
      uint64_t len = 0;
      std::string_view value;
      if (!r.Varint(&len) || !r.Take(len, &value)) return Bad("value length");
      if (values) v.bytes.assign(value);
    } else if (v.kind == VersionKind::kCounter) {
      Result<PnCounter> c = r.ReadCounter();
      if (!c.ok()) return c.status();
      v.counter = std::move(c).value();
    }
  }
  if (!r.rest().empty()) return Bad("trailing bytes");
  Result<VersionVector> clock = VersionVector::FromEntries(std::move(entries));
  if (!clock.ok()) return Bad("clock repeats an actor");
  Result<Object::Set> set = Object::Set::FromParts(std::move(clock).value(), std::move(sibs));
  if (!set.ok()) return Bad("siblings repeat a dot");
  return Object(std::move(set).value());
}

}  // namespace

std::string Object::Encode() const {
  std::string out;
  EncodeTo(*this, nullptr, &out);
  return out;
}

std::string Object::EncodeMovingValue(size_t* value_size) {
  *value_size = 0;
  const auto& entries = Context().entries();
  const auto& sibs = siblings();
  if (entries.size() != 1 || sibs.size() != 1 || sibs[0].value.kind != VersionKind::kBytes ||
      sibs[0].dot.actor != entries[0].actor || sibs[0].dot.counter != entries[0].counter) {
    return Encode();
  }
  // The single form: EncodeTo writes the header, then the raw value. This
  // object is not const here, so taking the payload out of its one sibling
  // is well defined; the set's invariants (dots, order) do not involve it.
  std::string value = std::move(const_cast<std::string&>(sibs[0].value.bytes));
  const_cast<std::string&>(sibs[0].value.bytes).clear();
  std::string head;
  EncodeTo(*this, nullptr, &head);
  *value_size = value.size();
  value.insert(0, head);  // a memmove within the buffer when it has room
  return value;
}

Result<Object> Object::Decode(std::string_view encoded, const ActorTable& actors) {
  return DecodeFrom(encoded, &actors, nullptr);
}

Result<Object> Object::DecodeWithoutValues(std::string_view encoded, const ActorTable& actors) {
  return DecodeFrom(encoded, &actors, nullptr, /*values=*/false);
}

void Object::EncodeWithNodeIds(const ActorTable& actors, std::string* out) const {
  EncodeTo(*this, &actors, out);
}

Result<Object> Object::DecodeWithNodeIds(std::string_view encoded, ActorTable& actors) {
  return DecodeFrom(encoded, nullptr, &actors);
}

std::optional<std::string_view> Object::PeekSingleValue(std::string_view encoded, int64_t now_ms) {
  if (encoded.empty()) return std::nullopt;
  const auto flags = static_cast<uint8_t>(encoded[0]);
  constexpr uint8_t kBytesKind = static_cast<uint8_t>(VersionKind::kBytes) << kSingleKindShift;
  if ((flags & (kFlagSingle | kFlagNodeIds | kSingleKindMask | kReservedFlags)) !=
      (kFlagSingle | kBytesKind)) {
    return std::nullopt;
  }
  std::string_view in = encoded.substr(1);
  uint64_t skip = 0;
  // actor, counter, timestamp
  if (!GetVarint64(&in, &skip) || !GetVarint64(&in, &skip) || !GetVarint64(&in, &skip)) {
    return std::nullopt;
  }
  if ((flags & kSingleHasExpire) != 0) {
    uint64_t expire = 0;
    if (!GetVarint64(&in, &expire)) return std::nullopt;
    if (static_cast<int64_t>(expire) <= now_ms) return std::nullopt;
  }
  return in;
}

std::optional<std::string_view> Object::PeekContainer(std::string_view encoded, int64_t now_ms) {
  if (encoded.empty()) return std::nullopt;
  const auto flags = static_cast<uint8_t>(encoded[0]);
  constexpr uint8_t kContainerKind = kWireContainer << kSingleKindShift;
  if ((flags & (kFlagSingle | kFlagNodeIds | kSingleKindMask | kReservedFlags)) !=
      (kFlagSingle | kContainerKind)) {
    return std::nullopt;
  }
  std::string_view in = encoded.substr(1);
  uint64_t skip = 0;
  // actor, counter, timestamp
  if (!GetVarint64(&in, &skip) || !GetVarint64(&in, &skip) || !GetVarint64(&in, &skip)) {
    return std::nullopt;
  }
  if ((flags & kSingleHasExpire) != 0) {
    uint64_t expire = 0;
    if (!GetVarint64(&in, &expire)) return std::nullopt;
    if (static_cast<int64_t>(expire) <= now_ms) return std::nullopt;
  }
  return in;
}

bool Object::EncodedIsTombstonesOnly(std::string_view encoded, const ActorTable& actors) {
  if (encoded.empty()) return false;
  const auto flags = static_cast<uint8_t>(encoded[0]);
  if ((flags & kFlagSingle) != 0) {
    const uint8_t kind = (flags & kSingleKindMask) >> kSingleKindShift;
    if (kind != kWireContainer) return kind == static_cast<uint8_t>(VersionKind::kTombstone);
    // One container version: dead iff it has no element (read from its
    // entry count, without decoding the elements).
    if (auto payload = PeekContainer(encoded, INT64_MIN)) {
      if (auto empty = EncodedContainerIsEmpty(*payload)) return *empty;
    }
  }
  auto obj = Decode(encoded, actors);
  return obj.ok() && obj.value().IsTombstonesOnly();
}

}  // namespace shoal::storage
