#include "cluster/cluster_node.h"

#include <algorithm>
#include <random>

#include "cluster/membership_file.h"
#include "cluster/peer/log_text.h"
#include "cluster/placement.h"

namespace shoal::cluster {

ClusterNode::ClusterNode(uv_loop_t* loop, ClusterNodeOptions options)
    : loop_(loop),
      options_(std::move(options)),
      membership_(Membership::Solo(options_.self, options_.partitions)),
      advertised_(options_.self.host, options_.learn_host),
      forward_links_(std::make_unique<ForwardLinks>(loop, PeerOptions())) {}

ClusterNode::~ClusterNode() {
  Stop();
}

void ClusterNode::Log(LogSeverity sev, const std::string& msg) const {
  // Lines carry peer-supplied strings (ids, addresses, error texts): no
  // control byte of theirs reaches the log as it is.
  if (options_.log) options_.log(sev, EscapeLogLine(msg));
}

storage::Status ClusterNode::Start(const std::vector<PeerAddress>& seeds) {
  if (options_.env != nullptr) {
    auto saved = LoadMembership(options_.env, options_.dir);
    if (!saved.ok()) return saved.status();
    if (saved.value().has_value()) {
      Membership& m = *saved.value();
      if (m.Find(options_.self.id) == nullptr) {
        return storage::Status::Corruption(options_.dir + "/" + kMembershipFileName +
                                           ": does not list this node (" + options_.self.id +
                                           "); move it away to start as a new node");
      }
      if (m.ring().partition_count() != options_.partitions) {
        return storage::Status::Invalid(
            "vnodes is " + std::to_string(options_.partitions) + " but this node's cluster has " +
            std::to_string(m.ring().partition_count()) + " partitions (" + options_.dir + "/" +
            kMembershipFileName + ")");
      }
      // Our entry may have a new address; the fresh incarnation wins merges.
      m.UpdateSelf(options_.self);
      membership_ = std::move(m);
      Log(LogSeverity::kNotice,
          "rejoining a cluster of " + std::to_string(membership_.members().size()) +
              " known members (ring epoch " + std::to_string(membership_.epoch()) + ")");
      SyncLinks();
    }
    Save();
  }
  // The failure detector starts at our incarnation (the start time, so a
  // restarted node is above its previous life) with every known member alive.
  {
    std::random_device rd;
    const uint64_t seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    rng_.seed(seed ^ 0x9e3779b97f4a7c15ull);
    detector_ = std::make_unique<FailureDetector>(
        options_.self.id, options_.self.incarnation,
        FailureDetectorParams::FromSettings(options_.node_timeout_ms,
                                            options_.exchange_interval_ms),
        seed, NowMs());
    SyncDetector();
    const uint64_t tick =
        static_cast<uint64_t>(std::max<int64_t>(5, options_.exchange_interval_ms / 4));
    int src = swim_timer_.Init(loop_, this);
    if (src == 0) src = uv_timer_start(swim_timer_.get(), &ClusterNode::OnSwimTimer, tick, tick);
    if (src != 0) {
      // Without it no member is ever probed: nodes are never marked down and
      // requests keep waiting for frozen ones. Loud, and refused.
      return storage::Status::IOError(std::string("failure detector timer: ") + uv_strerror(src));
    }
  }
  uint64_t period = static_cast<uint64_t>(std::max<int64_t>(10, options_.exchange_interval_ms));
  int rc = timer_.Init(loop_, this);
  if (rc == 0) rc = uv_timer_start(timer_.get(), &ClusterNode::OnTimer, period, period);
  if (rc != 0) {
    // Peers still exchange state when they connect and after every change,
    // but nothing repeats it and retired links wait for Stop(): say so loudly.
    Log(LogSeverity::kWarning,
        std::string("cannot start the membership exchange timer: ") + uv_strerror(rc));
    timer_.reset();
  }
  for (const PeerAddress& seed : seeds) Meet(seed);
  return storage::Status::Ok();
}

void ClusterNode::Save() {
  if (options_.env == nullptr) return;
  storage::Status st = SaveMembership(options_.env, options_.dir, membership_);
  if (!st.ok() && options_.fatal) options_.fatal(st);
}

void ClusterNode::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (rows_dirty_ && !removed_) Save();
  rows_dirty_ = false;
  rows_timer_.reset();
  timer_.reset();
  swim_timer_.reset();
  forward_links_->Clear();
  by_id_.clear();
  clients_.clear();
  retired_.clear();
}

