#include "cluster/coordinator.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include <xxhash.h>

#include "cluster/quorum.h"

namespace shoal::cluster {

struct Coordinator::ReadState {
  std::string key;
  ClusterNode::ReplicaSet replicas;
  ReadQuorum quorum;
  storage::Object local;  // this node's copy when the read began
  Done done;
  bool decided = false;
  size_t self = 0;

  ReadState(std::string k, ClusterNode::ReplicaSet r, size_t required, Done d)
      : key(std::move(k)),
        replicas(std::move(r)),
        quorum(replicas->size(), required),
        done(std::move(d)) {}
};

Coordinator::Coordinator(uv_loop_t* loop, ClusterNode& node, storage::Keyspace& keyspace,
                         const storage::Clock& clock)
    : loop_(loop), node_(node), keyspace_(keyspace), clock_(clock), batcher_(loop, node) {}

int64_t Coordinator::Deadline() const {
  return static_cast<int64_t>(uv_now(loop_)) + options_.request_timeout_ms;
}

namespace {

// This node's index in the replica list; if a stale ring left it out, a
// copy of the list with it appended takes the list's place.
size_t IncludeSelf(ClusterNode::ReplicaSet& replicas, const std::string& self) {
  auto it = std::find(replicas->begin(), replicas->end(), self);
  if (it != replicas->end()) return static_cast<size_t>(it - replicas->begin());
  auto copy = std::make_shared<std::vector<NodeId>>(*replicas);
  copy->push_back(self);
  replicas = std::move(copy);
  return replicas->size() - 1;
}

}  // namespace

void Coordinator::Read(const std::string& key, ClusterNode::ReplicaSet targets, Done done) {
  ++stats_.reads;
  size_t self = IncludeSelf(targets, node_.self_id());
  size_t required = std::clamp<size_t>(options_.read_quorum, 1, targets->size());
  auto st = std::make_shared<ReadState>(key, std::move(targets), required, std::move(done));
  st->self = self;

  int64_t now = clock_.NowMs();
  auto local = keyspace_.Load(key, now);
  // Replicas usually agree: each is sent the digest of our copy and answers
  // "=" instead of its object when its own has the same digest, which
  // spares the transfer, the decode and the merge.
  std::string digest;
  if (local.ok()) {
    st->local = std::move(local).value();
    if (st->local.Size() > 0) digest = ObjectDigest(st->local, keyspace_.actors());
    st->quorum.AddReply(self, st->local);
  } else {
    st->quorum.AddFailure(self);
  }
  if (st->quorum.state() != ReadQuorum::State::kPending) FinishRead(*st);

  int64_t deadline = Deadline();
  for (size_t i = 0; i < st->replicas->size(); ++i) {
    if (i == self) continue;
    batcher_.Add((*st->replicas)[i], "SHOAL.MGET", {key, digest}, deadline,
                 [this, st, i](PeerOutcome outcome, const PeerReply* reply, bool late) {
                   std::optional<storage::Object> obj;
                   if (outcome == PeerOutcome::kReply) {
                     if (reply->type == PeerReply::Type::kNil) {
                       obj.emplace();
                     } else if (reply->type == PeerReply::Type::kStatus && reply->str == "=") {
                       obj.emplace(st->local);
                     } else if (reply->type == PeerReply::Type::kString) {
                       auto d = storage::Object::DecodeWithNodeIds(reply->str, keyspace_.actors());
                       if (d.ok()) obj.emplace(std::move(d).value());
                     }
                   }
                   if (late || st->decided) {
                     if (obj) OnLateRead(*st, i, std::move(*obj));
                     return;
                   }
                   if (obj) {
                     st->quorum.AddReply(i, std::move(*obj));
                   } else {
                     st->quorum.AddFailure(i);
                   }
                   if (st->quorum.state() != ReadQuorum::State::kPending) FinishRead(*st);
                 });
  }
}

void Coordinator::FinishRead(ReadState& st) {
  if (st.decided) return;
  st.decided = true;
  QuorumOutcome out;
  out.ok = st.quorum.state() == ReadQuorum::State::kSucceeded;
  out.got = st.quorum.ok_count();
  out.required = st.quorum.required();
  if (out.ok) {
    std::vector<size_t> stale = st.quorum.StaleReplicas();
    // This node first: the command about to run here must see the merge.
    if (std::find(stale.begin(), stale.end(), st.self) != stale.end()) {
      storage::Status s = keyspace_.Merge(st.key, st.quorum.merged(), clock_.NowMs());
      (void)s;  // a refused merge (sibling limit) leaves the local copy as it was
    }
    Repair(st, stale);
  } else {
    ++stats_.quorum_failures;
  }
  Done done = std::move(st.done);
  done(out);
}

void Coordinator::OnLateRead(ReadState& st, size_t replica, storage::Object object) {
  ++stats_.late_replies;
  if (!st.decided) return;
  ReadQuorum::Late late = st.quorum.AddLateReply(replica, std::move(object));
  if (late.brought_news) {
    storage::Status s = keyspace_.Merge(st.key, st.quorum.merged(), clock_.NowMs());
    (void)s;
    Repair(st, st.quorum.StaleReplicas());
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
    batcher_.Add((*st.replicas)[i], "SHOAL.MPUT", {st.key, bytes}, Deadline(),
                 [](PeerOutcome, const PeerReply*, bool) {});
  }
}

void Coordinator::Replicate(const std::string& key, std::string object,
                            ClusterNode::ReplicaSet targets, Done done) {
  ++stats_.writes;
  size_t self = IncludeSelf(targets, node_.self_id());
  size_t required = std::clamp<size_t>(options_.write_quorum, 1, targets->size());
  struct WriteState {
    WriteQuorum quorum;
    Done done;
    WriteState(size_t n, size_t w, Done d) : quorum(n, w), done(std::move(d)) {}
  };
  auto st = std::make_shared<WriteState>(targets->size(), required, std::move(done));
  auto finish = [this, st]() {
    if (!st->done || st->quorum.state() == WriteQuorum::State::kPending) return;
    QuorumOutcome out;
    out.ok = st->quorum.state() == WriteQuorum::State::kSucceeded;
    out.got = st->quorum.ok_count();
    out.required = st->quorum.required();
    if (!out.ok) ++stats_.quorum_failures;
    Done d = std::move(st->done);
    st->done = nullptr;
    d(out);
  };
  st->quorum.AddAck(self);
  finish();
  int64_t deadline = Deadline();
  for (size_t i = 0; i < targets->size(); ++i) {
    if (i == self) continue;
    batcher_.Add((*targets)[i], "SHOAL.MPUT", {key, object}, deadline,
                 [st, i, finish](PeerOutcome outcome, const PeerReply* reply, bool late) {
                   if (late) return;
                   if (outcome == PeerOutcome::kReply && reply->type == PeerReply::Type::kStatus) {
                     st->quorum.AddAck(i);
                   } else {
                     st->quorum.AddFailure(i);
                   }
                   finish();
                 });
  }
}

void Coordinator::Forward(const NodeId& to, std::vector<std::string> argv, size_t required,
                          ForwardDone done) {
  ++stats_.forwards;
  // Batched puts and gets go first: on the link to `to` they must precede
  // this command, which may depend on them.
  batcher_.Flush();
  argv.insert(argv.begin(), "SHOAL.FWD");
  // The remote coordinator waits up to request-timeout-ms for its replicas;
  // give it that and as long again for the two hops.
  int64_t deadline = Deadline() + options_.request_timeout_ms;
  node_.Send(to, std::move(argv), deadline,
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

std::string ObjectDigest(const storage::Object& object, const storage::ActorTable& actors) {
  std::string bytes;
  object.EncodeWithNodeIds(actors, &bytes);
  uint64_t h = XXH3_64bits(bytes.data(), bytes.size());
  return std::string(reinterpret_cast<const char*>(&h), sizeof(h));
}

storage::Result<std::string> Coordinator::LocalObject(const std::string& key) {
  ++stats_.replica_gets;
  auto obj = keyspace_.Load(key, clock_.NowMs());
  if (!obj.ok()) return obj.status();
  std::string out;
  if (obj.value().Size() > 0) obj.value().EncodeWithNodeIds(keyspace_.actors(), &out);
  return out;
}

storage::Result<std::string> Coordinator::LocalObjectUnless(const std::string& key,
                                                            std::string_view digest, bool* same) {
  *same = false;
  auto bytes = LocalObject(key);
  if (!bytes.ok() || bytes.value().empty() || digest.size() != sizeof(uint64_t)) return bytes;
  uint64_t h = XXH3_64bits(bytes.value().data(), bytes.value().size());
  if (std::memcmp(&h, digest.data(), sizeof(h)) == 0) {
    *same = true;
    return std::string();
  }
  return bytes;
}

storage::Status Coordinator::ApplyRemote(const std::string& key, std::string_view object) {
  ++stats_.replica_puts;
  auto obj = storage::Object::DecodeWithNodeIds(object, keyspace_.actors());
  if (!obj.ok()) return obj.status();
  return keyspace_.Merge(key, obj.value(), clock_.NowMs());
}

}  // namespace shoal::cluster
