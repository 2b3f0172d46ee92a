#pragma once
// TestNode: one replica in-process, for the coordinator and replica tests: the
// storage a node keeps (Store, ActorTable, DotCounter, Keyspace) and its
// LocalReplica, which serves peer frames as the running node does. Serve()
// runs a frame and parses the RESP answer back with the peer channel's own
// reader (cluster::ParseReply).

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "cluster/local_replica.h"
#include "cluster/peer/client.h"
#include "cluster/peer/protocol.h"
#include "facade/reply_builder.h"
#include "storage/actor_table.h"
#include "storage/clock.h"
#include "storage/container_delta.h"
#include "storage/dot_counter.h"
#include "storage/keyspace.h"
#include "storage/object.h"
#include "storage/or_set.h"
#include "storage/store.h"

namespace shoal::cluster::testing {

class TestNode {
 public:
  // `id` is the node id (40 lower-case hex characters). `clock` must outlive
  // the node.
  TestNode(std::string id, const storage::Clock& clock)
      : id_(std::move(id)),
        clock_(clock),
        keyspace_(store_, actors_, actors_.Intern(id_).value(), dots_),
        replica_(keyspace_, clock) {}

  const std::string& id() const { return id_; }
  storage::Store& store() { return store_; }
  storage::ActorTable& actors() { return actors_; }
  storage::Keyspace& keyspace() { return keyspace_; }
  LocalReplica& replica() { return replica_; }

  // A plain write coordinated by this node (SET).
  void Set(std::string_view key, std::string value) {
    int64_t now = clock_.NowMs();
    REQUIRE(keyspace_.Put(key, storage::Version::Bytes(std::move(value), now), now).ok());
  }

  // A one-member SADD coordinated by this node.
  void AddMember(std::string_view key, const std::string& member) {
    REQUIRE(keyspace_
                .ModifySet(key, clock_.NowMs(),
                           [&](storage::OrSet& s,
                               storage::Keyspace::ContainerWrite& w) -> storage::Result<bool> {
                             s.Add(member, w.dot);
                             return true;
                           })
                .ok());
  }

  // The causal digest SHOAL.MGET takes for the key's object (tag and bytes).
  std::string CausalDigest(std::string_view key) {
    return CausalDigestBytes(storage::BaseDigest(Load(key), actors_));
  }

  storage::Object Load(std::string_view key) {
    auto obj = keyspace_.Load(key, clock_.NowMs());
    REQUIRE(obj.ok());
    return std::move(obj).value();
  }

  // The key's live values as GET shows them (oldest first).
  std::vector<std::string> Values(std::string_view key) {
    return Load(key).LiveValues(clock_.NowMs(), actors_);
  }

  // The key's object in the node-id encoding (what goes over the wire).
  std::string Encoded(std::string_view key) {
    std::string out;
    Load(key).EncodeWithNodeIds(actors_, &out);
    return out;
  }

  // ObjectDigest of the key's object.
  std::string Digest(std::string_view key) { return ObjectDigest(Load(key), actors_); }

  // Runs a SHOAL.MGET, SHOAL.MPUT or SHOAL.MDELTA frame on the LocalReplica
  // and returns its reply, parsed.
  PeerReply Serve(const std::vector<std::string>& argv) {
    std::string out;
    facade::ReplyBuilder reply(&out);
    if (argv.at(0) == "SHOAL.MGET") {
      replica_.ServeGet(argv, reply);
    } else if (argv.at(0) == "SHOAL.MDELTA") {
      replica_.ServeDelta(argv, reply);
    } else {
      REQUIRE(argv.at(0) == "SHOAL.MPUT");
      replica_.ServePut(argv, reply);
    }
    auto parsed = ParseReply(out);
    REQUIRE(parsed.ok());
    return std::move(parsed).value();
  }

  // Copies this node's object of `key` to `to` as replication would.
  void CopyTo(TestNode& to, std::string_view key) {
    PeerReply r = to.Serve({"SHOAL.MPUT", std::string(key), Encoded(key)});
    REQUIRE(r.type == PeerReply::Type::kArray);
    REQUIRE(r.elements.size() == 1);
    REQUIRE(r.elements[0].type == PeerReply::Type::kStatus);
  }

 private:
  std::string id_;
  const storage::Clock& clock_;
  storage::Store store_;
  storage::ActorTable actors_;
  storage::DotCounter dots_;
  storage::Keyspace keyspace_;
  LocalReplica replica_;
};

}  // namespace shoal::cluster::testing