void ClusterNode::Meet(const PeerAddress& addr) {
  if (stopped_) return;
  const MemberInfo& self = options_.self;
  if (addr.host == self.host && addr.cport == self.cport) return;  // a seed list naming us
  for (const auto& c : clients_) {
    if (c->host() == addr.host && c->port() == addr.cport) return;  // already linked
  }
  AddClient(addr.host, addr.cport);
}

PeerClientOptions ClusterNode::PeerOptions() const {
  PeerClientOptions po;
  po.self_id = options_.self.id;
  po.secret = options_.secret;
  po.bind_addr = options_.bind_addr;
  po.tls = options_.tls;
  po.handshake_timeout_ms = std::max<int64_t>(options_.request_timeout_ms, 500);
  return po;
}

PeerClient* ClusterNode::AddClient(const std::string& host, int cport) {
  PeerClientOptions po = PeerOptions();
  // The events name their client, which does not exist yet when they are
  // made: they share a slot filled right after construction.
  auto slot = std::make_shared<PeerClient*>(nullptr);
  PeerClientEvents events;
  events.on_ready = [this, slot](const std::string& id) {
    if (*slot != nullptr) OnReady(*slot, id);
  };
  events.on_down = [this, slot](const std::string& why) {
    if (*slot == nullptr) return;
    Log(LogSeverity::kVerbose,
        "peer " + (*slot)->host() + ":" + std::to_string((*slot)->port()) + " down: " + why);
  };
  events.on_auth_failure = [this](const std::string& why) {
    ++stats_.auth_failures;
    Log(LogSeverity::kWarning, why);  // names the peer's address already
  };
  auto client = std::make_unique<PeerClient>(loop_, host, cport, po, std::move(events));
  PeerClient* raw = client.get();
  *slot = raw;
  clients_.push_back(std::move(client));
  raw->Start();
  return raw;
}

void ClusterNode::Retire(PeerClient* client) {
  for (auto it = by_id_.begin(); it != by_id_.end();) {
    if (it->second != client) {
      ++it;
      continue;
    }
    forward_links_->Drop(it->first);
    it = by_id_.erase(it);
  }
  auto it = std::find_if(clients_.begin(), clients_.end(),
                         [client](const auto& c) { return c.get() == client; });
  if (it == clients_.end()) return;
  retired_.push_back(std::move(*it));
  clients_.erase(it);
}

void ClusterNode::OnReady(PeerClient* client, const std::string& remote_id) {
  if (stopped_) return;
  if (remote_id == options_.self.id) {
    // A seed or MEET address that turned out to be this node.
    Retire(client);
    return;
  }
  auto it = by_id_.find(remote_id);
  if (it != by_id_.end() && it->second != client) {
    // Two links to one node (a seed address and its member entry): keep
    // the one that just proved itself.
    Retire(it->second);
  }
  if (client->stats().connects > 1) ++stats_.peer_reconnects;
  by_id_[remote_id] = client;
  Log(LogSeverity::kVerbose, "peer " + LogRepr(remote_id) + " at " + client->host() + ":" +
                                 std::to_string(client->port()) + " connected");
  // Learnt before the exchange, so that the peer hears the new entry at once.
  const bool spread = LearnHost(
      client->local_host(), "the local address of the connection to peer " + remote_id + " at " +
                                client->host() + ":" + std::to_string(client->port()));
  if (!spread) ExchangeWith(*client);
}

void ClusterNode::OnInboundPeer(const NodeId& from, std::string_view local_host) {
  if (stopped_ || from == options_.self.id) return;
  LearnHost(local_host, "the address peer " + from + " connected to");
}

