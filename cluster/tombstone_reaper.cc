#include "cluster/tombstone_reaper.h"

#include <algorithm>
#include <charconv>

#include "cluster/hint_store.h"
#include "cluster/liveness.h"
#include "facade/errors.h"

namespace shoal::cluster {

// One check round: the candidates and every member's answers.
struct TombstoneReaper::Round {
  std::vector<Candidate> keys;
  std::vector<NodeId> members;  // the other members asked
  // answers[m][k]: member m's answer for key k; digests likewise.
  std::vector<std::vector<MemberAnswer>> answers;
  std::vector<std::vector<uint64_t>> digests;
  size_t pending = 0;
};

TombstoneReaper::TombstoneReaper(uv_loop_t* loop, ClusterNode& node, storage::Keyspace& keyspace,
                                 const storage::Clock& clock)
    : loop_(loop), node_(node), keyspace_(keyspace), clock_(clock) {}

TombstoneReaper::~TombstoneReaper() {
  Stop();
}

storage::Status TombstoneReaper::Start() {
  int rc = timer_.Init(loop_, this);
  const auto period = static_cast<uint64_t>(kStepMs);
  if (rc == 0) rc = uv_timer_start(timer_.get(), &TombstoneReaper::OnTimer, period, period);
  if (rc != 0) return storage::Status::IOError(std::string("reaper timer: ") + uv_strerror(rc));
  return storage::Status::Ok();
}

void TombstoneReaper::Stop() {
  timer_.reset();
  *alive_ = false;
  alive_ = std::make_shared<bool>(true);
  in_flight_ = false;
}

void TombstoneReaper::OnTimer(uv_timer_t* timer) noexcept {
  static_cast<TombstoneReaper*>(timer->data)->Step();
}

void TombstoneReaper::Collect(std::vector<Candidate>* out) {
  const Ring& ring = node_.ring();
  storage::Store& store = keyspace_.store();
  const uint32_t q = ring.partition_count();
  if (ring.empty() || store.partitions() != q) return;  // not indexed for this ring yet
  const int64_t now = clock_.NowMs();
  const int64_t cutoff = now - options_.grace_ms;
  size_t budget = std::max<size_t>(options_.keys_per_step, 1);
  std::vector<std::string> keys;
  // At most one pass over the partitions per step, so a node owning few (or
  // no) keys does not spin.
  for (uint32_t visited = 0; visited <= q && budget > 0 && out->size() < options_.batch;) {
    if (partition_ >= q) {
      partition_ = 0;
      position_ = 0;
    }
    const std::vector<Replica> primaries =
        ring.PreferenceForPartition(partition_, options_.replicas).primaries;
    if (primaries.empty() || primaries[0].node != node_.self_id() ||
        store.PartitionSize(partition_) == 0) {
      ++partition_;
      position_ = 0;
      ++visited;
      continue;
    }
    keys.clear();
    const size_t count = std::min(budget, options_.batch - out->size());
    // position_ 0 starts a partition's walk (ScanPartition's bound).
    const uint64_t next =
        store.ScanPartition(partition_, position_ == 0 ? UINT64_MAX : position_, count, now,
                            [&](const storage::EntryView& e) {
                              // One live string: nothing to purge, no decoding.
                              if (!storage::Object::PeekSingleValue(e.value, now)) {
                                keys.emplace_back(e.key);
                              }
                            });
    budget -= std::min(budget, count);
    for (std::string& key : keys) {
      auto settled = keyspace_.Settled(key, now);
      if (!settled.ok() || !settled.value().IsPurgeable(now, cutoff)) continue;
      Candidate c;
      c.key = std::move(key);
      c.digest = PurgeDigest(settled.value(), keyspace_.actors());
      c.object = std::move(settled).value();
      for (const Replica& r : primaries) c.primaries.push_back(r.node);
      out->push_back(std::move(c));
    }
    if (next == 0) {
      ++partition_;
      position_ = 0;
      ++visited;
    } else {
      position_ = next;
    }
  }
}

void TombstoneReaper::Step() {
  if (in_flight_ || node_.member_count() < 2) return;
  std::vector<Candidate> keys;
  Collect(&keys);
  if (keys.empty()) return;
  // (a) every member alive and reachable: one we cannot ask could hold
  // anything, and would hand it back once it returns.
  std::vector<MemberHealth> health;
  auto round = std::make_shared<Round>();
  for (const auto& [member, info] : node_.membership().members()) {
    if (member == node_.self_id()) continue;
    health.push_back({node_.StateOf(member) == MemberState::kAlive, node_.IsReachable(member)});
    round->members.push_back(member);
  }
  if (CheckMembers(health) != PurgeRefusal::kNone) {
    ++stats_.refused_member_down;
    return;
  }
  ++stats_.rounds;
  stats_.keys_checked += keys.size();
  round->keys = std::move(keys);
  const size_t n = round->keys.size();
  if (round->members.empty()) return Finish(round);
  round->answers.assign(round->members.size(), std::vector<MemberAnswer>(n));
  round->digests.assign(round->members.size(), std::vector<uint64_t>(n, 0));
  round->pending = round->members.size();
  std::vector<std::string> argv{"SHOAL.PURGECHECK"};
  argv.reserve(1 + 2 * n);
  for (const Candidate& c : round->keys) {
    argv.push_back(c.key);
    std::string bytes;
    c.object.EncodeWithNodeIds(keyspace_.actors(), &bytes);
    argv.push_back(std::move(bytes));
  }
  in_flight_ = true;
  const int64_t deadline = node_.LoopNowMs() + options_.timeout_ms;
  for (size_t m = 0; m < round->members.size(); ++m) {
    for (size_t k = 0; k < n; ++k) {
      const std::vector<NodeId>& p = round->keys[k].primaries;
      round->answers[m][k].primary = std::find(p.begin(), p.end(), round->members[m]) != p.end();
    }
    node_.Send(round->members[m], argv, deadline,
               [this, alive = alive_, round, m, n](PeerOutcome outcome, const PeerReply* reply,
                                                   bool late) {
                 if (late || !*alive) return;
                 if (outcome == PeerOutcome::kReply && reply->type == PeerReply::Type::kArray &&
                     reply->elements.size() == 2 * n) {
                   for (size_t k = 0; k < n; ++k) {
                     const PeerReply& st = reply->elements[2 * k];
                     const PeerReply& dg = reply->elements[2 * k + 1];
                     if (st.type != PeerReply::Type::kInteger ||
                         dg.type != PeerReply::Type::kInteger || st.integer < 0 ||
                         st.integer > static_cast<int64_t>(CopyState::kBlocking)) {
                       continue;  // stays unanswered
                     }
                     round->answers[m][k].answered = true;
                     round->answers[m][k].state = static_cast<CopyState>(st.integer);
                     round->digests[m][k] = static_cast<uint64_t>(dg.integer);
                   }
                 }
                 if (--round->pending == 0) Finish(round);
               });
  }
}

void TombstoneReaper::Finish(const std::shared_ptr<Round>& round) {
  in_flight_ = false;
  const int64_t now = clock_.NowMs();
  const size_t members = round->members.size();
  // Per member, the keys it may drop and its digest of each.
  std::vector<std::vector<std::string>> frames(members, std::vector<std::string>{"SHOAL.PURGE"});
  for (size_t k = 0; k < round->keys.size(); ++k) {
    Candidate& c = round->keys[k];
    std::vector<MemberAnswer> answers;
    answers.reserve(members);
    for (size_t m = 0; m < members; ++m) answers.push_back(round->answers[m][k]);
    switch (DecidePurge(answers)) {
      case PurgeRefusal::kNone:
        break;
      case PurgeRefusal::kNoAnswer:
        ++stats_.refused_no_answer;
        continue;
      case PurgeRefusal::kReplicaDiffers:
        ++stats_.refused_replica_differs;
        continue;
      case PurgeRefusal::kCopyElsewhere:
      case PurgeRefusal::kMemberDown:
        ++stats_.refused_copy_elsewhere;
        continue;
    }
    // The owner's own copy first: if it changed during the round (a write
    // landed), nobody purges.
    auto purged = keyspace_.Purge(c.key, c.object, now);
    if (!purged.ok() || !purged.value()) {
      ++stats_.refused_changed;
      continue;
    }
    ++stats_.purged;
    for (size_t m = 0; m < members; ++m) {
      const CopyState s = answers[m].state;
      if (s != CopyState::kSame && s != CopyState::kCovered) continue;
      frames[m].push_back(c.key);
      frames[m].push_back(std::to_string(static_cast<int64_t>(round->digests[m][k])));
    }
  }
  const int64_t deadline = node_.LoopNowMs() + options_.timeout_ms;
  for (size_t m = 0; m < members; ++m) {
    if (frames[m].size() < 3) continue;
    // Fire and forget: a member that kept its copy keeps a dead object,
    // which a later round (or anti-entropy) deals with.
    node_.Send(round->members[m], std::move(frames[m]), deadline,
               [](PeerOutcome, const PeerReply*, bool) {});
  }
}

void TombstoneReaper::ServeCheck(const std::vector<std::string>& argv,
                                 facade::ReplyBuilder& reply) {
  if (argv.size() < 3 || argv.size() % 2 == 0 || (argv.size() - 1) / 2 > kMaxPurgeKeys) {
    return reply.Error(facade::errors::BadPeerFrame("SHOAL.PURGECHECK"));
  }
  const int64_t now = clock_.NowMs();
  reply.ArrayHeader(argv.size() - 1);
  std::vector<storage::Object> hints;
  for (size_t i = 1; i + 1 < argv.size(); i += 2) {
    const std::string& key = argv[i];
    auto checked = storage::Object::DecodeWithNodeIds(argv[i + 1], keyspace_.actors());
    auto local = keyspace_.Settled(key, now);
    CopyState state = CopyState::kBlocking;
    uint64_t digest = 0;
    if (checked.ok() && local.ok()) {
      hints.clear();
      bool hints_ok = true;
      if (hints_ != nullptr && !hints_->empty()) {
        for (const std::string& target : hints_->Targets()) {
          const std::string* hinted = hints_->Find(target, key);
          if (hinted == nullptr) continue;
          auto h = storage::Object::DecodeWithNodeIds(*hinted, keyspace_.actors());
          if (!h.ok()) {
            hints_ok = false;
            break;
          }
          hints.push_back(std::move(h).value());
        }
      }
      if (hints_ok) state = ClassifyCopy(checked.value(), local.value(), hints, now);
      if (local.value().Size() > 0) digest = PurgeDigest(local.value(), keyspace_.actors());
    }
    reply.Integer(static_cast<int64_t>(state));
    reply.Integer(static_cast<int64_t>(digest));
  }
}

void TombstoneReaper::ServePurge(const std::vector<std::string>& argv,
                                 facade::ReplyBuilder& reply) {
  if (argv.size() < 3 || argv.size() % 2 == 0 || (argv.size() - 1) / 2 > kMaxPurgeKeys) {
    return reply.Error(facade::errors::BadPeerFrame("SHOAL.PURGE"));
  }
  const int64_t now = clock_.NowMs();
  reply.ArrayHeader((argv.size() - 1) / 2);
  for (size_t i = 1; i + 1 < argv.size(); i += 2) {
    const std::string& d = argv[i + 1];
    int64_t digest = 0;
    auto [end, ec] = std::from_chars(d.data(), d.data() + d.size(), digest);
    if (ec != std::errc() || end != d.data() + d.size()) {
      reply.Error("ERR bad digest");
      continue;
    }
    auto local = keyspace_.Settled(argv[i], now);
    if (!local.ok() || local.value().Size() == 0 ||
        PurgeDigest(local.value(), keyspace_.actors()) != static_cast<uint64_t>(digest)) {
      reply.Integer(0);
      continue;
    }
    auto purged = keyspace_.Purge(argv[i], local.value(), now);
    const bool ok = purged.ok() && purged.value();
    if (ok) ++stats_.purges_served;
    reply.Integer(ok ? 1 : 0);
  }
}

}  // namespace shoal::cluster
