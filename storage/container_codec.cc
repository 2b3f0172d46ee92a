#include "storage/container_codec.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <span>
#include <utility>
#include <vector>

#include "storage/redis_number.h"
#include "storage/varint.h"

namespace shoal::storage {
namespace {

enum class Type : uint8_t { kHash = 0, kSet = 1, kZset = 2 };
constexpr uint8_t kSeveral = 1;

Status Bad(const char* why) {
  return Status::Corruption(std::string("bad container encoding: ") + why);
}

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

// --- writing ---------------------------------------------------------------
//
// A payload is written in two passes over the same code (Writer<Sink>): the
// first counts its bytes, the second fills a buffer grown once to that size
// — no reallocation, no per-byte capacity check — so the store's string is
// allocated once, at its size.

// The clock's written order: the local form follows the clock (actor
// order), the node-id form sorts by node id. Clocks of up to kInline
// entries (a few replicas' writers) need no allocation.
class ClockLayout {
 public:
  ClockLayout(const VersionVector& clock, const ActorTable* node_ids)
      : clock_(clock), size_(clock.entries().size()) {
    if (size_ > kInline) {
      heap_.resize(2 * size_);
      order_ = heap_.data();
      position_ = heap_.data() + size_;
    }
    const auto& entries = clock.entries();
    for (size_t i = 0; i < size_; ++i) order_[i] = i;
    if (node_ids != nullptr && size_ > 1) {
      std::sort(order_, order_ + size_, [&](size_t a, size_t b) {
        return node_ids->BinaryOf(entries[a].actor) < node_ids->BinaryOf(entries[b].actor);
      });
    }
    for (size_t i = 0; i < size_; ++i) position_[order_[i]] = i;
  }
  ClockLayout(const ClockLayout&) = delete;
  ClockLayout& operator=(const ClockLayout&) = delete;

  const VersionVector& clock() const { return clock_; }
  // Clock entry indexes in written order.
  std::span<const size_t> order() const { return {order_, size_}; }
  // The index of `actor`'s clock entry (it has one: O3).
  size_t Index(ActorId actor) const {
    const auto& e = clock_.entries();
    auto it =
        std::lower_bound(e.begin(), e.end(), actor,
                         [](const VersionVector::Entry& x, ActorId a) { return x.actor < a; });
    return static_cast<size_t>(it - e.begin());
  }
  // The written position of clock entry `index`.
  size_t Position(size_t index) const { return position_[index]; }

 private:
  static constexpr size_t kInline = 8;
  const VersionVector& clock_;
  size_t size_;
  size_t inline_[2 * kInline];
  std::vector<size_t> heap_;              // when the clock has more entries
  size_t* order_ = inline_;               // written position -> clock entry index
  size_t* position_ = inline_ + kInline;  // clock entry index -> written position
};

// Counts the bytes (first pass).
struct CountSink {
  size_t size = 0;
  void Put(char) { ++size; }
  void Append(const char*, size_t n) { size += n; }
  void Varint(uint64_t v) { size += (static_cast<size_t>(std::bit_width(v | 1)) + 6) / 7; }
};

// Writes into a buffer the first pass sized (second pass).
struct FillSink {
  char* at;
  void Put(char c) { *at++ = c; }
  void Append(const char* s, size_t n) {
    std::memcpy(at, s, n);
    at += n;
  }
  void Varint(uint64_t v) {
    if (v < 0x80) {  // most varints here: lengths, clock positions, gaps
      *at++ = static_cast<char>(v);
      return;
    }
    while (v >= 0x80) {
      *at++ = static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    *at++ = static_cast<char>(v);
  }
};

template <typename Sink>
class Writer {
 public:
  Writer(const ClockLayout& layout, const ActorTable* node_ids, Sink& sink)
      : layout_(layout), node_ids_(node_ids), sink_(sink) {}

  void Byte(uint8_t b) { sink_.Put(static_cast<char>(b)); }
  void Varint(uint64_t v) { sink_.Varint(v); }
  void Int64(int64_t v) { Varint(static_cast<uint64_t>(v)); }
  void Raw(std::string_view s) { sink_.Append(s.data(), s.size()); }
  void Bytes(std::string_view s) {
    Varint(s.size());
    Raw(s);
  }
  void Double(double d) {
    uint64_t bits = std::bit_cast<uint64_t>(d);
    char buf[8];
    for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(bits >> (8 * i));
    sink_.Append(buf, 8);
  }