bool ClusterNode::LearnHost(std::string_view local_host, const std::string& how) {
  const AdvertisedHost::Offer offer = advertised_.Consider(local_host);
  if (offer == AdvertisedHost::Offer::kIgnored) return false;
  if (offer == AdvertisedHost::Offer::kConfirmed) {
    Log(LogSeverity::kNotice, "Cluster address " + advertised_.host() + " confirmed by " + how);
    return false;
  }
  const std::string before = options_.self.host;
  options_.self.host = advertised_.host();
  // Membership::UpdateSelf wants a higher incarnation with every change, or
  // the entry peers hold would win the next merge.
  const MemberInfo* current = membership_.Find(options_.self.id);
  options_.self.incarnation =
      std::max(options_.self.incarnation, current != nullptr ? current->incarnation : 0) + 1;
  membership_.UpdateSelf(options_.self);
  ++state_gen_;
  Log(LogSeverity::kNotice,
      "Cluster address is now " + advertised_.host() + " (was " + before + "), learnt from " + how);
  Save();
  Exchange();
  return true;
}

void ClusterNode::OnRowsTimer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<ClusterNode*>(timer->data);
  if (self->stopped_ || !self->rows_dirty_) return;
  self->rows_dirty_ = false;
  self->Save();
  self->Exchange();
}

void ClusterNode::OnTimer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<ClusterNode*>(timer->data);
  self->retired_.clear();
  if (self->rows_dirty_) {
    self->rows_dirty_ = false;
    self->Save();
  }
  self->Exchange();
}

void ClusterNode::Exchange() {
  // Gossip: a push-pull of the whole state with a few random peers, every
  // period and after every change. A change reaches everyone in O(log n)
  // periods; a round costs kGossipFanout exchanges per node whatever the
  // cluster's size or key count, and, as every round is a full state, a node
  // that missed updates catches up at its next exchange.
  std::vector<PeerClient*> ready;
  for (auto& [id, client] : by_id_) {
    if (client->ready()) ready.push_back(client);
  }
  const size_t fanout = std::min(kGossipFanout, ready.size());
  for (size_t i = 0; i < fanout; ++i) {
    std::uniform_int_distribution<size_t> pick(i, ready.size() - 1);
    std::swap(ready[i], ready[pick(rng_)]);
    ExchangeWith(*ready[i]);
  }
}

void ClusterNode::ExchangeWith(PeerClient& client) {
  int64_t deadline = static_cast<int64_t>(uv_now(loop_)) + options_.request_timeout_ms;
  std::vector<std::string> argv{"SHOAL.MEMBERS", membership_.Encode()};
  client.Send(std::move(argv), deadline,
              [this](PeerOutcome outcome, const PeerReply* reply, bool late) {
                if (stopped_ || late || outcome != PeerOutcome::kReply) return;
                if (reply->type != PeerReply::Type::kString) return;
                auto other = Membership::Decode(reply->str);
                if (!other.ok()) {
                  Log(LogSeverity::kWarning,
                      "bad membership state from a peer: " + other.status().message());
                  return;
                }
                ++stats_.exchanges;
                MergeState(other.value());
              });
}

storage::Result<std::string> ClusterNode::OnMembers(std::string_view blob) {
  auto other = Membership::Decode(blob);
  if (!other.ok()) return other.status();
  MergeState(other.value());
  return membership_.Encode();
}

void ClusterNode::MergeState(const Membership& other) {
  if (removed_) return;
  uint64_t epoch = membership_.epoch();
  uint64_t digest = membership_.ring_digest();
  const size_t members = membership_.members().size();
  const size_t removed = membership_.removed().size();
  const std::map<NodeId, MemberInfo> before = membership_.members();
  if (!membership_.Merge(other)) return;
  if (membership_.IsRemoved(options_.self.id)) {
    removed_ = true;
    ++state_gen_;
    Save();
    Log(LogSeverity::kWarning,
        "this node was removed from the cluster (CLUSTER FORGET or LEAVE); "
        "start it with an empty dir to join again");
    if (on_removed_) on_removed_();
    return;
  }
  // Only ready rows changed: no new member, entry or ring.
  const bool rows_only = membership_.epoch() == epoch && membership_.ring_digest() == digest &&
                         membership_.members().size() == members &&
                         membership_.removed().size() == removed && membership_.members() == before;
  StateChanged(epoch, digest, rows_only);
}

