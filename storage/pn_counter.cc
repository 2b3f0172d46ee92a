#include "storage/pn_counter.h"

#include "storage/sorted_merge.h"

#include <algorithm>
#include <limits>

namespace shoal::storage {
namespace {

constexpr std::string_view kOverflowMessage = "ERR increment or decrement would overflow";

Status Overflow() {
  return Status(Code::kOverflow, std::string(kOverflowMessage));
}

bool ActorLess(const PnCounter::Entry& e, ActorId a) {
  return e.actor < a;
}

}  // namespace

PnCounter PnCounter::FromInt(int64_t value) {
  PnCounter c;
  if (value > 0) {
    c.entries_.push_back(Entry{kCounterBaseActor, static_cast<uint64_t>(value), 0});
  } else if (value < 0) {
    // -(uint64_t)value is exact even for INT64_MIN.
    c.entries_.push_back(Entry{kCounterBaseActor, 0, 0 - static_cast<uint64_t>(value)});
  }
  return c;
}

Result<PnCounter> PnCounter::FromEntries(std::vector<Entry> entries) {
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.actor < b.actor; });
  for (size_t i = 1; i < entries.size(); ++i) {
    if (entries[i - 1].actor == entries[i].actor) return Status::Invalid("repeated actor");
  }
  std::erase_if(entries, [](const Entry& e) { return e.p == 0 && e.n == 0; });
  PnCounter c;
  c.entries_ = std::move(entries);
  return c;
}

__int128 PnCounter::Sum() const {
  // At most 2^32 entries of values below 2^64: well inside 128 bits.
  __int128 sum = 0;
  for (const Entry& e : entries_) sum += static_cast<__int128>(e.p) - static_cast<__int128>(e.n);
  return sum;
}

Status PnCounter::Add(ActorId actor, int64_t delta) {
  const __int128 next = Sum() + delta;
  if (next < std::numeric_limits<int64_t>::min() || next > std::numeric_limits<int64_t>::max() ||
      Sum() < std::numeric_limits<int64_t>::min() || Sum() > std::numeric_limits<int64_t>::max()) {
    return Overflow();
  }
  if (delta == 0) return Status::Ok();
  auto it = std::lower_bound(entries_.begin(), entries_.end(), actor, ActorLess);
  if (it == entries_.end() || it->actor != actor) it = entries_.insert(it, Entry{actor, 0, 0});
  uint64_t* slot = delta > 0 ? &it->p : &it->n;
  const uint64_t amount =
      delta > 0 ? static_cast<uint64_t>(delta) : 0 - static_cast<uint64_t>(delta);
  if (*slot > std::numeric_limits<uint64_t>::max() - amount) {
    if (it->p == 0 && it->n == 0) entries_.erase(it);
    return Overflow();
  }
  *slot += amount;
  return Status::Ok();
}

Result<int64_t> PnCounter::Value() const {
  const __int128 sum = Sum();
  if (sum < std::numeric_limits<int64_t>::min() || sum > std::numeric_limits<int64_t>::max()) {
    return Overflow();
  }
  return static_cast<int64_t>(sum);
}

std::string PnCounter::ValueString() const {
  __int128 sum = Sum();
  const bool negative = sum < 0;
  // Work with the magnitude as unsigned: |sum| < 2^97, no overflow.
  unsigned __int128 mag =
      negative ? static_cast<unsigned __int128>(-sum) : static_cast<unsigned __int128>(sum);
  std::string digits;
  do {
    digits.push_back(static_cast<char>('0' + static_cast<int>(mag % 10)));
    mag /= 10;
  } while (mag != 0);
  if (negative) digits.push_back('-');
  std::reverse(digits.begin(), digits.end());
  return digits;
}

void PnCounter::Merge(const PnCounter& other) {
  // Entry-wise max of both counts: the join of two PN-counters.
  entries_ = MergeByActor(entries_, other.entries_, [](const Entry& x, const Entry& y) {
    return Entry{x.actor, std::max(x.p, y.p), std::max(x.n, y.n)};
  });
}

}  // namespace shoal::storage
