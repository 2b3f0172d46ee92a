#include "cluster/cluster.h"

#include <algorithm>

#include "facade/errors.h"

namespace shoal::cluster {
namespace {

ClusterNodeOptions NodeOptions(const ClusterOptions& o) {
  ClusterNodeOptions n;
  n.self = o.self;
  n.learn_host = o.learn_host;
  n.secret = o.secret;
  n.bind_addr = o.bind_addr;
  n.tls = o.tls;
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
  p.port = o.listen_cport != 0 ? o.listen_cport : o.self.cport;
  p.backlog = o.backlog;
  p.tls = o.tls;
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
      peer_server_(loop, clock, output, io, ServerOptions(options_)),
      transfer_(loop, node_, keyspace, clock, options_.log),
      reaper_(loop, node_, keyspace, clock),
      anti_entropy_(
          keyspace, clock,
          {options_.self.id,
           [this](uint32_t p) {
             // The nodes that hold the partition now (a new replica still
             // receiving it is left out until it holds it).
             std::vector<NodeId> out;
             for (const Target& t : *node_.PrimariesOfPartition(p, tuning_.replicas)) {
               if (t.reads()) out.push_back(t.node);
             }
             return out;
           },
           [this](const NodeId& id) { return node_.IsReachable(id); },
           [this](const NodeId& id, std::vector<std::string> argv, PeerCallback cb) {
             node_.Send(id, std::move(argv),
                        node_.LoopNowMs() + 10 * std::max<int64_t>(1, options_.exchange_timeout_ms),
                        std::move(cb));
           }}),
      loop_(loop) {
  using Argv = std::vector<std::string>;
  // Anti-entropy's per-key digests spare quorum reads an encode per key. A
  // coordinator takes only settled ones: for a key written since, it
  // compares causal digests instead (Coordinator::StartRead); a replica
  // asked for a byte digest settles its own, which it would encode anyway.
  coordinator_.set_stored_digests(
      [this](std::string_view key) { return anti_entropy_.trees().SettledDigestOf(key); });
  replica_.set_stored_digests(
      [this](std::string_view key) { return anti_entropy_.trees().DigestOf(key); });
  peer_server_.Register("SHOAL.MGET",
                        [this](facade::Connection&, Argv& argv, facade::ReplyBuilder& r) {
                          replica_.ServeGet(argv, r);
                        });
  peer_server_.Register("SHOAL.MPUT",
                        [this](facade::Connection&, Argv& argv, facade::ReplyBuilder& r) {
                          replica_.ServePut(argv, r);
                        });
  peer_server_.Register("SHOAL.MDELTA",
                        [this](facade::Connection&, Argv& argv, facade::ReplyBuilder& r) {
                          replica_.ServeDelta(argv, r);
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
  peer_server_.Register("SHOAL.HPUT",
                        [this](facade::Connection&, Argv& argv, facade::ReplyBuilder& r) {
                          replica_.ServeHintedPut(argv, r);
                        });
  // Answered at once: a forward link's command waits for it (peer/forward_links.h).
  peer_server_.Register(std::string(kBarrierCommand),
                        [](facade::Connection&, Argv&, facade::ReplyBuilder& r) { r.Ok(); });
  peer_server_.Register("SHOAL.FWD",
                        [this](facade::Connection& c, Argv& argv, facade::ReplyBuilder& r) {
                          dispatcher_.ServeForward(c, argv, r);
                        });
  peer_server_.Register("SHOAL.LOCAL",
                        [this](facade::Connection& c, Argv& argv, facade::ReplyBuilder& r) {
                          dispatcher_.ServeLocal(c, argv, r);
                        });
  peer_server_.Register("SHOAL.XFER",
                        [this](facade::Connection&, Argv& argv, facade::ReplyBuilder& r) {
                          transfer_.ServeScan(argv, r);
                        });
  peer_server_.Register("SHOAL.PURGECHECK",
                        [this](facade::Connection&, Argv& argv, facade::ReplyBuilder& r) {
                          reaper_.ServeCheck(argv, r);
                        });
  peer_server_.Register("SHOAL.PURGE",
                        [this](facade::Connection&, Argv& argv, facade::ReplyBuilder& r) {
                          reaper_.ServePurge(argv, r);
                        });
  peer_server_.Register("SHOAL.AEBRANCH",
                        [this](facade::Connection&, Argv& argv, facade::ReplyBuilder& r) {
                          anti_entropy_.ServeBranches(argv, r);
                        });
  peer_server_.Register("SHOAL.AELEAF",
                        [this](facade::Connection&, Argv& argv, facade::ReplyBuilder& r) {
                          anti_entropy_.ServeLeaves(argv, r);
                        });
  peer_server_.Register("SHOAL.AEKEYS",
                        [this](facade::Connection&, Argv& argv, facade::ReplyBuilder& r) {
                          anti_entropy_.ServeKeys(argv, r);
                        });
  peer_server_.set_on_verified([this](facade::Connection& c, const std::string& id) {
    node_.OnInboundPeer(id, c.local_host());
  });
  peer_server_.set_on_closed([this](facade::Connection& c) { dispatcher_.OnConnectionClosed(c); });
  node_.set_on_ring_change([this] { OnRingChange(); });
  node_.set_on_removed([this] { Gone("This node was removed from the cluster"); });
  transfer_.set_on_departed([this] { Gone("This node left the cluster"); });
  keyspace_.changes().Subscribe(&dispatcher_);
}

Cluster::~Cluster() {
  Stop();
  keyspace_.changes().Unsubscribe(&dispatcher_);
}

storage::Status Cluster::Start() {
  const HandoffOptions& h = options_.handoff;
  if (h.enabled && options_.env != nullptr) {
    HintStoreOptions ho;
    ho.sync = h.sync;
    ho.max_age_ms = h.max_age_ms;
    ho.max_bytes = h.max_bytes;
    // Two hints for one key merge as objects do, so pending hints are
    // bounded by keys, not writes.
    ho.merge = [this](std::string_view older,
                      std::string_view newer) -> storage::Result<std::string> {
      auto a = storage::Object::DecodeWithNodeIds(older, keyspace_.actors());
      if (!a.ok()) return a.status();
      auto b = storage::Object::DecodeWithNodeIds(newer, keyspace_.actors());
      if (!b.ok()) return b.status();
      a.value().Merge(b.value());
      std::string out;
      a.value().EncodeWithNodeIds(keyspace_.actors(), &out);
      return out;
    };
    auto store = HintStore::Open(options_.env, options_.dir, std::move(ho));
    if (!store.ok()) return store.status();
    hints_ = std::move(store).value();
    for (const std::string& w : hints_->recovery_warnings()) {
      if (options_.log) options_.log(LogSeverity::kWarning, "hint log: " + w);
    }
    replica_.set_hints(hints_.get());
    reaper_.set_hints(hints_.get());
    coordinator_.set_local_replica(&replica_);
    const uint64_t period =
        static_cast<uint64_t>(std::max<int64_t>(10, options_.gossip_interval_ms));
    int rc = handoff_timer_.Init(loop_, this);
    if (rc == 0)
      rc = uv_timer_start(handoff_timer_.get(), &Cluster::OnHandoffTimer, period, period);
    if (rc != 0) return storage::Status::IOError(std::string("hand-off timer: ") + uv_strerror(rc));
  }
  if (int rc = ae_timer_.Init(loop_, this); rc != 0) {
    return storage::Status::IOError(std::string("anti-entropy timer: ") + uv_strerror(rc));
  }
  ConfigureAntiEntropy();
  storage::Status st = peer_server_.Listen();
  if (!st.ok()) return st;
  st = reaper_.Start();
  if (!st.ok()) return st;
  st = node_.Start(options_.seeds);
  if (!st.ok()) return st;
  // A node that rejoined from its saved membership is a cluster member from
  // the start, without a ring change to say so.
  OnRingChange();
  return transfer_.Start();
}

void Cluster::Gone(std::string why) {
  // Called from inside peer callbacks: the server stops from a fresh loop
  // iteration, never under the links it closes.
  if (stopped_ || !gone_why_.empty()) return;
  gone_why_ = std::move(why);
  if (gone_timer_.Init(loop_, this) != 0 ||
      uv_timer_start(gone_timer_.get(), &Cluster::OnGoneTimer, 0, 0) != 0) {
    if (options_.on_gone) options_.on_gone(gone_why_);
  }
}

void Cluster::OnGoneTimer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<Cluster*>(timer->data);
  if (self->options_.on_gone) self->options_.on_gone(self->gone_why_);
}

storage::Status Cluster::Forget(const NodeId& id) {
  // Only a node the failure detector holds dead: a live one leaves with
  // CLUSTER LEAVE, which hands its data over first.
  // (Itself and unknown ids: node_.Forget's errors.)
  if (id != node_.self_id() && node_.membership().Find(id) != nullptr &&
      (node_.IsReachable(id) || node_.StateOf(id) != MemberState::kDead)) {
    return storage::Status::Invalid(
        "can't forget a node that is not failed; stop it first or use CLUSTER LEAVE on it");
  }
  storage::Status st = node_.Forget(id);
  if (st.ok() && hints_) (void)hints_->DropTarget(id);
  return st;
}

storage::Status Cluster::CommitHints() {
  return hints_ ? hints_->Commit() : storage::Status::Ok();
}

void Cluster::OnHandoffTimer(uv_timer_t* timer) noexcept {
  static_cast<Cluster*>(timer->data)->HandOff();
}

void Cluster::HandOff() {
  if (stopped_ || !hints_) return;
  (void)hints_->Expire(clock_.NowMs());  // counted in the store's stats
  for (const std::string& target : hints_->Targets()) HandOffTo(target);
}

void Cluster::HandOffTo(const NodeId& target) {
  if (stopped_ || !hints_ || handoff_in_flight_.contains(target) || !node_.IsReachable(target)) {
    return;
  }
  const HandoffOptions& h = options_.handoff;
  std::vector<HintItem> batch = hints_->NextBatch(target, h.batch_items, h.batch_bytes);
  if (batch.empty()) return;
  // One frame in flight per owner: the next leaves when this one is
  // acknowledged, so hand-off never has more than one batch queued on a
  // link ahead of client traffic. The owner merges (SHOAL.MPUT), so a hint
  // sent twice is harmless.
  std::vector<std::string> argv{"SHOAL.MPUT"};
  std::vector<std::pair<std::string, uint64_t>> sent;
  for (HintItem& item : batch) {
    sent.emplace_back(item.key, item.seq);
    argv.push_back(std::move(item.key));
    argv.push_back(std::move(item.object));
  }
  handoff_in_flight_.insert(target);
  ++handoff_stats_.batches;
  const int64_t deadline =
      node_.LoopNowMs() + 10 * std::max<int64_t>(1, options_.exchange_timeout_ms);
  node_.Send(target, std::move(argv), deadline,
             [this, target, sent = std::move(sent)](PeerOutcome outcome, const PeerReply* reply,
                                                    bool late) {
               if (late) return;
               handoff_in_flight_.erase(target);
               if (stopped_ || !hints_) return;
               if (outcome != PeerOutcome::kReply || reply->type != PeerReply::Type::kArray ||
                   reply->elements.size() != sent.size()) {
                 ++handoff_stats_.failures;
                 return;  // retried at the next period
               }
               for (size_t i = 0; i < sent.size(); ++i) {
                 if (reply->elements[i].type != PeerReply::Type::kStatus) continue;
                 if (hints_->Delivered(target, sent[i].first, sent[i].second)) {
                   ++handoff_stats_.delivered;
                 }
               }
               HandOffTo(target);  // the next batch, if any
             });
}

void Cluster::Stop() {
  if (stopped_) return;
  stopped_ = true;
  handoff_timer_.reset();
  gone_timer_.reset();
  reaper_.Stop();
  ae_timer_.reset();
  anti_entropy_.Stop();
  if (hints_) {
    storage::Status st = hints_->Close();
    if (!st.ok() && options_.fatal) options_.fatal(st);
  }
  // Frames still batched go out (and fail) while everything they call back
  // into is alive; then the links close, failing whatever is in flight.
  transport_.Close();
  transfer_.Stop();
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
  d.sloppy_quorum = t.sloppy_quorum;
  dispatcher_.set_options(d);
  TransferOptions to = transfer_.options();
  to.replicas = t.replicas;
  to.durable = options_.durable;
  to.request_timeout_ms = 10 * std::max<int64_t>(1, options_.exchange_timeout_ms);
  // A state change is pushed to peers at once and spreads in a few
  // exchanges whatever the gossip period; these delays cover that.
  to.drop_delay_ms = std::clamp<int64_t>(5 * options_.gossip_interval_ms, 2000, 10000);
  to.settle_delay_ms = std::clamp<int64_t>(5 * options_.gossip_interval_ms, 500, 2000);
  transfer_.set_options(to);
  ReaperOptions ro;
  ro.grace_ms = t.tombstone_grace_ms;
  ro.replicas = t.replicas;
  ro.timeout_ms = t.request_timeout_ms;
  reaper_.set_options(ro);
  tuning_ = t;
  OnRingChange();
}

void Cluster::OnAntiEntropyTimer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<Cluster*>(timer->data);
  self->anti_entropy_.Tick(self->node_.LoopNowMs());
}

void Cluster::ConfigureAntiEntropy() {
  // Anti-entropy needs the store's partition index, set below once the
  // cluster has more than one member; a lone node keeps no trees.
  const uint32_t q = node_.ring().partition_count();
  AntiEntropyOptions ao;
  ao.interval_ms = tuning_.anti_entropy_interval_ms;
  anti_entropy_.Configure(
      active() && keyspace_.store().partitions() == q, q,
      [q](std::string_view key) { return PartitionOfHash(KeyHash(key), q); }, ao);
  if (stopped_ || ae_timer_.get() == nullptr) return;
  // Ticks drive tree building and exchanges; an exchange starts at most
  // once per interval, so the tick only bounds how late it starts.
  const uint64_t period = anti_entropy_.enabled()
                              ? static_cast<uint64_t>(std::clamp<int64_t>(ao.interval_ms, 10, 100))
                              : 0;
  if (period == ae_timer_period_ms_) return;
  ae_timer_period_ms_ = period;
  const int rc =
      period == 0 ? uv_timer_stop(ae_timer_.get())
                  : uv_timer_start(ae_timer_.get(), &Cluster::OnAntiEntropyTimer, period, period);
  if (rc != 0 && options_.log) {
    options_.log(LogSeverity::kWarning, std::string("anti-entropy timer: ") + uv_strerror(rc));
  }
}

void Cluster::OnRingChange() {
  if (!active()) return ConfigureAntiEntropy();
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
  ConfigureAntiEntropy();
}

}  // namespace shoal::cluster