void ClusterNode::StateChanged(uint64_t old_epoch, uint64_t old_digest, bool rows_only) {
  ++state_gen_;
  if (rows_only) {
    // Ready rows change with every partition received or dropped: changes
    // within kRowsPushDelayMs are saved and pushed to peers together, not
    // one file write and one push each. A node that restarts with an older row
    // of its own learns the newer one from its peers (higher version).
    rows_dirty_ = true;
    if (on_state_change_) on_state_change_();
    if (!rows_timer_ && rows_timer_.Init(loop_, this) != 0) return;  // the gossip timer saves
    if (!uv_is_active(reinterpret_cast<uv_handle_t*>(rows_timer_.get()))) {
      const uint64_t delay = static_cast<uint64_t>(
          std::clamp<int64_t>(options_.exchange_interval_ms, 10, kRowsPushDelayMs));
      uv_timer_start(rows_timer_.get(), &ClusterNode::OnRowsTimer, delay, 0);
    }
    return;
  }
  rows_dirty_ = false;
  Save();
  SyncLinks();
  SyncDetector();
  if (membership_.epoch() != old_epoch || membership_.ring_digest() != old_digest) {
    ++stats_.ring_changes;
    Log(LogSeverity::kNotice, "ring epoch " + std::to_string(membership_.epoch()) + ": " +
                                  std::to_string(membership_.members().size()) + " members");
    if (on_ring_change_) on_ring_change_();
  }
  if (on_state_change_) on_state_change_();
  // Tell everyone at once rather than at the next tick.
  Exchange();
}

void ClusterNode::SyncLinks() {
  // Links to removed nodes go (from the timer, never inside a callback).
  std::vector<PeerClient*> gone;
  for (const auto& [id, client] : by_id_) {
    if (membership_.IsRemoved(id)) gone.push_back(client);
  }
  for (PeerClient* client : gone) Retire(client);
  for (const auto& [id, info] : membership_.members()) {
    if (id == options_.self.id) continue;
    auto it = by_id_.find(id);
    if (it != by_id_.end()) {
      if (it->second->host() != info.host || it->second->port() != info.cport) {
        it->second->SetAddress(info.host, info.cport);
      }
      continue;
    }
    // The member is captured by name: clang 14 cannot capture a structured binding.
    bool linked = std::any_of(clients_.begin(), clients_.end(), [&m = info](const auto& c) {
      return c->host() == m.host && c->port() == m.cport;
    });
    if (!linked) AddClient(info.host, info.cport);
  }
}

ReplicaSet ClusterNode::Primaries(std::string_view key, size_t n) const {
  return PrimariesOfPartition(ring().PartitionOf(key), n);
}

ReplicaSet ClusterNode::PrimariesOfPartition(uint32_t partition, size_t n) const {
  const Ring& r = ring();
  if (prefs_gen_ != state_gen_ || prefs_n_ != n || prefs_.size() != r.partition_count()) {
    prefs_.assign(r.partition_count(), nullptr);
    prefs_gen_ = state_gen_;
    prefs_n_ = n;
  }
  if (partition >= prefs_.size()) return std::make_shared<std::vector<Target>>();
  ReplicaSet& slot = prefs_[partition];
  if (!slot) slot = std::make_shared<std::vector<Target>>(PlanPartition(membership_, partition, n));
  return slot;
}

bool ClusterNode::leaving() const {
  const MemberInfo* me = membership_.Find(options_.self.id);
  return me != nullptr && me->leaving;
}

bool ClusterNode::SetReady(std::string bits, std::string releasing) {
  if (stopped_ || removed_) return false;
  const uint64_t epoch = membership_.epoch(), digest = membership_.ring_digest();
  if (!membership_.SetReady(options_.self.id, std::move(bits), std::move(releasing))) {
    return false;
  }
  StateChanged(epoch, digest, /*rows_only=*/true);
  return true;
}

