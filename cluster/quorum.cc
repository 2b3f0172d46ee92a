#include "cluster/quorum.h"

#include "facade/errors.h"

#include <algorithm>
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
  // far cheaper than a merge.
  if (reply == merged) return false;
  storage::Object joined = reply;
  joined.Merge(merged);
  return !(joined == reply);
}

}  // namespace

// --- ReadQuorum -------------------------------------------------------------

ReadQuorum::ReadQuorum(size_t n, size_t r)
    : r_(std::clamp<size_t>(r, 1, std::max<size_t>(n, 1))),
      heard_(std::max<size_t>(n, 1), Heard::kNothing),
      replies_(heard_.size()) {}

void ReadQuorum::AddReply(size_t replica, storage::Object object) {
  if (replica >= heard_.size() || heard_[replica] != Heard::kNothing) return;
  heard_[replica] = Heard::kReply;
  ++ok_;
  // Replicas usually agree: an equal object adds nothing to the merge.
  if (!(merged_ == object)) merged_.Merge(object);
  replies_[replica] = std::move(object);
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
  for (size_t i = 0; i < replies_.size(); ++i) {
    if (replies_[i] && Lacks(*replies_[i], merged_)) out.push_back(i);
  }
  return out;
}

ReadQuorum::Late ReadQuorum::AddLateReply(size_t replica, storage::Object object) {
  if (replica >= heard_.size() || heard_[replica] == Heard::kReply) return {};
  if (heard_[replica] == Heard::kFailure) {
    // Timed out earlier: its object still counts for repair.
    --failed_;
    heard_[replica] = Heard::kNothing;
  }
  Late late;
  late.brought_news = Lacks(merged_, object);
  AddReply(replica, std::move(object));
  late.replica_stale = Lacks(*replies_[replica], merged_);
  return late;
}

void ReadQuorum::Decide() {
  if (state_ != State::kPending) return;  // a decision never changes
  state_ = Decision(heard_.size(), r_, ok_, failed_);
}

// --- WriteQuorum ------------------------------------------------------------

WriteQuorum::WriteQuorum(size_t n, size_t w)
    : w_(std::clamp<size_t>(w, 1, std::max<size_t>(n, 1))),
      heard_(std::max<size_t>(n, 1), Heard::kNothing) {}

void WriteQuorum::AddAck(size_t replica) {
  if (replica >= heard_.size() || heard_[replica] != Heard::kNothing) return;
  heard_[replica] = Heard::kAck;
  ++ok_;
  Decide();
}

void WriteQuorum::AddFailure(size_t replica) {
  if (replica >= heard_.size() || heard_[replica] != Heard::kNothing) return;
  heard_[replica] = Heard::kFailure;
  ++failed_;
  Decide();
}

void WriteQuorum::AddLateAck(size_t replica) {
  if (replica >= heard_.size() || heard_[replica] != Heard::kFailure) return;
  if (state_ != State::kPending) return;
  heard_[replica] = Heard::kAck;
  --failed_;
  ++ok_;
  Decide();
}

void WriteQuorum::Decide() {
  if (state_ != State::kPending) return;
  state_ = Decision(heard_.size(), w_, ok_, failed_);
}

std::string NoQuorumMessage(size_t got, size_t required) {
  return facade::errors::NoQuorum(got, required);
}

}  // namespace shoal::cluster