  void Clock() {
    const auto& entries = layout_.clock().entries();
    Varint(entries.size());
    for (size_t i : layout_.order()) {
      if (node_ids_ != nullptr) {
        Raw(node_ids_->BinaryOf(entries[i].actor));
      } else {
        Varint(entries[i].actor);
      }
      Varint(entries[i].counter);
    }
  }
  // The written position of `actor`'s clock entry (it has one: O3).
  size_t Position(ActorId actor) const { return layout_.Position(layout_.Index(actor)); }
  void DotOf(const Dot& d) {
    const size_t i = layout_.Index(d.actor);
    Varint(layout_.Position(i));
    Varint(layout_.clock().entries()[i].counter - d.counter);
  }
  void OptionalDot(const Dot& d) {
    if (d.counter == 0) {
      Varint(0);
      return;
    }
    const size_t i = layout_.Index(d.actor);
    Varint(layout_.Position(i) + 1);
    Varint(layout_.clock().entries()[i].counter - d.counter);
  }
  bool node_ids() const { return node_ids_ != nullptr; }

 private:
  const ClockLayout& layout_;
  const ActorTable* node_ids_;
  Sink& sink_;
};

template <typename Sink>
void WriteBody(Writer<Sink>&, const SetAtom&) {}

template <typename Sink>
void WriteBody(Writer<Sink>& w, const HashAtom& a) {
  w.Byte(static_cast<uint8_t>(a.kind));
  switch (a.kind) {
    case HashAtomKind::kValue:
      w.Int64(a.timestamp_ms);
      w.Bytes(a.text);
      break;
    case HashAtomKind::kInt:
      w.Varint(ZigZag(a.integer));
      break;
    case HashAtomKind::kFloat:
      w.Bytes(a.text);
      w.Bytes(a.after);
      w.OptionalDot(a.base);
      break;
  }
}

template <typename Sink>
void WriteBody(Writer<Sink>& w, const ZsetAtom& a) {
  w.Byte(static_cast<uint8_t>(a.kind));
  if (a.kind == ZsetAtomKind::kScore) {
    w.Int64(a.timestamp_ms);
    w.Double(a.score);
  } else {
    w.Double(a.score);
    w.Double(a.after);
    w.OptionalDot(a.base);
  }
}

template <typename Atom, typename Sink>
void WriteEntry(const typename OrMap<Atom>::Entry& e, Writer<Sink>& w,
                std::vector<const Atom*>& atoms) {
  const bool several = e.atoms.size() > 1;
  w.Varint((static_cast<uint64_t>(e.name.size()) << 1) | (several ? kSeveral : 0));
  w.Raw(e.name);
  if (several) w.Varint(e.atoms.size());
  if (!w.node_ids() || !several) {
    for (const Atom& a : e.atoms) {
      w.DotOf(a.dot);
      WriteBody(w, a);
    }
    return;
  }
  atoms.clear();
  for (const Atom& a : e.atoms) atoms.push_back(&a);
  std::sort(atoms.begin(), atoms.end(), [&](const Atom* a, const Atom* b) {
    const size_t pa = w.Position(a->dot.actor), pb = w.Position(b->dot.actor);
    if (pa != pb) return pa < pb;
    return a->dot.counter < b->dot.counter;
  });
  for (const Atom* a : atoms) {
    w.DotOf(a->dot);
    WriteBody(w, *a);
  }
}

// The clock, then every entry of `m` or, if `only` is set, the entries at
// those indexes (ascending).
template <typename Atom, typename Sink>
void WriteEntries(const OrMap<Atom>& m, const std::span<const size_t>* only, Writer<Sink>& w,
                  std::vector<const Atom*>& atoms) {
  w.Clock();
  if (only == nullptr) {
    w.Varint(m.size());
    for (const auto& e : m.entries()) WriteEntry<Atom>(e, w, atoms);
    return;
  }
  w.Varint(only->size());
  for (size_t i : *only) WriteEntry<Atom>(m.entries()[i], w, atoms);
}

template <typename Atom>
void WriteMap(const OrMap<Atom>& m, const std::span<const size_t>* only, const ActorTable* node_ids,
              std::string* out) {
  const ClockLayout layout(m.clock(), node_ids);
  std::vector<const Atom*> atoms;  // the node-id form's atom order, per entry
  CountSink count;
  Writer<CountSink> counter(layout, node_ids, count);
  WriteEntries(m, only, counter, atoms);
  const size_t start = out->size();
  out->resize(start + count.size);
  FillSink fill{out->data() + start};
  Writer<FillSink> writer(layout, node_ids, fill);
  WriteEntries(m, only, writer, atoms);
}

// --- reading ---------------------------------------------------------------

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
  bool Int64(int64_t* v) {
    uint64_t u = 0;
    if (!GetVarint64(&in_, &u)) return false;
    *v = static_cast<int64_t>(u);
    return true;
  }
  bool Take(uint64_t len, std::string_view* out) {
    if (len > in_.size()) return false;
    *out = in_.substr(0, len);
    in_.remove_prefix(len);
    return true;
  }
  bool Bytes(std::string_view* out) {
    uint64_t len = 0;
    return Varint(&len) && Take(len, out);
  }
  bool Double(double* d) {
    if (in_.size() < 8) return false;
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits |= uint64_t{static_cast<uint8_t>(in_[i])} << (8 * i);
    in_.remove_prefix(8);
    *d = std::bit_cast<double>(bits);
    return !std::isnan(*d);
  }
  bool Count(size_t min_bytes, uint64_t* n) { return Varint(n) && *n <= in_.size() / min_bytes; }
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

