#include "cluster/quorum.h"

#include "facade/errors.h"

#include <algorithm>
#include <cassert>
#include <utility>

namespace shoal::cluster {
namespace {

// The decision rule of the header, shared by reads and writes.
QuorumState Decision(size_t n, size_t required, size_t ok, size_t failed) {
  if (ok >= required) return QuorumState::kSucceeded;
  if (failed > n - required) return QuorumState::kFailed;
  return QuorumState::kPending;
}

// True if `reply` lacks something `merged` has.
bool Lacks(const storage::Object& reply, const storage::Object& merged) {
  // Replicas usually agree: equal objects lack nothing, and comparing is
  // far cheaper than a merge. (A reply the same as the first one is that
  // object itself while every reply agrees.)
  if (&reply == &merged || reply == merged) return false;
  storage::Object joined = reply;
  joined.Merge(merged);
  return !(joined == reply);
}

}  // namespace

// --- ReadQuorum -------------------------------------------------------------

ReadQuorum::ReadQuorum(size_t n, size_t r)
    : r_(std::clamp<size_t>(r, 1, std::max<size_t>(n, 1))),
      heard_(std::max<size_t>(n, 1), Heard::kNothing),
      replies_(heard_.size()),
      same_(heard_.size(), kNone) {}

const storage::Object& ReadQuorum::merged() const {
  static const storage::Object kEmpty;
  assert(!unresolved());
  if (joined_) return *joined_;
  return first_ != kNone && replies_[first_] ? *replies_[first_] : kEmpty;
}

const storage::Object* ReadQuorum::ReplyOf(size_t replica) const {
  if (replies_[replica]) return &*replies_[replica];
  // (nullptr for one the same as an unresolved deferred reply.)
  const size_t as = same_[replica];
  return as != kNone && replies_[as] ? &*replies_[as] : nullptr;
}

void ReadQuorum::Fold(size_t replica) {
  const storage::Object& object = *replies_[replica];
  if (first_ == kNone) {
    first_ = replica;
    return;
  }
  assert(!unresolved());
  // Replicas usually agree: an equal object adds nothing to the merge.
  if (joined_) {
    if (!(*joined_ == object)) joined_->Merge(object);
  } else if (!(*replies_[first_] == object)) {
    joined_ = *replies_[first_];
    joined_->Merge(object);
  }
}

void ReadQuorum::AddReply(size_t replica, storage::Object object) {
  if (replica >= heard_.size() || heard_[replica] != Heard::kNothing) return;
  heard_[replica] = Heard::kReply;
  ++ok_;
  replies_[replica] = std::move(object);
  Fold(replica);
  Decide();
}

void ReadQuorum::AddDeferred(size_t replica) {
  if (replica >= heard_.size() || heard_[replica] != Heard::kNothing) return;
  assert(first_ == kNone);
  heard_[replica] = Heard::kReply;
  ++ok_;
  deferred_ = replica;
  first_ = replica;
  Decide();
}

void ReadQuorum::Resolve(storage::Object object) {
  if (!unresolved()) return;
  replies_[deferred_] = std::move(object);
}

void ReadQuorum::AddSame(size_t replica, size_t as) {
  if (replica >= heard_.size() || heard_[replica] != Heard::kNothing) return;
  const bool deferred = as == deferred_ && as != kNone;
  if (as >= replies_.size() || (!replies_[as] && !deferred)) {
    AddFailure(replica);
    return;
  }
  heard_[replica] = Heard::kReply;
  ++ok_;
  same_[replica] = as;  // folded already, with `as`
  Decide();
}

void ReadQuorum::AddFailure(size_t replica) {
  if (replica >= heard_.size() || heard_[replica] != Heard::kNothing) return;
  heard_[replica] = Heard::kFailure;
  ++failed_;
  Decide();
}

std::vector<size_t> ReadQuorum::StaleReplicas() const {
  std::vector<size_t> out;
  if (!joined_) return out;  // every reply is the merge
  for (size_t i = 0; i < replies_.size(); ++i) {
    if (const storage::Object* reply = ReplyOf(i); reply != nullptr && Lacks(*reply, *joined_)) {
      out.push_back(i);
    }
  }
  return out;
}

bool ReadQuorum::ReopenLate(size_t replica) {
  if (replica >= heard_.size() || heard_[replica] == Heard::kReply) return false;
  if (heard_[replica] == Heard::kFailure) {
    // Timed out earlier: its object still counts for repair.
    --failed_;
    heard_[replica] = Heard::kNothing;
  }
  return true;
}

ReadQuorum::Late ReadQuorum::AddLateReply(size_t replica, storage::Object object) {
  if (!ReopenLate(replica)) return {};
  Late late;
  late.brought_news = Lacks(merged(), object);
  AddReply(replica, std::move(object));
  late.replica_stale = Lacks(*replies_[replica], merged());
  return late;
}

ReadQuorum::Late ReadQuorum::AddLateSame(size_t replica, size_t as) {
  if (!ReopenLate(replica)) return {};
  AddSame(replica, as);
  const storage::Object* reply = ReplyOf(replica);
  Late late;
  late.replica_stale = reply != nullptr && Lacks(*reply, merged());
  return late;
}

void ReadQuorum::Decide() {
  if (state_ != State::kPending) return;  // a decision never changes
  state_ = Decision(heard_.size(), r_, ok_, failed_);
}

// --- WriteQuorum ------------------------------------------------------------

WriteQuorum::WriteQuorum(size_t n, size_t w) : heard_(std::max<size_t>(n, 1), Heard::kNothing) {
  // One set: every replica in both (member_ stays empty, see Count).
  for (Set& set : sets_) {
    set.size = heard_.size();
    set.required = std::clamp<size_t>(w, 1, set.size);
  }
}

WriteQuorum::WriteQuorum(const std::vector<bool>& in_read, const std::vector<bool>& in_new,
                         size_t w) {
  const size_t n = std::max<size_t>(std::min(in_read.size(), in_new.size()), 1);
  heard_.assign(n, Heard::kNothing);
  member_.assign(n, 3);
  for (size_t i = 0; i < std::min(in_read.size(), in_new.size()); ++i) {
    const uint8_t m = static_cast<uint8_t>((in_read[i] ? 1 : 0) | (in_new[i] ? 2 : 0));
    member_[i] = m == 0 ? 3 : m;
  }
  for (size_t i = 0; i < n; ++i) {
    for (int s = 0; s < 2; ++s) sets_[s].size += (member_[i] >> s) & 1;
  }
  for (Set& set : sets_) set.required = std::clamp<size_t>(w, 1, std::max<size_t>(set.size, 1));
}

size_t WriteQuorum::ok_count() const {
  return Worst().ok;
}

size_t WriteQuorum::required() const {
  return Worst().required;
}

const WriteQuorum::Set& WriteQuorum::Worst() const {
  auto gap = [](const Set& s) { return s.required > s.ok ? s.required - s.ok : 0; };
  return gap(sets_[1]) > gap(sets_[0]) ? sets_[1] : sets_[0];
}

void WriteQuorum::Count(size_t replica, int ok_delta, int failed_delta) {
  const uint8_t member = member_.empty() ? 3 : member_[replica];
  for (int s = 0; s < 2; ++s) {
    if (((member >> s) & 1) == 0) continue;
    sets_[s].ok = static_cast<size_t>(static_cast<int64_t>(sets_[s].ok) + ok_delta);
    sets_[s].failed = static_cast<size_t>(static_cast<int64_t>(sets_[s].failed) + failed_delta);
  }
  failed_ = static_cast<size_t>(static_cast<int64_t>(failed_) + failed_delta);
}

void WriteQuorum::AddAck(size_t replica) {
  if (replica >= heard_.size() || heard_[replica] != Heard::kNothing) return;
  heard_[replica] = Heard::kAck;
  Count(replica, 1, 0);
  Decide();
}

void WriteQuorum::AddFailure(size_t replica) {
  if (replica >= heard_.size() || heard_[replica] != Heard::kNothing) return;
  heard_[replica] = Heard::kFailure;
  Count(replica, 0, 1);
  Decide();
}

void WriteQuorum::AddLateAck(size_t replica) {
  if (replica >= heard_.size() || heard_[replica] != Heard::kFailure) return;
  if (state_ != State::kPending) return;
  heard_[replica] = Heard::kAck;
  Count(replica, 1, -1);
  Decide();
}

void WriteQuorum::Decide() {
  if (state_ != State::kPending) return;
  bool all_met = true;
  for (const Set& s : sets_) {
    const State st = Decision(std::max<size_t>(s.size, 1), s.required, s.ok, s.failed);
    if (st == State::kFailed) {
      state_ = State::kFailed;
      return;
    }
    all_met = all_met && st == State::kSucceeded;
  }
  if (all_met) state_ = State::kSucceeded;
}

std::string NoQuorumMessage(size_t got, size_t required) {
  return facade::errors::NoQuorum(got, required);
}

}  // namespace shoal::cluster