storage::Status ClusterNode::Leave(size_t n) {
  if (stopped_ || removed_) return storage::Status::Invalid("this node is not a member");
  if (leaving()) return storage::Status::Ok();
  if (ChangeInProgress(membership_, n)) {
    return storage::Status::Invalid(
        "partitions are still moving after the last membership change; retry once no node "
        "is receiving or dropping partitions");
  }
  size_t active = 0;
  for (const auto& [id, info] : membership_.members()) active += info.leaving ? 0 : 1;
  if (active < 2) {
    return storage::Status::Invalid("this node is the cluster's only active member");
  }
  const uint64_t epoch = membership_.epoch(), digest = membership_.ring_digest();
  const MemberInfo* current = membership_.Find(options_.self.id);
  options_.self.incarnation =
      std::max(options_.self.incarnation, current != nullptr ? current->incarnation : 0) + 1;
  options_.self.leaving = true;
  membership_.UpdateSelf(options_.self);
  Log(LogSeverity::kNotice, "leaving the cluster: handing this node's partitions over");
  StateChanged(epoch, digest);
  return storage::Status::Ok();
}

storage::Status ClusterNode::Forget(const NodeId& id) {
  if (id == options_.self.id) {
    return storage::Status::Invalid("I tried hard but I can't forget myself...");  // Redis's words
  }
  if (membership_.Find(id) == nullptr) return storage::Status::NotFound("Unknown node " + id);
  const uint64_t epoch = membership_.epoch(), digest = membership_.ring_digest();
  if (!membership_.Remove(id)) {
    return storage::Status::Invalid("can't forget the only active member");
  }
  Log(LogSeverity::kNotice,
      "node " + LogRepr(id) + " forgotten: its partitions move to the others");
  StateChanged(epoch, digest);
  return storage::Status::Ok();
}

void ClusterNode::Depart(int64_t deadline_ms, std::function<void(bool)> done) {
  if (!removed_ && membership_.Remove(options_.self.id)) {
    removed_ = true;
    Save();
    ++state_gen_;
  }
  auto pending = std::make_shared<std::function<void(bool)>>(std::move(done));
  std::vector<PeerClient*> ready;
  for (auto& [id, client] : by_id_) {
    if (client->ready()) ready.push_back(client);
  }
  if (ready.empty()) {
    auto cb = std::move(*pending);
    if (cb) cb(false);
    return;
  }
  auto left = std::make_shared<size_t>(ready.size());
  for (PeerClient* client : ready) {
    client->Send({"SHOAL.MEMBERS", membership_.Encode()}, deadline_ms,
                 [pending, left](PeerOutcome outcome, const PeerReply*, bool late) {
                   if (late) return;
                   --*left;
                   if (!*pending) return;
                   if (outcome == PeerOutcome::kReply || *left == 0) {
                     auto cb = std::move(*pending);
                     *pending = nullptr;
                     cb(outcome == PeerOutcome::kReply);
                   }
                 });
  }
}

void ClusterNode::OnSwimTimer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<ClusterNode*>(timer->data);
  if (self->stopped_ || !self->detector_) return;
  self->detector_->Tick(self->NowMs());
  self->FlushDetector();
}

void ClusterNode::SyncDetector() {
  if (!detector_) return;
  const int64_t now = NowMs();
  for (const auto& [id, info] : membership_.members()) {
    if (id == options_.self.id || detector_->Find(id) != nullptr) continue;
    detector_->AddMember(id, info.incarnation, now);
  }
  std::vector<NodeId> gone;
  for (const auto& [id, view] : detector_->members()) {
    if (membership_.IsRemoved(id)) gone.push_back(id);
  }
  for (const NodeId& id : gone) detector_->RemoveMember(id);
}

storage::Status ClusterNode::OnSwim(const NodeId& from, std::string_view bytes) {
  auto msg = DecodeSwimMessage(bytes);
  if (!msg.ok()) return msg.status();
  if (detector_ && !stopped_) {
    detector_->OnMessage(from, msg.value(), NowMs());
    FlushDetector();
  }
  return storage::Status::Ok();
}