  // The clock, kept in written order for dot lookups.
  Status Clock(VersionVector* clock) {
    uint64_t n = 0;
    if (!Count(actor_bytes() + 1, &n)) return Bad("clock size");
    written_.resize(n);
    for (VersionVector::Entry& e : written_) {
      if (!Actor(&e.actor) || !Varint(&e.counter) || e.counter == 0 || e.counter > kMaxCounter) {
        return Bad("clock entry");
      }
    }
    Result<VersionVector> vv = VersionVector::FromEntries(written_);
    if (!vv.ok()) return Bad("clock repeats an actor");
    *clock = std::move(vv).value();
    return Status::Ok();
  }
  bool DotOf(Dot* d) {
    uint64_t index = 0, gap = 0;
    if (!Varint(&index) || index >= written_.size()) return false;
    if (!Varint(&gap) || gap >= written_[index].counter) return false;
    *d = Dot{written_[index].actor, written_[index].counter - gap};
    return true;
  }
  bool OptionalDot(Dot* d) {
    uint64_t index = 0, gap = 0;
    if (!Varint(&index)) return false;
    if (index == 0) {
      *d = Dot{};
      return true;
    }
    --index;
    if (index >= written_.size()) return false;
    if (!Varint(&gap) || gap >= written_[index].counter) return false;
    *d = Dot{written_[index].actor, written_[index].counter - gap};
    return true;
  }

