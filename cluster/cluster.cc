#include "cluster/cluster.h"

#include "facade/errors.h"

namespace shoal::cluster {
namespace {

ClusterNodeOptions NodeOptions(const ClusterOptions& o) {
  ClusterNodeOptions n;
  n.self = o.self;
  n.secret = o.secret;
  n.bind_addr = o.bind_addr;
  n.partitions = o.partitions;
  n.exchange_interval_ms = o.gossip_interval_ms;
  n.request_timeout_ms = o.exchange_timeout_ms;
  n.node_timeout_ms = o.node_timeout_ms;
  n.log = o.log;
  n.env = o.env;
  n.dir = o.dir;
  n.fatal = o.fatal;
  return n;
}

PeerServerOptions ServerOptions(const ClusterOptions& o) {
  PeerServerOptions p;
  p.self_id = o.self.id;
  p.secret = o.secret;
  p.host = o.listen_addr;
  p.port = o.self.cport;
  p.backlog = o.backlog;
  p.log = o.log;
  return p;
}

}  // namespace

Cluster::Cluster(uv_loop_t* loop, storage::Keyspace& keyspace, const storage::Clock& clock,
                 CommandHost& host, facade::OutputBatch& output, facade::IoStats& io,
                 ClusterOptions options)
    : options_(std::move(options)),
      keyspace_(keyspace),
      clock_(clock),
      node_(loop, NodeOptions(options_)),
      transport_(loop, node_),
      coordinator_(transport_, keyspace, clock, options_.self.id),
      replica_(keyspace, clock),
      dispatcher_(node_, coordinator_, transport_, keyspace, clock, host),
      peer_server_(loop, clock, output, io, ServerOptions(options_)) {
  using Argv = std::vector<std::string>;
  peer_server_.Register("SHOAL.MGET",
                        [this](facade::Connection&, Argv& argv, facade::ReplyBuilder& r) {
                          replica_.ServeGet(argv, r);
                        });
  peer_server_.Register("SHOAL.MPUT",
                        [this](facade::Connection&, Argv& argv, facade::ReplyBuilder& r) {
                          replica_.ServePut(argv, r);
                        });
  peer_server_.Register("SHOAL.MEMBERS",
                        [this](facade::Connection&, Argv& argv, facade::ReplyBuilder& r) {
                          if (argv.size() != 2)
                            return r.Error(facade::errors::BadPeerFrame("SHOAL.MEMBERS"));
                          auto blob = node_.OnMembers(argv[1]);
                          if (!blob.ok()) return r.Error("ERR " + blob.status().message());
                          r.Bulk(blob.value());
                        });
  peer_server_.Register("SHOAL.SWIM",
                        [this](facade::Connection& c, Argv& argv, facade::ReplyBuilder& r) {
                          const std::string* from = peer_server_.RemoteId(c);
                          if (argv.size() != 2 || from == nullptr)
                            return r.Error(facade::errors::BadPeerFrame("SHOAL.SWIM"));
                          storage::Status st = node_.OnSwim(*from, argv[1]);
                          if (!st.ok()) return r.Error("ERR " + st.message());
                          r.Ok();
                        });
  peer_server_.Register("SHOAL.FWD",
                        [this](facade::Connection& c, Argv& argv, facade::ReplyBuilder& r) {
                          dispatcher_.ServeForward(c, argv, r);
                        });
  peer_server_.Register("SHOAL.LOCAL",
                        [this](facade::Connection& c, Argv& argv, facade::ReplyBuilder& r) {
                          dispatcher_.ServeLocal(c, argv, r);
                        });
  peer_server_.set_on_closed([this](facade::Connection& c) { dispatcher_.OnConnectionClosed(c); });
  node_.set_on_ring_change([this] { OnRingChange(); });
  keyspace_.changes().Subscribe(&dispatcher_);
}

Cluster::~Cluster() {
  Stop();
  keyspace_.changes().Unsubscribe(&dispatcher_);
}

storage::Status Cluster::Start() {
  storage::Status st = peer_server_.Listen();
  if (!st.ok()) return st;
  return node_.Start(options_.seeds);
}

void Cluster::Stop() {
  if (stopped_) return;
  stopped_ = true;
  // Frames still batched go out (and fail) while everything they call back
  // into is alive; then the links close, failing whatever is in flight.
  transport_.Close();
  node_.Stop();
  peer_server_.Close();
}

void Cluster::Tune(const ClusterTuning& t) {
  CoordinatorOptions co;
  co.read_quorum = t.read_quorum;
  co.write_quorum = t.write_quorum;
  co.request_timeout_ms = t.request_timeout_ms;
  co.read_repair = t.read_repair;
  coordinator_.set_options(co);
  DispatcherOptions d;
  d.replicas = t.replicas;
  d.read_quorum = t.read_quorum;
  d.write_quorum = t.write_quorum;
  d.request_timeout_ms = t.request_timeout_ms;
  dispatcher_.set_options(d);
  OnRingChange();
}

void Cluster::OnRingChange() {
  if (!active()) return;
  // A replica must keep tombstones until every replica has them, or a
  // replica that missed the delete brings the value back.
  if (!keyspace_.options().keep_tombstones) {
    storage::KeyspaceOptions ko = keyspace_.options();
    ko.keep_tombstones = true;
    keyspace_.set_options(ko);
  }
  // The store indexes its keys by ring partition, so that one partition can
  // be walked without the others (anti-entropy, transfer). A lone node pays
  // nothing for it.
  const uint32_t q = node_.ring().partition_count();
  storage::Store& store = keyspace_.store();
  if (store.partitions() != q) {
    store.SetPartitioner(
        {q, [q](std::string_view key) { return PartitionOfHash(KeyHash(key), q); }});
  }
}

}  // namespace shoal::cluster