void ClusterNode::FlushDetector() {
  // Failure-detector traffic is small and lossy by design: a message to a
  // node without a link is dropped, and replies are not waited for.
  const int64_t deadline = NowMs() + 2 * std::max<int64_t>(1, options_.exchange_interval_ms);
  for (SwimOutgoing& out : detector_->TakeOutbox()) {
    Send(out.to, {"SHOAL.SWIM", EncodeSwimMessage(out.message)}, deadline,
         [](PeerOutcome, const PeerReply*, bool) {});
  }
  for (const MemberStateChange& c : detector_->TakeStateChanges()) {
    const MemberInfo* info = membership_.Find(c.node);
    const std::string who =
        c.node + (info == nullptr ? std::string()
                                  : " (" + info->host + ":" + std::to_string(info->port) + ")");
    if (c.to == MemberState::kDead) {
      Log(LogSeverity::kWarning, "Marking node " + who + " as failing (no answer to probes)");
    } else if (c.to == MemberState::kSuspect) {
      Log(LogSeverity::kNotice, "Node " + who + " is suspected of failing");
    } else if (c.from == MemberState::kDead) {
      Log(LogSeverity::kNotice, "Clear FAIL state for node " + who + ": it is reachable again");
    } else {
      Log(LogSeverity::kVerbose, "Node " + who + " refuted its suspicion");
    }
    if (on_member_state_) on_member_state_(c);
  }
}

MemberState ClusterNode::StateOf(std::string_view id) const {
  const MemberView* v = ViewOf(id);
  return v == nullptr ? MemberState::kAlive : v->state;
}

const MemberView* ClusterNode::ViewOf(std::string_view id) const {
  return detector_ ? detector_->Find(NodeId(id)) : nullptr;
}

size_t ClusterNode::PartitionsBelowQuorum(size_t n, size_t w, bool sloppy) const {
  const Ring& r = ring();
  if (r.empty()) return 0;
  std::map<NodeId, bool, std::less<>> up;
  size_t reachable_members = 0;
  for (const NodeId& m : r.members()) {
    up[m] = m == options_.self.id || IsReachable(m);
    if (up[m]) ++reachable_members;
  }
  if (sloppy) {
    // Any reachable member can stand in: every partition is alike.
    const size_t need = std::min({w, n, r.members().size()});
    return reachable_members < need ? r.partition_count() : 0;
  }
  size_t below = 0;
  for (uint32_t p = 0; p < r.partition_count(); ++p) {
    size_t reachable = 0;
    const std::vector<Replica> primaries = r.PreferenceForPartition(p, n).primaries;
    for (const Replica& rep : primaries) {
      if (up[rep.node]) ++reachable;
    }
    // A cluster smaller than N needs no more than its size (as the quorums).
    if (reachable < std::min(w, primaries.size())) ++below;
  }
  return below;
}

bool ClusterNode::IsReachable(std::string_view id) const {
  return IsConnected(id) && StateOf(id) != MemberState::kDead;
}

bool ClusterNode::IsConnected(std::string_view id) const {
  auto it = by_id_.find(id);
  return it != by_id_.end() && it->second->ready();
}

void ClusterNode::Send(std::string_view id, std::vector<std::string> argv, int64_t deadline_ms,
                       PeerCallback cb) {
  auto it = by_id_.find(id);
  if (stopped_ || it == by_id_.end()) {
    cb(PeerOutcome::kNotConnected, nullptr, false);
    return;
  }
  it->second->Send(std::move(argv), deadline_ms, std::move(cb));
}

void ClusterNode::SendForward(std::string_view id, std::vector<std::string> argv,
                              int64_t deadline_ms, bool ordered, PeerCallback cb) {
  auto it = by_id_.find(id);
  if (stopped_ || it == by_id_.end()) {
    cb(PeerOutcome::kNotConnected, nullptr, false);
    return;
  }
  forward_links_->Send(*it->second, it->first, std::move(argv), deadline_ms, ordered,
                       std::move(cb));
}

}  // namespace shoal::cluster