 private:
  std::string_view in_;
  const ActorTable* local_;
  ActorTable* intern_;
  std::vector<VersionVector::Entry> written_;
};

// Atom bodies. `a` may be nullptr: the body is checked and skipped.
Status ReadBody(Reader&, SetAtom*) {
  return Status::Ok();
}

Status ReadBody(Reader& r, HashAtom* a) {
  uint8_t tag = 0;
  if (!r.Byte(&tag) || tag > static_cast<uint8_t>(HashAtomKind::kFloat)) return Bad("hash tag");
  const auto kind = static_cast<HashAtomKind>(tag);
  std::string_view text, after;
  int64_t ts = 0;
  uint64_t zz = 0;
  Dot base;
  switch (kind) {
    case HashAtomKind::kValue:
      if (!r.Int64(&ts) || !r.Bytes(&text)) return Bad("hash value");
      break;
    case HashAtomKind::kInt:
      if (!r.Varint(&zz)) return Bad("hash total");
      break;
    case HashAtomKind::kFloat:
      if (!r.Bytes(&text) || !ParseRedisLongDouble(text) || !r.Bytes(&after) ||
          !r.OptionalDot(&base)) {
        return Bad("hash float total");
      }
      break;
  }
  if (a != nullptr) {
    a->kind = kind;
    a->timestamp_ms = ts;
    a->text.assign(text);
    a->integer = kind == HashAtomKind::kInt ? UnZigZag(zz) : 0;
    a->after.assign(after);
    a->base = base;
  }
  return Status::Ok();
}

Status ReadBody(Reader& r, ZsetAtom* a) {
  uint8_t tag = 0;
  if (!r.Byte(&tag) || tag > static_cast<uint8_t>(ZsetAtomKind::kIncr)) return Bad("zset tag");
  const auto kind = static_cast<ZsetAtomKind>(tag);
  int64_t ts = 0;
  double score = 0, after = 0;
  Dot base;
  if (kind == ZsetAtomKind::kScore) {
    if (!r.Int64(&ts) || !r.Double(&score)) return Bad("zset score");
  } else if (!r.Double(&score) || !r.Double(&after) || !r.OptionalDot(&base)) {
    return Bad("zset increment");
  }
  if (a != nullptr) {
    a->kind = kind;
    a->timestamp_ms = ts;
    a->score = score;
    a->after = after;
    a->base = base;
  }
  return Status::Ok();
}

// Reads a map. `only` set: keeps only the entry named *only (a lookup) and
// stops once past it.
template <typename Atom>
Result<OrMap<Atom>> ReadMap(Reader& r, bool node_ids, const std::string_view* only) {
  using Map = OrMap<Atom>;
  VersionVector clock;
  Status st = r.Clock(&clock);
  if (!st.ok()) return st;
  uint64_t n = 0;
  if (!r.Count(3, &n)) return Bad("entry count");
  std::vector<typename Map::Entry> entries;
  if (only == nullptr) entries.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t head = 0;
    std::string_view name;
    if (!r.Varint(&head) || !r.Take(head >> 1, &name)) return Bad("entry name");
    uint64_t n_atoms = 1;
    if ((head & kSeveral) != 0 && (!r.Count(2, &n_atoms) || n_atoms < 2)) {
      return Bad("atom count");
    }
    if (only != nullptr && name > *only) break;  // names are in order: absent
    const bool keep = only == nullptr || name == *only;
    typename Map::Entry e;
    if (keep) {
      e.name.assign(name);
      e.atoms.resize(n_atoms);
    }
    for (uint64_t j = 0; j < n_atoms; ++j) {
      Dot dot;
      if (!r.DotOf(&dot)) return Bad("atom dot");
      st = ReadBody(r, keep ? &e.atoms[j] : nullptr);
      if (!st.ok()) return st;
      if (keep) e.atoms[j].dot = dot;
    }
    if (!keep) continue;
    if (node_ids) {
      std::sort(e.atoms.begin(), e.atoms.end(),
                [](const Atom& a, const Atom& b) { return a.dot < b.dot; });
    }
    entries.push_back(std::move(e));
    if (only != nullptr) break;
  }
  if (only == nullptr && !r.rest().empty()) return Bad("trailing bytes");
  Result<Map> m = Map::FromParts(std::move(clock), std::move(entries));
  if (!m.ok()) return Bad(m.status().message().c_str());
  return m;
}

Status Decode(std::string_view payload, const ActorTable* local, ActorTable* intern,
              const std::string_view* only, Version* v) {
  Reader r(payload, local, intern);
  uint8_t type = 0;
  if (!r.Byte(&type)) return Bad("empty");
  const bool node_ids = intern != nullptr;
  switch (static_cast<Type>(type)) {
    case Type::kHash: {
      auto m = ReadMap<HashAtom>(r, node_ids, only);
      if (!m.ok()) return m.status();
      v->kind = VersionKind::kHash;
      v->hash = OrHash(std::move(m).value());
      return Status::Ok();
    }
    case Type::kSet: {
      auto m = ReadMap<SetAtom>(r, node_ids, only);
      if (!m.ok()) return m.status();
      v->kind = VersionKind::kSet;
      v->set = OrSet(std::move(m).value());
      return Status::Ok();
    }
    case Type::kZset: {
      auto m = ReadMap<ZsetAtom>(r, node_ids, only);
      if (!m.ok()) return m.status();
      v->kind = VersionKind::kZset;
      v->zset = OrZset(std::move(m).value());
      return Status::Ok();
    }
  }
  return Bad("unknown type");
}

void EncodeContainerOf(const Version& v, const std::span<const size_t>* only,
                       const ActorTable* node_ids, std::string* out) {
  switch (v.kind) {
    case VersionKind::kHash:
      out->push_back(static_cast<char>(Type::kHash));
      return WriteMap(v.hash.map(), only, node_ids, out);
    case VersionKind::kSet:
      out->push_back(static_cast<char>(Type::kSet));
      return WriteMap(v.set.map(), only, node_ids, out);
    case VersionKind::kZset:
      out->push_back(static_cast<char>(Type::kZset));
      return WriteMap(v.zset.map(), only, node_ids, out);
    default:
      return;  // not a container: callers never ask
  }
}

}  // namespace

void EncodeContainer(const Version& v, const ActorTable* node_ids, std::string* out) {
  EncodeContainerOf(v, nullptr, node_ids, out);
}

void EncodeContainerEntries(const Version& v, std::span<const size_t> indexes,
                            const ActorTable* node_ids, std::string* out) {
  EncodeContainerOf(v, &indexes, node_ids, out);
}

Status DecodeContainer(std::string_view payload, const ActorTable* local, ActorTable* intern,
                       Version* v) {
  return Decode(payload, local, intern, nullptr, v);
}

std::optional<bool> EncodedContainerIsEmpty(std::string_view payload) {
  std::string_view in = payload;
  if (in.empty() || static_cast<uint8_t>(in[0]) > static_cast<uint8_t>(Type::kZset)) {
    return std::nullopt;
  }
  in.remove_prefix(1);
  uint64_t n = 0, skip = 0;
  if (!GetVarint64(&in, &n) || n > in.size()) return std::nullopt;
  for (uint64_t i = 0; i < n; ++i) {
    if (!GetVarint64(&in, &skip) || !GetVarint64(&in, &skip)) return std::nullopt;
  }
  if (!GetVarint64(&in, &n)) return std::nullopt;
  return n == 0;
}

Status DecodeContainerEntry(std::string_view payload, std::string_view name,
                            const ActorTable& local, Version* v) {
  return Decode(payload, &local, nullptr, &name, v);
}

}  // namespace shoal::storage
