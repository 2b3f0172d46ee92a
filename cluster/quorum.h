#pragma once
// Quorum bookkeeping of one coordinated request, as riak_kv_get_core keeps
// it: pure records that take replies and failures in and say whether the
// request is decided, what the answer is and which replicas need read repair.
// The coordinator shell (cluster/coordinator) sends the messages, runs the
// timer and calls these; nothing here touches a loop, a socket or a clock.
//
// Replicas are indexes 0..n-1 into the request's target list (the
// coordinator's own replica is one of them). Each index counts at most once:
// a second reply or failure for an index already heard from is ignored, and
// so is an index >= n. Quorums are clamped to [1, n] and n to at least 1.
//
// Decisions (the same for reads and writes), with ok successes and failed
// failures so far:
//   kSucceeded  once ok >= required;
//   kFailed     once failed > n - required (the quorum can no longer be met);
//   kPending    otherwise.
// Since ok + failed <= n the two cannot both hold, and a decision, once
// taken, never changes.
//
// Not thread safe; one record per request.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/object.h"

namespace shoal::cluster {

enum class QuorumState { kPending, kSucceeded, kFailed };

// One read (GET-like) over `n` replicas, answering after `r` successful
// replies with the merge of every reply (Object::Merge).
class ReadQuorum {
 public:
  using State = QuorumState;

  ReadQuorum(size_t n, size_t r);

  // A replica answered with its object (an empty Object: it has no version
  // of the key, which is a success).
  void AddReply(size_t replica, storage::Object object);
  // A replica answered that its object equals the reply of replica `as`
  // (the coordinator sent it a digest of its own copy): counted like
  // AddReply, without a copy of the object. A failure if `as` has no reply.
  void AddSame(size_t replica, size_t as);
  // A replica failed (timeout, error, disconnected).
  void AddFailure(size_t replica);

  // The coordinator's own copy, counted as a reply without its object: it
  // stays in the store, and Resolve() brings it in only when the merge
  // needs it. Must be the first reply. Until resolved, replies AddSame as it
  // count as equal to it; before a reply with an object (AddReply,
  // AddLateReply) and before merged() it must be resolved.
  void AddDeferred(size_t replica);
  // The deferred reply's object. The copy may be newer than when it was
  // deferred (writes made here since), which only adds to the merge.
  void Resolve(storage::Object object);
  // A deferred reply waits for Resolve().
  bool unresolved() const { return deferred_ != kNone && !replies_[deferred_]; }

  State state() const { return state_; }
  size_t ok_count() const { return ok_; }
  size_t failed_count() const { return failed_; }
  size_t required() const { return r_; }
  size_t replica_count() const { return replies_.size(); }

  // The merge of every reply so far (late ones included). Empty while no
  // reply has come.
  const storage::Object& merged() const;

  // The read-repair targets: replicas that replied and whose reply lacks
  // something merged() has (Merge(reply, merged()) != reply), ascending.
  // Failed replicas and replicas not heard from are not listed.
  std::vector<size_t> StaleReplicas() const;

  // A reply that arrives after the decision (the coordinator keeps
  // listening for read repair, as Riak does). Recorded like AddReply, with
  // one difference: a replica already counted as failed (it timed out) is
  // heard anyway and moves from the failed to the replied ones, since its
  // object still matters for repair. A decision already taken does not
  // change. Ignored (both fields false) if the replica already replied or
  // the index is >= n.
  //   replica_stale: the object lacks something merged() has, so this
  //                  replica needs repair;
  //   brought_news:  the object had something merged() lacked; merged() now
  //                  includes it, and replicas that were up to date may need
  //                  repair too (call StaleReplicas() again).
  // Also usable while the request is pending: it then counts like AddReply
  // (and may complete the quorum) and reports the same two facts.
  struct Late {
    bool replica_stale = false;
    bool brought_news = false;
  };
  Late AddLateReply(size_t replica, storage::Object object);
  // AddSame after the decision, as AddLateReply (it never brings news).
  Late AddLateSame(size_t replica, size_t as);

 private:
  enum class Heard : uint8_t { kNothing, kReply, kFailure };
  static constexpr size_t kNone = SIZE_MAX;

  void Decide();
  // The reply of `replica` (its own, or the one it is the same as), or nullptr.
  const storage::Object* ReplyOf(size_t replica) const;
  // Takes replies_[replica] into the merge.
  void Fold(size_t replica);
  // Lets a late replica that timed out be heard.
  bool ReopenLate(size_t replica);

  size_t r_;
  std::vector<Heard> heard_;                             // per replica
  std::vector<std::optional<storage::Object>> replies_;  // per replica
  std::vector<size_t> same_;                             // per replica: AddSame's `as`, or kNone
  // The merge is the first reply itself (first_) as long as every reply
  // equals it, the usual case; joined_ once one differs.
  size_t first_ = kNone;
  size_t deferred_ = kNone;  // AddDeferred's replica
  std::optional<storage::Object> joined_;
  size_t ok_ = 0;
  size_t failed_ = 0;
  State state_ = State::kPending;
};

// One write over `n` replicas, acknowledged after `w` successes (the
// coordinator's own write counted).
//
// During a partition transfer (cluster/placement.h) a write goes to two
// overlapping replica sets — the read set, which holds the partition now,
// and the new set, which will — and needs `w` acks in each (clamped to the
// set's size). Every replica is in one or both; with both sets equal this
// is the plain rule above. ok_count() and required() then describe the set
// furthest from its quorum.
class WriteQuorum {
 public:
  using State = QuorumState;

  WriteQuorum(size_t n, size_t w);
  // in_read[i] / in_new[i]: replica i counts in the read set / the new set
  // (replicas in neither count in both). n = in_read.size() = in_new.size().
  WriteQuorum(const std::vector<bool>& in_read, const std::vector<bool>& in_new, size_t w);

  // A replica applied the write.
  void AddAck(size_t replica);
  // A replica failed (timeout, error, disconnected).
  void AddFailure(size_t replica);
  // A replica that timed out applied the write after all (its late reply).
  // Counts only while the write is undecided: a decided write stays decided.
  void AddLateAck(size_t replica);

  State state() const { return state_; }
  size_t ok_count() const;
  size_t failed_count() const { return failed_; }
  size_t required() const;
  size_t replica_count() const { return heard_.size(); }

 private:
  enum class Heard : uint8_t { kNothing, kAck, kFailure };
  struct Set {
    size_t size = 0;
    size_t required = 0;
    size_t ok = 0;
    size_t failed = 0;
  };

  void Count(size_t replica, int ok_delta, int failed_delta);
  void Decide();
  // The set furthest from its quorum (for the error message).
  const Set& Worst() const;

  std::vector<Heard> heard_;  // per replica
  // Per replica: bit 0 read set, bit 1 new set; empty: every replica in
  // both (the one-set constructor).
  std::vector<uint8_t> member_;
  Set sets_[2];
  size_t failed_ = 0;
  State state_ = State::kPending;
};

// The error reply of a request that missed its quorum:
// "NOQUORUM got <got> of <required> required replies" (got = successes).
std::string NoQuorumMessage(size_t got, size_t required);

}  // namespace shoal::cluster
