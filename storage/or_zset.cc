#include "storage/or_zset.h"

#include <algorithm>
#include <cmath>

namespace shoal::storage {
namespace {

const ZsetAtom* Winner(const std::vector<ZsetAtom>& atoms, const ActorTable& actors) {
  const ZsetAtom* w = nullptr;
  for (const ZsetAtom& a : atoms) {
    if (a.kind == ZsetAtomKind::kScore && (w == nullptr || RegisterOlder(*w, a, actors))) w = &a;
  }
  return w;
}

}  // namespace

bool OrZset::Add(std::string_view member, double score, const Dot& dot, int64_t timestamp_ms) {
  ZsetAtom atom;
  atom.dot = dot;
  atom.kind = ZsetAtomKind::kScore;
  atom.timestamp_ms = timestamp_ms;
  atom.score = score;
  return map_.Put(member, atom, [](const ZsetAtom&) { return true; });
}

double OrZset::ScoreOf(const Map::Entry& entry, const ActorTable& actors) {
  const ZsetAtom* w = Winner(entry.atoms, actors);
  size_t counters = 0;
  const ZsetAtom* only = nullptr;
  for (const ZsetAtom& a : entry.atoms) {
    if (a.kind == ZsetAtomKind::kIncr) {
      ++counters;
      only = &a;
    }
  }
  if (counters == 0) return w->score;  // an entry has atoms: here all registers
  if (counters == 1 && only->base == (w ? w->dot : Dot{})) return only->after;
  std::vector<double> terms;
  terms.reserve(counters + 1);
  if (w) terms.push_back(w->score);
  for (const ZsetAtom& a : entry.atoms) {
    if (a.kind == ZsetAtomKind::kIncr) terms.push_back(a.score);
  }
  std::sort(terms.begin(), terms.end());
  double sum = 0;
  for (double t : terms) sum += t;
  return std::isnan(sum) ? 0 : sum;
}

std::optional<double> OrZset::Score(std::string_view member, const ActorTable& actors) const {
  const Map::Entry* e = map_.Find(member);
  if (e == nullptr) return std::nullopt;
  return ScoreOf(*e, actors);
}

Result<double> OrZset::IncrBy(std::string_view member, double delta, const Dot& dot,
                              const ActorTable& actors) {
  const Map::Entry* e = map_.Find(member);
  double current = 0;
  Dot base;
  std::vector<double> own;
  if (e != nullptr) {
    current = ScoreOf(*e, actors);
    if (const ZsetAtom* w = Winner(e->atoms, actors)) base = w->dot;
    for (const ZsetAtom& a : e->atoms) {
      if (a.kind == ZsetAtomKind::kIncr && a.dot.actor == dot.actor) own.push_back(a.score);
    }
  }
  std::sort(own.begin(), own.end());
  double total = 0;
  for (double t : own) total += t;
  total += delta;
  const double next = current + delta;
  if (std::isnan(next) || std::isnan(total)) {
    return Status(Code::kInvalid, "ERR resulting score is not a number (NaN)");
  }
  ZsetAtom atom;
  atom.dot = dot;
  atom.kind = ZsetAtomKind::kIncr;
  atom.score = total;
  atom.after = next;
  atom.base = base;
  const ActorId self = dot.actor;
  map_.Put(member, atom, [&](const ZsetAtom& a) {
    return a.kind == ZsetAtomKind::kScore ? a.dot != base : a.dot.actor == self;
  });
  return ScoreOf(*map_.Find(member), actors);
}

std::vector<ScoredMember> OrZset::Ranked(const ActorTable& actors) const {
  std::vector<ScoredMember> out;
  out.reserve(map_.size());
  for (const Map::Entry& e : map_.entries()) out.push_back({e.name, ScoreOf(e, actors)});
  std::sort(out.begin(), out.end(), [](const ScoredMember& a, const ScoredMember& b) {
    if (a.score != b.score) return a.score < b.score;
    return a.member < b.member;
  });
  return out;
}

}  // namespace shoal::storage
