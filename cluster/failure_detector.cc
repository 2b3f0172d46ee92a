#include "cluster/failure_detector.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <utility>

namespace shoal::cluster {

FailureDetectorParams FailureDetectorParams::FromSettings(int64_t node_timeout_ms,
                                                          int64_t gossip_interval_ms) {
  FailureDetectorParams p;
  const int64_t t = std::max<int64_t>(1, gossip_interval_ms);
  const int64_t n = std::max<int64_t>(t + 1, node_timeout_ms);
  p.protocol_period_ms = t;
  p.probe_timeout_ms = std::max<int64_t>(1, 2 * t / 5);
  p.relay_timeout_ms = std::max<int64_t>(1, p.probe_timeout_ms * 4 / 5);
  p.suspicion_max_ms = std::max<int64_t>(t, n - 3 * t);
  p.suspicion_min_ms = std::max<int64_t>(t, p.suspicion_max_ms / 2);
  p.stall_ms = t;
  return p;
}

FailureDetector::FailureDetector(NodeId self, uint64_t incarnation, FailureDetectorParams params,
                                 uint64_t seed, int64_t now_ms)
    : self_(std::move(self)),
      incarnation_(std::min(incarnation, kMaxIncarnation)),
      params_(params),
      rng_(seed),
      next_period_ms_(now_ms),
      due_ms_(now_ms) {
  params_.protocol_period_ms = std::max<int64_t>(1, params_.protocol_period_ms);
  params_.probe_timeout_ms =
      std::clamp<int64_t>(params_.probe_timeout_ms, 1, params_.protocol_period_ms);
  params_.max_awareness = std::max(1, params_.max_awareness);
  params_.max_piggyback = std::clamp<size_t>(params_.max_piggyback, 1, kMaxUpdates);
  params_.dead_probe_every = std::max(1, params_.dead_probe_every);
  params_.stall_ms = std::max<int64_t>(1, params_.stall_ms);
  // Nodes started together should not probe in lockstep.
  next_period_ms_ +=
      static_cast<int64_t>(rng_() % static_cast<uint64_t>(params_.protocol_period_ms));
}

void FailureDetector::AddMember(const NodeId& id, uint64_t incarnation, int64_t now_ms) {
  if (id == self_ || incarnation > kMaxIncarnation) return;
  auto [it, inserted] = members_.try_emplace(id);
  if (inserted) {
    it->second.incarnation = incarnation;
    it->second.state_since_ms = now_ms;
    it->second.last_heard_ms = now_ms;
    // Into the current round at a random place, as memberlist does.
    const size_t at = probe_index_ + rng_() % (probe_order_.size() - probe_index_ + 1);
    probe_order_.insert(probe_order_.begin() + static_cast<ptrdiff_t>(at), id);
    return;
  }
  ApplyUpdate(SwimUpdate{id, incarnation, MemberState::kAlive, {}}, now_ms);
}

void FailureDetector::RemoveMember(const NodeId& id) {
  members_.erase(id);
  suspicions_.erase(id);
  pending_.erase(id);
  // probe_order_ entries of removed members are skipped when met.
}

const MemberView* FailureDetector::Find(const NodeId& id) const {
  auto it = members_.find(id);
  return it == members_.end() ? nullptr : &it->second;
}

std::vector<SwimOutgoing> FailureDetector::TakeOutbox() {
  return std::exchange(outbox_, {});
}

std::vector<MemberStateChange> FailureDetector::TakeStateChanges() {
  return std::exchange(changes_, {});
}

// --- rumours ---------------------------------------------------------------

void FailureDetector::Refute(uint64_t above, bool accused) {
  if (above >= kMaxIncarnation) return;  // saturated: a hostile peer's doing
  incarnation_ = std::max(incarnation_, above + 1);
  Broadcast(SwimUpdate{self_, incarnation_, MemberState::kAlive, {}});
  if (accused) {
    ++counters_.refutations;
    AdjustAwareness(1);
  }
}

void FailureDetector::ApplyUpdate(const SwimUpdate& u, int64_t now_ms) {
  const Liveness claim{u.incarnation, u.state};
  if (u.node == self_) {
    // Only we raise our incarnation; any claim above our own alive is refuted.
    if (Supersedes(claim, Liveness{incarnation_, MemberState::kAlive})) {
      Refute(u.incarnation, u.state != MemberState::kAlive);
    }
    return;
  }
  auto it = members_.find(u.node);
  if (it == members_.end()) return;  // joining is the membership layer's call
  MemberView& view = it->second;
  const Liveness current{view.incarnation, view.state};
  if (!Supersedes(claim, current)) {
    // The same suspicion from another accuser confirms it (Lifeguard 4.2);
    // pass a new confirmation on so others can count it too.
    if (claim == current && u.state == MemberState::kSuspect) {
      auto s = suspicions_.find(u.node);
      if (s != suspicions_.end() && s->second.accusers.insert(u.accuser).second) Broadcast(u);
    }
    return;
  }
  SetState(u.node, view, claim, now_ms);
  if (u.state == MemberState::kSuspect) {
    const int n = static_cast<int>(members_.size()) + 1;
    Suspicion s;
    s.start_ms = now_ms;
    s.k = std::max(0, std::min(params_.indirect_checks, n - 2));
    s.accusers.insert(u.accuser);
    suspicions_[u.node] = std::move(s);
  } else {
    suspicions_.erase(u.node);
  }
  Broadcast(u);
}

void FailureDetector::SetState(const NodeId& id, MemberView& view, Liveness to, int64_t now_ms) {
  const MemberState from = view.state;
  view.incarnation = to.incarnation;
  view.state = to.state;
  if (from == to.state) return;
  view.state_since_ms = now_ms;
  if (to.state == MemberState::kSuspect) ++counters_.suspicions;
  if (to.state == MemberState::kDead) ++counters_.marked_down;
  if (to.state == MemberState::kAlive && from == MemberState::kSuspect) {
    ++counters_.suspicions_cleared;
  }
  if (to.state == MemberState::kAlive && from == MemberState::kDead) ++counters_.marked_up;
  changes_.push_back(MemberStateChange{id, from, to.state, to.incarnation, now_ms});
}

void FailureDetector::Broadcast(SwimUpdate update) {
  NodeId key = update.node;
  pending_[key] = Pending{std::move(update), 0, ++broadcast_order_};
}

int FailureDetector::RetransmitLimit() const {
  const double n = static_cast<double>(members_.size() + 1);
  return std::max(1, params_.retransmit_mult * static_cast<int>(std::ceil(std::log10(n + 1))));
}

std::vector<SwimUpdate> FailureDetector::Piggyback(const NodeId& to) {
  std::vector<SwimUpdate> out;
  // Buddy system: the receiver hears first what we hold against it.
  auto m = members_.find(to);
  if (m != members_.end() && m->second.state != MemberState::kAlive) {
    SwimUpdate u{to, m->second.incarnation, m->second.state, {}};
    if (u.state == MemberState::kSuspect) {
      auto s = suspicions_.find(to);
      u.accuser = (s != suspicions_.end() && !s->second.accusers.empty())
                      ? *s->second.accusers.begin()
                      : self_;
    }
    out.push_back(std::move(u));
  }
  if (pending_.empty()) return out;
  std::vector<Pending*> order;
  order.reserve(pending_.size());
  for (auto& [node, p] : pending_) {
    if (!out.empty() && node == to) continue;  // already first
    order.push_back(&p);
  }
  const size_t room = params_.max_piggyback - out.size();
  const size_t take = std::min(room, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<ptrdiff_t>(take), order.end(),
                    [](const Pending* a, const Pending* b) {
                      if (a->transmits != b->transmits) return a->transmits < b->transmits;
                      return a->order > b->order;
                    });
  const int limit = RetransmitLimit();
  std::vector<NodeId> spent;
  for (size_t i = 0; i < take; ++i) {
    out.push_back(order[i]->update);
    if (++order[i]->transmits >= limit) spent.push_back(order[i]->update.node);
  }
  for (const NodeId& id : spent) pending_.erase(id);
  return out;
}

void FailureDetector::Send(const NodeId& to, SwimType type, uint64_t seq, const NodeId& target) {
  SwimMessage m;
  m.type = type;
  m.seq = seq;
  m.sender_incarnation = incarnation_;
  if (type == SwimType::kPing || type == SwimType::kPingReq) m.target = target;
  m.updates = Piggyback(to);
  outbox_.push_back(SwimOutgoing{to, std::move(m)});
}

// --- messages --------------------------------------------------------------

void FailureDetector::OnMessage(const NodeId& from, const SwimMessage& m, int64_t now_ms) {
  auto sender = members_.find(from);
  if (from == self_ || sender == members_.end()) return;
  sender->second.last_heard_ms = now_ms;
  // A message is its sender's own word that it is alive at its incarnation.
  if (m.sender_incarnation <= kMaxIncarnation) {
    ApplyUpdate(SwimUpdate{from, m.sender_incarnation, MemberState::kAlive, {}}, now_ms);
  }
  for (const SwimUpdate& u : m.updates) {
    if (u.incarnation > kMaxIncarnation) continue;
    ApplyUpdate(u, now_ms);
  }
  switch (m.type) {
    case SwimType::kPing:
      if (m.target == self_) Send(from, SwimType::kAck, m.seq, {});
      break;
    case SwimType::kAck: {
      if (probe_.active && !probe_.acked && m.seq == probe_.seq &&
          (from == probe_.target || probe_.relays.count(from) > 0)) {
        FinishProbe(true, now_ms);
        break;
      }
      auto relay = relays_.find(m.seq);
      if (relay != relays_.end() && relay->second.target == from) {
        Send(relay->second.requester, SwimType::kAck, relay->second.requester_seq, {});
        relays_.erase(relay);
      }
      break;
    }
    case SwimType::kPingReq: {
      if (m.target == self_ || m.target == from) break;
      auto target = members_.find(m.target);
      if (target == members_.end()) {
        Send(from, SwimType::kNack, m.seq, {});
        break;
      }
      const uint64_t seq = next_seq_++;
      Send(m.target, SwimType::kPing, seq, m.target);
      relays_[seq] = Relay{from, m.seq, m.target, now_ms + params_.relay_timeout_ms};
      break;
    }
    case SwimType::kNack:
      if (probe_.active && !probe_.acked && m.seq == probe_.seq && probe_.relays.count(from) > 0 &&
          probe_.nacks.insert(from).second) {
        ++counters_.nacks_received;
      }
      break;
    case SwimType::kGossip:
      break;
  }
  due_ms_ = NextDeadlineMs();
}

// --- the protocol period ---------------------------------------------------

void FailureDetector::AdjustAwareness(int delta) {
  awareness_ = std::clamp(awareness_ + delta, 0, params_.max_awareness - 1);
}

int64_t FailureDetector::SuspicionTimeout(const Suspicion& s) const {
  const int64_t lo = params_.suspicion_min_ms;
  const int64_t hi = std::max(lo, params_.suspicion_max_ms);
  if (s.k < 1) return lo;
  const auto confirmations = static_cast<double>(s.accusers.size() - 1);
  const double frac = std::log(confirmations + 1) / std::log(static_cast<double>(s.k) + 1);
  const auto timeout =
      static_cast<int64_t>(static_cast<double>(hi) - frac * static_cast<double>(hi - lo));
  return std::max(lo, timeout);
}

std::optional<NodeId> FailureDetector::NextProbeTarget() {
  for (size_t tries = 0; tries <= probe_order_.size() + 1; ++tries) {
    if (probe_index_ >= probe_order_.size()) {
      probe_order_.clear();
      for (const auto& [id, view] : members_) probe_order_.push_back(id);
      for (size_t i = probe_order_.size(); i > 1; --i) {
        std::swap(probe_order_[i - 1], probe_order_[rng_() % i]);
      }
      probe_index_ = 0;
      if (probe_order_.empty()) return std::nullopt;
    }
    const NodeId& id = probe_order_[probe_index_++];
    auto it = members_.find(id);
    if (it != members_.end() && it->second.state != MemberState::kDead) return id;
  }
  return std::nullopt;
}

std::vector<NodeId> FailureDetector::RandomMembers(size_t count, const std::set<NodeId>& exclude,
                                                   bool alive_only) {
  std::vector<NodeId> pool;
  for (const auto& [id, view] : members_) {
    if (exclude.count(id) > 0) continue;
    if (view.state == MemberState::kDead) continue;
    if (alive_only && view.state != MemberState::kAlive) continue;
    pool.push_back(id);
  }
  // Partial Fisher-Yates: the first `count` are a uniform sample.
  const size_t take = std::min(count, pool.size());
  for (size_t i = 0; i < take; ++i) {
    std::swap(pool[i], pool[i + rng_() % (pool.size() - i)]);
  }
  pool.resize(take);
  return pool;
}

void FailureDetector::StartPeriod(int64_t now_ms) {
  ++periods_;
  next_period_ms_ = now_ms + Scaled(params_.protocol_period_ms);
  if (!pending_.empty()) {
    for (const NodeId& id : RandomMembers(static_cast<size_t>(params_.gossip_fanout), {}, false)) {
      Send(id, SwimType::kGossip, 0, {});
    }
  }
  if (periods_ % static_cast<uint64_t>(params_.dead_probe_every) == 0) {
    std::vector<NodeId> dead;
    for (const auto& [id, view] : members_) {
      if (view.state == MemberState::kDead) dead.push_back(id);
    }
    // Not a probe: no verdict comes of it. Its piggyback tells the member it
    // is held dead; if it lives, its refutation comes back with the ack.
    if (!dead.empty()) {
      const NodeId& id = dead[rng_() % dead.size()];
      Send(id, SwimType::kPing, next_seq_++, id);
    }
  }
  std::optional<NodeId> target = NextProbeTarget();
  if (!target) return;
  probe_ = Probe{};
  probe_.active = true;
  probe_.target = *target;
  probe_.seq = next_seq_++;
  probe_.ack_deadline_ms = now_ms + Scaled(params_.probe_timeout_ms);
  probe_.end_ms = next_period_ms_;
  ++counters_.probes;
  Send(probe_.target, SwimType::kPing, probe_.seq, probe_.target);
}

void FailureDetector::FinishProbe(bool acked, int64_t now_ms) {
  if (acked) {
    probe_.acked = true;
    AdjustAwareness(-1);
    return;
  }
  probe_.active = false;
  ++counters_.probe_failures;
  // Lifeguard 4.1: relays that did not even nack suggest our own links or
  // loop are the problem; with none to ask, any failure counts against us.
  const size_t expected = probe_.relays.size();
  AdjustAwareness(expected > 0 ? static_cast<int>(expected - probe_.nacks.size()) : 1);
  auto it = members_.find(probe_.target);
  // A target already suspect gets our accusation too: an independent
  // confirmation, passed on (Lifeguard 4.2).
  if (it == members_.end() || it->second.state == MemberState::kDead) return;
  ApplyUpdate(SwimUpdate{probe_.target, it->second.incarnation, MemberState::kSuspect, self_},
              now_ms);
}

void FailureDetector::OnStall(int64_t now_ms) {
  ++counters_.stalls;
  AdjustAwareness(1);
  // What did not arrive while we were not running proves nothing.
  const int64_t lost = now_ms - due_ms_;
  probe_ = Probe{};
  relays_.clear();
  for (auto& [id, s] : suspicions_) s.start_ms += lost;
  next_period_ms_ = std::min(next_period_ms_, now_ms);
}

void FailureDetector::Tick(int64_t now_ms) {
  if (now_ms - due_ms_ > params_.stall_ms) OnStall(now_ms);

  for (auto it = relays_.begin(); it != relays_.end();) {
    if (now_ms >= it->second.nack_at_ms) {
      Send(it->second.requester, SwimType::kNack, it->second.requester_seq, {});
      it = relays_.erase(it);
    } else {
      ++it;
    }
  }

  if (probe_.active && !probe_.acked && !probe_.indirect_sent && now_ms >= probe_.ack_deadline_ms) {
    probe_.indirect_sent = true;
    const std::set<NodeId> exclude{probe_.target};
    for (const NodeId& relay :
         RandomMembers(static_cast<size_t>(params_.indirect_checks), exclude, true)) {
      probe_.relays.insert(relay);
      ++counters_.ping_reqs_sent;
      Send(relay, SwimType::kPingReq, probe_.seq, probe_.target);
    }
  }
  if (probe_.active && now_ms >= probe_.end_ms) {
    if (probe_.acked) {
      probe_.active = false;
    } else {
      FinishProbe(false, now_ms);
    }
  }

  std::vector<NodeId> expired;
  for (const auto& [id, s] : suspicions_) {
    if (now_ms >= s.start_ms + SuspicionTimeout(s)) expired.push_back(id);
  }
  for (const NodeId& id : expired) {
    const MemberView& view = members_.at(id);
    ApplyUpdate(SwimUpdate{id, view.incarnation, MemberState::kDead, {}}, now_ms);
  }

  if (!probe_.active && now_ms >= next_period_ms_) StartPeriod(now_ms);
  due_ms_ = NextDeadlineMs();
}

int64_t FailureDetector::NextDeadlineMs() const {
  int64_t due = std::numeric_limits<int64_t>::max();
  if (!probe_.active) due = next_period_ms_;
  if (probe_.active) {
    due = std::min(due, probe_.end_ms);
    if (!probe_.acked && !probe_.indirect_sent) due = std::min(due, probe_.ack_deadline_ms);
  }
  for (const auto& [seq, r] : relays_) due = std::min(due, r.nack_at_ms);
  for (const auto& [id, s] : suspicions_) due = std::min(due, s.start_ms + SuspicionTimeout(s));
  return due;
}

}  // namespace shoal::cluster
