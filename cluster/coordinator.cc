#include "cluster/coordinator.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "cluster/local_replica.h"
#include "cluster/quorum.h"

namespace shoal::cluster {

struct Coordinator::ReadState {
  std::string key;
  ReplicaSet replicas;
  ReadQuorum quorum;
  ReadDone done;             // Read
  StoreReadDone store_done;  // ReadIntoStore
  bool decided = false;
  size_t self = 0;
  bool self_read = false;  // this node's copy went into the quorum
  // This node's deferred copy could not be loaded (ResolveSelf).
  storage::Status self_error = storage::Status::Ok();

  ReadState(std::string k, ReplicaSet r, size_t required)
      : key(std::move(k)), replicas(std::move(r)), quorum(replicas->size(), required) {}
};

Coordinator::Coordinator(PeerTransport& transport, storage::Keyspace& keyspace,
                         const storage::Clock& clock, NodeId self)
    : transport_(transport), keyspace_(keyspace), clock_(clock), self_(std::move(self)) {}

void Coordinator::Put(const Target& to, const std::string& key, std::string object,
                      int64_t deadline_ms, PeerCallback cb) {
  // Built by hand: a braced list would copy the object once more.
  std::vector<std::string> args;
  args.reserve(3);
  args.push_back(key);
  args.push_back(std::move(object));
  // A fallback keeps the object as a hint for the primary it stands in for.
  if (to.fallback) args.push_back(to.stands_in_for);
  transport_.Batch(to.node, to.fallback ? "SHOAL.HPUT" : "SHOAL.MPUT", std::move(args), deadline_ms,
                   TrackWrite(to.node, key, std::move(cb)));
}

PeerCallback Coordinator::TrackWrite(const NodeId& to, const std::string& key, PeerCallback cb) {
  ++unanswered_writes_[to][key];
  return
      [this, to, key, cb = std::move(cb)](PeerOutcome outcome, const PeerReply* reply, bool late) {
        if (!late) {
          auto node = unanswered_writes_.find(to);
          if (node != unanswered_writes_.end()) {
            auto it = node->second.find(key);
            if (it != node->second.end() && --it->second == 0) node->second.erase(it);
          }
        }
        cb(outcome, reply, late);
      };
}

int64_t Coordinator::Deadline() const {
  return transport_.NowMs() + options_.request_timeout_ms;
}

namespace {

// This node's index in the replica list; if a stale ring left it out, a
// copy of the list with it appended takes the list's place.
size_t IncludeSelf(ReplicaSet& replicas, const std::string& self) {
  auto it = std::find_if(replicas->begin(), replicas->end(),
                         [&](const Target& t) { return t.node == self; });
  if (it != replicas->end()) return static_cast<size_t>(it - replicas->begin());
  auto copy = std::make_shared<std::vector<Target>>(*replicas);
  copy->push_back(Target{0, self, false, {}, false, false});
  replicas = std::move(copy);
  return replicas->size() - 1;
}

// The read set of `replicas`: without the pending targets (new replicas
// still receiving the partition), which hold too little to count. The
// common case, no transfer, keeps the shared list.
ReplicaSet ReadSet(ReplicaSet replicas) {
  if (std::all_of(replicas->begin(), replicas->end(), [](const Target& t) { return t.reads(); })) {
    return replicas;
  }
  auto copy = std::make_shared<std::vector<Target>>();
  for (const Target& t : *replicas) {
    if (t.reads()) copy->push_back(t);
  }
  return copy;
}

}  // namespace

void Coordinator::Read(const std::string& key, ReplicaSet targets, ReadDone done) {
  StartRead(key, std::move(targets), std::move(done), nullptr);
}

void Coordinator::ReadIntoStore(const std::string& key, ReplicaSet targets, StoreReadDone done) {
  StartRead(key, std::move(targets), nullptr, std::move(done));
}

void Coordinator::StartRead(const std::string& key, ReplicaSet targets, ReadDone done,
                            StoreReadDone store_done) {
  ++stats_.reads;
  targets = ReadSet(std::move(targets));
  size_t self = IncludeSelf(targets, self_);
  size_t required = std::clamp<size_t>(options_.read_quorum, 1, targets->size());
  auto st = std::make_shared<ReadState>(key, std::move(targets), required);
  st->done = std::move(done);
  st->store_done = std::move(store_done);
  st->self = self;

  // Replicas usually agree: each is sent the digest of our copy and answers
  // "=" instead of its object when its own has the same digest, which
  // spares the transfer, the decode and the merge.
  // The copy's stored digest if known (a table lookup); else, for a
  // container object the cache holds (a write since: its digest is not
  // taken yet), its causal digest (LocalReplica: O(versions), where a byte
  // digest would encode all its elements).
  std::string digest;
  if (auto stored = stored_digests_ ? stored_digests_(key) : std::nullopt) {
    digest = DigestBytes(*stored);
  } else if (auto causal = keyspace_.CachedBaseDigest(key, clock_.NowMs())) {
    digest = CausalDigestBytes(*causal);
  }
  // A read into the store whose copy's digest is known leaves the copy
  // there: the quorum loads it only if a replica answers with an object to
  // merge (ResolveSelf). Agreeing replicas then cost no copy of it.
  if (!digest.empty() && st->store_done) {
    st->self_read = true;
    st->quorum.AddDeferred(self);
  } else if (auto local = keyspace_.Load(key, clock_.NowMs()); local.ok()) {
    if (local.value().Size() > 0 && digest.empty()) {
      digest = ObjectDigest(local.value(), keyspace_.actors());
    }
    st->self_read = true;
    st->quorum.AddReply(self, std::move(local).value());
  } else {
    st->quorum.AddFailure(self);
  }
  if (st->quorum.state() != ReadQuorum::State::kPending) FinishRead(*st);

  int64_t deadline = Deadline();
  for (size_t i = 0; i < st->replicas->size(); ++i) {
    if (i == self) continue;
    transport_.Batch(
        (*st->replicas)[i].node, "SHOAL.MGET", {key, digest}, deadline,
        [this, st, i](PeerOutcome outcome, const PeerReply* reply, bool late) {
          if (late) ++stats_.late_replies;
          // "=": the replica's copy has our copy's digest.
          const bool same = outcome == PeerOutcome::kReply &&
                            reply->type == PeerReply::Type::kStatus && reply->str == "=";
          std::optional<storage::Object> obj;
          if (outcome == PeerOutcome::kReply) {
            if (reply->type == PeerReply::Type::kNil) {
              obj.emplace();
            } else if (reply->type == PeerReply::Type::kString) {
              auto d = storage::Object::DecodeWithNodeIds(reply->str, keyspace_.actors());
              if (d.ok()) obj.emplace(std::move(d).value());
            }
          }
          // An object to merge needs this node's copy (a nil reply too: it
          // is an empty object).
          if (obj && !ResolveSelf(*st)) return;
          if (st->decided) {
            if (same || obj) OnLateRead(*st, i, std::move(obj));
            return;
          }
          if (late) {
            // Timed out (a batched frame keeps its first item's
            // deadline), then answered while others are pending:
            // the reply counts.
            if (same) {
              st->quorum.AddLateSame(i, st->self);
            } else if (obj) {
              st->quorum.AddLateReply(i, std::move(*obj));
            }
          } else if (same) {
            st->quorum.AddSame(i, st->self);
          } else if (obj) {
            st->quorum.AddReply(i, std::move(*obj));
          } else {
            st->quorum.AddFailure(i);
          }
          if (st->quorum.state() != ReadQuorum::State::kPending) FinishRead(*st);
        });
  }
}

bool Coordinator::ResolveSelf(ReadState& st) {
  if (!st.quorum.unresolved()) return true;
  auto local = keyspace_.Load(st.key, clock_.NowMs());
  if (local.ok()) {
    st.quorum.Resolve(std::move(local).value());
    return true;
  }
  // The copy whose digest the replicas were sent cannot be read now: the
  // read fails as a read of it would have at the start.
  if (!st.decided) {
    st.self_error = local.status();
    FinishRead(st);
  }
  return false;
}

void Coordinator::FinishRead(ReadState& st) {
  if (st.decided) return;
  st.decided = true;
  ReadDone done = std::move(st.done);
  StoreReadDone store_done = std::move(st.store_done);
  auto fail = [&](const storage::Status& s) {
    if (done) done(s);
    if (store_done) store_done(s);
  };
  if (!st.self_error.ok()) {
    fail(st.self_error);
    return;
  }
  if (st.quorum.state() != ReadQuorum::State::kSucceeded) {
    ++stats_.quorum_failures;
    fail(storage::Status(storage::Code::kUnavailable,
                         NoQuorumMessage(st.quorum.ok_count(), st.quorum.required())));
    return;
  }
  std::vector<size_t> stale = st.quorum.StaleReplicas();
  // This node first: what the command runs on must be what this replica
  // holds, or a later write here would be based on less than it answered.
  if (std::find(stale.begin(), stale.end(), st.self) != stale.end()) {
    storage::Status s = keyspace_.Merge(st.key, st.quorum.merged(), clock_.NowMs());
    if (!s.ok()) {
      fail(s);
      return;
    }
  }
  Repair(st, stale);
  if (done) done(st.quorum.merged());
  if (store_done) {
    // This node's copy was in the quorum: it is the merge now (stale, it
    // was just merged; else it lacked nothing).
    if (st.self_read) {
      store_done(std::optional<storage::Object>());
    } else {
      store_done(std::optional<storage::Object>(st.quorum.merged()));
    }
  }
}

void Coordinator::OnLateRead(ReadState& st, size_t replica, std::optional<storage::Object> object) {
  ++stats_.replies_after_quorum;
  ReadQuorum::Late late = object ? st.quorum.AddLateReply(replica, std::move(*object))
                                 : st.quorum.AddLateSame(replica, st.self);
  if (late.brought_news) {
    // A failed local merge leaves this copy stale; the next read repairs it.
    if (keyspace_.Merge(st.key, st.quorum.merged(), clock_.NowMs()).ok()) {
      Repair(st, st.quorum.StaleReplicas());
    }
  } else if (late.replica_stale) {
    Repair(st, {replica});
  }
}

void Coordinator::Repair(ReadState& st, const std::vector<size_t>& replicas) {
  if (!options_.read_repair) return;
  std::string bytes;
  for (size_t i : replicas) {
    if (i == st.self) continue;
    if (bytes.empty()) st.quorum.merged().EncodeWithNodeIds(keyspace_.actors(), &bytes);
    ++stats_.read_repairs;
    Put(st.replicas->at(i), st.key, bytes, Deadline(), [](PeerOutcome, const PeerReply*, bool) {});
  }
}

void Coordinator::Replicate(const std::string& key, std::string object, ReplicaSet targets,
                            WriteDone done, std::string delta) {
  ++stats_.writes;
  size_t self = IncludeSelf(targets, self_);
  struct WriteState {
    WriteQuorum quorum;
    WriteDone done;
    std::string key;
    std::string object;  // node-id encoded; empty until needed with a delta
    WriteState(WriteQuorum q, WriteDone d) : quorum(std::move(q)), done(std::move(d)) {}
  };
  // Two replica sets only while the key's partition moves (placement.h).
  const bool moving = std::any_of(targets->begin(), targets->end(),
                                  [](const Target& t) { return !t.reads() || !t.in_new_set(); });
  std::shared_ptr<WriteState> st;
  if (!moving) {
    st = std::make_shared<WriteState>(WriteQuorum(targets->size(), options_.write_quorum),
                                      std::move(done));
  } else {
    std::vector<bool> in_read, in_new;
    for (const Target& t : *targets) {
      in_read.push_back(t.reads());
      in_new.push_back(t.in_new_set());
    }
    st = std::make_shared<WriteState>(WriteQuorum(in_read, in_new, options_.write_quorum),
                                      std::move(done));
  }
  st->key = key;
  st->object = std::move(object);
  // The whole object, for a target that cannot take the delta: the key's
  // current object here, which includes the write (writes apply locally
  // first) and whatever came since, which a merge takes as well. Empty if
  // it cannot be read.
  auto whole = [this, st]() -> const std::string& {
    if (st->object.empty()) {
      auto obj = keyspace_.Load(st->key, clock_.NowMs());
      if (obj.ok() && obj.value().Size() > 0) {
        obj.value().EncodeWithNodeIds(keyspace_.actors(), &st->object);
      }
    }
    return st->object;
  };
  auto finish = [this, st]() {
    if (!st->done || st->quorum.state() == WriteQuorum::State::kPending) return;
    WriteDone d = std::move(st->done);
    st->done = nullptr;
    if (st->quorum.state() == WriteQuorum::State::kSucceeded) {
      d(storage::Status::Ok());
      return;
    }
    ++stats_.quorum_failures;
    d(storage::Status(storage::Code::kUnavailable,
                      NoQuorumMessage(st->quorum.ok_count(), st->quorum.required())));
  };
  // One target's outcome: an ack counts toward W.
  auto count = [this, st, finish](size_t i, bool acked, bool late) {
    if (late) ++stats_.late_replies;
    if (late) {
      // A replica that timed out may still complete an undecided write
      // (a batched frame keeps its first item's deadline).
      if (acked) st->quorum.AddLateAck(i);
    } else if (acked) {
      st->quorum.AddAck(i);
    } else {
      st->quorum.AddFailure(i);
    }
    finish();
  };
  auto is_ack = [](PeerOutcome outcome, const PeerReply* reply) {
    return outcome == PeerOutcome::kReply && reply->type == PeerReply::Type::kStatus;
  };
  // This node's own write is in its keyspace already; standing in for a
  // primary (sloppy quorum), it also keeps it as a hint for that primary.
  const Target& me = (*targets)[self];
  if (!me.fallback || (replica_ != nullptr && !whole().empty() &&
                       replica_->StoreHint(me.stands_in_for, key, whole()).ok())) {
    st->quorum.AddAck(self);
  } else {
    st->quorum.AddFailure(self);
  }
  finish();
  int64_t deadline = Deadline();
  const size_t last = self + 1 == targets->size() ? self - 1 : targets->size() - 1;
  for (size_t i = 0; i < targets->size(); ++i) {
    if (i == self) continue;
    const Target& to = (*targets)[i];
    if (delta.empty() || to.fallback) {
      const std::string& bytes = whole();
      if (bytes.empty()) {
        count(i, false, false);
        continue;
      }
      auto counted = [count, is_ack, i](PeerOutcome outcome, const PeerReply* reply, bool late) {
        count(i, is_ack(outcome, reply), late);
      };
      // Without a delta nothing needs the object after the puts: the last
      // one takes it (a big value is copied once less).
      if (delta.empty() && i == last) {
        Put(to, key, std::move(st->object), deadline, std::move(counted));
      } else {
        Put(to, key, bytes, deadline, std::move(counted));
      }
      continue;
    }
    ++stats_.deltas_sent;
    transport_.Batch(
        to.node, "SHOAL.MDELTA", {key, delta}, deadline,
        TrackWrite(to.node, key,
                   [this, st, to, i, deadline, count, is_ack, whole](
                       PeerOutcome outcome, const PeerReply* reply, bool late) {
                     if (is_ack(outcome, reply)) return count(i, true, late);
                     if (outcome != PeerOutcome::kReply) return count(i, false, late);
                     // Refused (its copy was not the delta's base, or it does not know
                     // the frame): the whole object, merged, and the ack counts once
                     // that applied.
                     ++stats_.deltas_refused;
                     const std::string& bytes = whole();
                     if (bytes.empty()) return count(i, false, late);
                     Put(to, st->key, bytes, late ? Deadline() : deadline,
                         [count, is_ack, i, late](PeerOutcome o, const PeerReply* r, bool late2) {
                           count(i, is_ack(o, r), late || late2);
                         });
                   }));
  }
}

void Coordinator::Forward(const NodeId& to, std::vector<std::string> argv, size_t required,
                          int resp, ForwardDone done) {
  ++stats_.forwards;
  if (resp == 3) argv.insert(argv.begin(), {std::string(kForwardProtoArg), "3"});
  argv.insert(argv.begin(), "SHOAL.FWD");
  // The remote coordinator waits up to request-timeout-ms for its replicas;
  // give it that and as long again for the two hops.
  int64_t deadline = Deadline() + options_.request_timeout_ms;
  // It must follow a write sent to `to` of a key it names, which it may
  // depend on (a pipeline's SET, then a forwarded INCR of the key).
  bool ordered = false;
  if (auto node = unanswered_writes_.find(to); node != unanswered_writes_.end()) {
    ordered = std::any_of(argv.begin() + 1, argv.end(),
                          [&](const std::string& a) { return node->second.count(a) > 0; });
  }
  transport_.SendForward(
      to, std::move(argv), deadline, ordered,
      [this, required, done = std::move(done)](PeerOutcome outcome, const PeerReply* reply,
                                               bool late) {
        if (late) return;
        if (outcome == PeerOutcome::kReply && reply->type == PeerReply::Type::kString) {
          done(true, reply->str);
          return;
        }
        if (outcome == PeerOutcome::kReply && reply->type == PeerReply::Type::kError) {
          done(false, reply->str);
          return;
        }
        ++stats_.quorum_failures;
        done(false, NoQuorumMessage(0, required));
      });
}

}  // namespace shoal::cluster
