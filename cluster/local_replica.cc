#include "cluster/local_replica.h"

#include <cstring>

#include <xxhash.h>

#include "cluster/hint_store.h"
#include "facade/errors.h"
#include "storage/container_delta.h"

namespace shoal::cluster {

std::string ObjectDigest(const storage::Object& object, const storage::ActorTable& actors) {
  std::string bytes;
  object.EncodeWithNodeIds(actors, &bytes);
  return DigestBytes(XXH3_64bits(bytes.data(), bytes.size()));
}

std::string DigestBytes(uint64_t digest) {
  return std::string(reinterpret_cast<const char*>(&digest), sizeof(digest));
}

std::string CausalDigestBytes(uint64_t digest) {
  return kCausalDigestTag + DigestBytes(digest);
}

namespace {

bool SameDigest(uint64_t mine, std::string_view theirs) {
  return theirs.size() == sizeof(mine) && std::memcmp(&mine, theirs.data(), sizeof(mine)) == 0;
}

}  // namespace

storage::Result<std::string> LocalReplica::LocalObjectUnless(std::string_view key,
                                                             std::string_view digest, bool* same) {
  ++stats_.gets;
  *same = false;
  const bool causal = digest.size() == 1 + sizeof(uint64_t) && digest[0] == kCausalDigestTag;
  if (causal) digest.remove_prefix(1);
  const bool no_hints = hints_ == nullptr || hints_->empty();
  // The common case, a replica that agrees: its cached container's causal
  // digest or its stored digest says so (unless a hint for the key would
  // change the answer).
  if (causal && no_hints) {
    if (auto d = keyspace_.CachedBaseDigest(key, clock_.NowMs()); d && SameDigest(*d, digest)) {
      *same = true;
      return std::string();
    }
  } else if (digest.size() == sizeof(uint64_t) && stored_digests_ && no_hints) {
    if (std::optional<uint64_t> d = stored_digests_(key); d && SameDigest(*d, digest)) {
      *same = true;
      return std::string();
    }
  }
  auto obj = keyspace_.Load(key, clock_.NowMs());
  if (!obj.ok()) return obj.status();
  // A fallback answers with what it holds for the key's owners too.
  if (hints_ != nullptr && !hints_->empty()) {
    for (const std::string& target : hints_->Targets()) {
      const std::string* hinted = hints_->Find(target, key);
      if (hinted == nullptr) continue;
      auto h = storage::Object::DecodeWithNodeIds(*hinted, keyspace_.actors());
      if (h.ok()) obj.value().Merge(h.value());
    }
  }
  std::string out;
  if (obj.value().Size() == 0) return out;
  if (causal && SameDigest(storage::BaseDigest(obj.value(), keyspace_.actors()), digest)) {
    *same = true;
    return out;
  }
  obj.value().EncodeWithNodeIds(keyspace_.actors(), &out);
  if (causal || digest.size() != sizeof(uint64_t)) return out;
  if (SameDigest(XXH3_64bits(out.data(), out.size()), digest)) {
    *same = true;
    return std::string();
  }
  return out;
}

storage::Status LocalReplica::ApplyRemote(std::string_view key, std::string_view object) {
  ++stats_.puts;
  auto obj = storage::Object::DecodeWithNodeIds(object, keyspace_.actors());
  if (!obj.ok()) return obj.status();
  return keyspace_.Merge(key, obj.value(), clock_.NowMs());
}

storage::Status LocalReplica::ApplyRemoteDelta(std::string_view key, std::string_view delta) {
  storage::Status st = keyspace_.ApplyDelta(key, delta, clock_.NowMs());
  if (st.ok()) ++stats_.deltas_applied;
  if (st.code() == storage::Code::kStale) ++stats_.deltas_stale;
  return st;
}

storage::Status LocalReplica::StoreHint(std::string_view owner, std::string_view key,
                                        std::string_view object) {
  if (hints_ == nullptr) return storage::Status::Invalid("hinted handoff is off");
  // Peer input: the object must decode before it is kept.
  auto obj = storage::Object::DecodeWithNodeIds(object, keyspace_.actors());
  if (!obj.ok()) return obj.status();
  auto added = hints_->Add(owner, key, object, clock_.NowMs());
  if (!added.ok()) return added.status();
  ++stats_.hints;
  return storage::Status::Ok();
}

void LocalReplica::ServeHintedPut(const std::vector<std::string>& argv,
                                  facade::ReplyBuilder& reply) {
  if (argv.size() < 4 || (argv.size() - 1) % 3 != 0) {
    return reply.Error(facade::errors::BadPeerFrame("SHOAL.HPUT"));
  }
  reply.ArrayHeader((argv.size() - 1) / 3);
  for (size_t i = 1; i + 2 < argv.size(); i += 3) {
    storage::Status st = StoreHint(argv[i + 2], argv[i], argv[i + 1]);
    if (st.ok()) {
      reply.Ok();
    } else {
      reply.Error("ERR " + st.message());
    }
  }
}

void LocalReplica::ServeGet(const std::vector<std::string>& argv, facade::ReplyBuilder& reply) {
  if (argv.size() < 3 || argv.size() % 2 == 0)
    return reply.Error(facade::errors::BadPeerFrame("SHOAL.MGET"));
  // Pairs of key and the coordinator's digest of its copy (empty: none).
  reply.ArrayHeader((argv.size() - 1) / 2);
  for (size_t i = 1; i + 1 < argv.size(); i += 2) {
    bool same = false;
    auto obj = LocalObjectUnless(argv[i], argv[i + 1], &same);
    if (!obj.ok()) {
      reply.Error("ERR " + obj.status().message());
    } else if (same) {
      reply.Simple("=");
    } else if (obj.value().empty()) {
      reply.Null();
    } else {
      reply.Bulk(obj.value());
    }
  }
}

void LocalReplica::ServePut(const std::vector<std::string>& argv, facade::ReplyBuilder& reply) {
  if (argv.size() < 3 || argv.size() % 2 == 0)
    return reply.Error(facade::errors::BadPeerFrame("SHOAL.MPUT"));
  reply.ArrayHeader((argv.size() - 1) / 2);
  for (size_t i = 1; i + 1 < argv.size(); i += 2) {
    storage::Status st = ApplyRemote(argv[i], argv[i + 1]);
    if (st.ok()) {
      reply.Ok();
    } else {
      reply.Error("ERR " + st.message());
    }
  }
}

void LocalReplica::ServeDelta(const std::vector<std::string>& argv, facade::ReplyBuilder& reply) {
  if (argv.size() < 3 || argv.size() % 2 == 0)
    return reply.Error(facade::errors::BadPeerFrame("SHOAL.MDELTA"));
  reply.ArrayHeader((argv.size() - 1) / 2);
  for (size_t i = 1; i + 1 < argv.size(); i += 2) {
    storage::Status st = ApplyRemoteDelta(argv[i], argv[i + 1]);
    if (st.ok()) {
      reply.Ok();
    } else if (st.code() == storage::Code::kStale) {
      reply.Error(std::string(kStaleDeltaError) + " " + st.message());
    } else {
      reply.Error("ERR " + st.message());
    }
  }
}

}  // namespace shoal::cluster
