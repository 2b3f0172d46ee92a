#include "cluster/partition_transfer.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "cluster/placement.h"
#include "facade/args.h"
#include "facade/errors.h"

namespace shoal::cluster {
namespace {

constexpr int64_t kStartBound = std::numeric_limits<int64_t>::max();
constexpr int64_t kMaxFrameKeys = 4096;
constexpr int64_t kMaxFrameBytes = 64ll << 20;
// Reconciles at least this often even without a state change (a source
// that became reachable, a drop that came due).
constexpr int64_t kFullReconcileMs = 1000;

bool InNewSet(const Membership& m, uint32_t k, size_t n, const NodeId& node) {
  for (const Replica& r : m.ring().PreferenceForPartition(k, n).primaries) {
    if (r.node == node) return true;
  }
  return false;
}

}  // namespace

PartitionTransfer::PartitionTransfer(uv_loop_t* loop, ClusterNode& node,
                                     storage::Keyspace& keyspace, const storage::Clock& clock,
                                     LogSink log)
    : loop_(loop), node_(node), keyspace_(keyspace), clock_(clock), log_(std::move(log)) {}

PartitionTransfer::~PartitionTransfer() {
  Stop();
}

storage::Status PartitionTransfer::Start() {
  if (!options_.durable) {
    // Without a log this node restarted empty: whatever its row says, it
    // holds nothing, and receives its partitions again.
    auto it = node_.membership().ready().find(node_.self_id());
    if (it != node_.membership().ready().end() &&
        std::any_of(it->second.bits.begin(), it->second.bits.end(),
                    [](char c) { return c != 0; })) {
      node_.SetReady(std::string(it->second.bits.size(), '\0'));
      Log(LogSeverity::kNotice,
          "appendonly is off: this node holds no data after a restart and receives its "
          "partitions from the other replicas");
    }
  }
  const uint64_t period = static_cast<uint64_t>(std::max<int64_t>(10, options_.interval_ms));
  int rc = timer_.Init(loop_, this);
  if (rc == 0) rc = uv_timer_start(timer_.get(), &PartitionTransfer::OnTimer, period, period);
  if (rc != 0) return storage::Status::IOError(std::string("transfer timer: ") + uv_strerror(rc));
  return storage::Status::Ok();
}

void PartitionTransfer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  timer_.reset();
  sessions_.clear();
  drops_.clear();
}

void PartitionTransfer::OnTimer(uv_timer_t* timer) noexcept {
  static_cast<PartitionTransfer*>(timer->data)->Tick();
}

void PartitionTransfer::Tick() {
  if (stopped_ || !Active()) return;
  const int64_t now = node_.LoopNowMs();
  if (!received_.empty()) {
    // One ready row change (one gossip round) for every partition received
    // since the last tick whose old holders all marked it releasing
    // (ReleasedBy); the others wait, still receiving the partition's writes.
    const Membership& m = node_.membership();
    auto alive = [this](const NodeId& id) {
      return id == node_.self_id() || node_.StateOf(id) != MemberState::kDead;
    };
    std::vector<uint32_t> released;
    std::vector<uint32_t> later;
    for (uint32_t k : received_) {
      (ReleasedBy(m, k, options_.replicas, alive) ? released : later).push_back(k);
    }
    received_ = std::move(later);
    if (!released.empty()) MarkReady(released, {}, {});
    if (!received_.empty() && now >= next_wait_log_ms_) {
      next_wait_log_ms_ = now + kFullReconcileMs;
      Log(LogSeverity::kVerbose, std::to_string(received_.size()) +
                                     " received partitions wait for their old holders to release "
                                     "them, e.g. partition " +
                                     std::to_string(received_.front()));
    }
  }
  if (reconciled_gen_ != node_.state_generation() || now >= next_full_ms_) {
    reconciled_gen_ = node_.state_generation();
    next_full_ms_ = now + kFullReconcileMs;
    Reconcile();
  }
  StartSessions();
  std::vector<uint32_t> idle;
  for (const auto& [k, s] : sessions_) {
    if (!s.in_flight) idle.push_back(k);
  }
  for (uint32_t k : idle) Request(k);
  for (auto it = drops_.begin(); it != drops_.end();) {
    if (it->second.due_ms > now) {
      ++it;
      continue;
    }
    if (DropSlice(it->first, it->second)) {
      if (!it->second.push) ++stats_.partitions_dropped;
      it = drops_.erase(it);
    } else {
      break;  // one slice per tick
    }
  }
  const Membership& m = node_.membership();
  if (node_.leaving() && !departing_ && sessions_.empty() &&
      !HasDuties(m, node_.self_id(), options_.replicas)) {
    departing_ = true;
    Log(LogSeverity::kNotice, "every partition of this node was handed over: leaving the cluster");
    node_.Depart(now + std::max<int64_t>(1000, options_.request_timeout_ms), [this](bool spread) {
      if (!spread) {
        Log(LogSeverity::kWarning, "no peer confirmed this node's departure; it spreads by gossip");
      }
      if (on_departed_) on_departed_();
    });
  }
}

void PartitionTransfer::Reconcile() {
  const Membership& m = node_.membership();
  const NodeId& self = node_.self_id();
  const size_t n = options_.replicas;
  const NodeDuties d = DutiesOf(m, self, n);
  const int64_t now = node_.LoopNowMs();

  want_.clear();
  for (const Inbound& in : d.receive) {
    // Received, its ready bit not yet set: nothing left to fetch.
    if (std::find(received_.begin(), received_.end(), in.partition) != received_.end()) continue;
    want_.emplace(in.partition, in.source);
  }
  for (auto it = seen_ms_.begin(); it != seen_ms_.end();) {
    it = want_.contains(it->first) ? std::next(it) : seen_ms_.erase(it);
  }
  for (const auto& [k, source] : want_) seen_ms_.emplace(k, now);
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    auto w = want_.find(it->first);
    it = w == want_.end() || !StillServes(it->first, it->second.source, w->second)
             ? sessions_.erase(it)
             : std::next(it);
  }
  StartSessions();

  // A partition this node holds but no longer replicates, once its new
  // replicas all hold it: no read needs it here after the delay.
  for (uint32_t k : d.drop) drops_.emplace(k, Drop{now + options_.drop_delay_ms, false, false});
  if (!d.claim.empty() || !d.drop.empty() || !d.release.empty()) {
    MarkReady(d.claim, d.drop, d.release);
  }

  for (auto it = drops_.begin(); it != drops_.end();) {
    it =
        !it->second.in_flight && InNewSet(m, it->first, n, self) ? drops_.erase(it) : std::next(it);
  }
  const storage::Store& store = keyspace_.store();
  const uint32_t q = m.ring().partition_count();
  if (store.partitions() != q) return;
  for (uint32_t k = 0; k < q; ++k) {
    if (store.PartitionSize(k) == 0 || drops_.contains(k) || sessions_.contains(k) ||
        want_.contains(k) || m.IsReady(self, k) || InNewSet(m, k, n, self)) {
      continue;
    }
    drops_.emplace(k, Drop{now + options_.drop_delay_ms, true, false});
  }
}

void PartitionTransfer::StartSessions() {
  std::vector<uint32_t> started;
  const int64_t now = node_.LoopNowMs();
  for (const auto& [k, planned] : want_) {
    if (sessions_.size() >= std::max<size_t>(1, options_.concurrency)) break;
    if (sessions_.contains(k)) continue;
    const NodeId source = SourceFor(k, planned);
    if (!node_.IsReachable(source)) continue;
    auto seen = seen_ms_.find(k);
    if (seen == seen_ms_.end() || now - seen->second < options_.settle_delay_ms) continue;
    Session s;
    s.source = source;
    sessions_.emplace(k, std::move(s));
    started.push_back(k);
    Log(LogSeverity::kVerbose,
        "receiving partition " + std::to_string(k) + " from " + source.substr(0, 8));
  }
  for (uint32_t k : started) Request(k);
}

NodeId PartitionTransfer::SourceFor(uint32_t k, const NodeId& planned) const {
  if (node_.IsReachable(planned)) return planned;
  const Membership& m = node_.membership();
  for (const auto& [id, info] : m.members()) {
    if (id != node_.self_id() && m.IsReady(id, k) && node_.IsReachable(id)) return id;
  }
  return planned;
}

bool PartitionTransfer::StillServes(uint32_t k, const NodeId& source, const NodeId& planned) const {
  if (node_.IsReachable(source)) {
    return source == planned || node_.membership().IsReady(source, k);
  }
  // Unreachable: wait for it only while no other holder can serve.
  return SourceFor(k, planned) == source;
}

void PartitionTransfer::MarkReady(const std::vector<uint32_t>& set,
                                  const std::vector<uint32_t>& clear,
                                  const std::vector<uint32_t>& release) {
  const Membership& m = node_.membership();
  const uint32_t q = m.ring().partition_count();
  std::string bits(PartitionBitmapBytes(q), '\0');
  std::string releasing(bits.size(), '\0');
  auto it = m.ready().find(node_.self_id());
  if (it != m.ready().end() && it->second.bits.size() == bits.size()) {
    bits = it->second.bits;
    if (!it->second.releasing.empty()) releasing = it->second.releasing;
  }
  auto put = [q](std::string& map, uint32_t k, bool on) {
    if (k >= q) return;
    const char bit = static_cast<char>(1 << (k % 8));
    map[k / 8] = static_cast<char>(on ? map[k / 8] | bit : map[k / 8] & ~bit);
  };
  for (uint32_t k : set) {
    put(bits, k, true);
    put(releasing, k, false);
  }
  for (uint32_t k : clear) {
    put(bits, k, false);
    put(releasing, k, false);
  }
  for (uint32_t k : release) put(releasing, k, true);
  node_.SetReady(std::move(bits), std::move(releasing));
}

void PartitionTransfer::Request(uint32_t partition) {
  auto it = sessions_.find(partition);
  if (it == sessions_.end()) return;
  Session& s = it->second;
  if (!node_.IsReachable(s.source)) return;
  s.in_flight = true;
  s.generation = next_generation_++;
  const uint64_t generation = s.generation;
  const int64_t bound =
      s.bound > static_cast<uint64_t>(kStartBound) ? kStartBound : static_cast<int64_t>(s.bound);
  std::vector<std::string> argv{"SHOAL.XFER", std::to_string(partition), std::to_string(bound),
                                std::to_string(options_.batch_keys),
                                std::to_string(options_.batch_bytes)};
  node_.Send(s.source, std::move(argv), node_.LoopNowMs() + options_.request_timeout_ms,
             [this, partition, generation](PeerOutcome outcome, const PeerReply* reply, bool late) {
               if (late || stopped_) return;
               OnBatch(partition, generation, outcome, reply);
             });
}

void PartitionTransfer::OnBatch(uint32_t partition, uint64_t generation, PeerOutcome outcome,
                                const PeerReply* reply) {
  auto it = sessions_.find(partition);
  if (it == sessions_.end() || it->second.generation != generation) return;
  Session& s = it->second;
  s.in_flight = false;
  const bool shaped = outcome == PeerOutcome::kReply && reply->type == PeerReply::Type::kArray &&
                      !reply->elements.empty() && reply->elements.size() % 2 == 1 &&
                      reply->elements[0].type == PeerReply::Type::kInteger &&
                      reply->elements[0].integer >= 0;
  if (!shaped) {
    ++stats_.failures;
    if (outcome == PeerOutcome::kReply && reply->type == PeerReply::Type::kError) {
      Log(LogSeverity::kVerbose, "partition " + std::to_string(partition) + " from " +
                                     s.source.substr(0, 8) + ": " + reply->str);
    }
    return;  // asked again at the next tick
  }
  const Ring& ring = node_.ring();
  const int64_t now = clock_.NowMs();
  for (size_t i = 1; i + 1 < reply->elements.size(); i += 2) {
    const PeerReply& key = reply->elements[i];
    const PeerReply& value = reply->elements[i + 1];
    // Peer input is checked as client input is: a key outside the
    // partition or an object that does not decode fails the batch.
    if (key.type != PeerReply::Type::kString || value.type != PeerReply::Type::kString ||
        ring.PartitionOf(key.str) != partition) {
      ++stats_.failures;
      sessions_.erase(it);
      Log(LogSeverity::kWarning, "bad transfer batch for partition " + std::to_string(partition));
      return;
    }
    auto obj = storage::Object::DecodeWithNodeIds(value.str, keyspace_.actors());
    if (!obj.ok() || !keyspace_.Merge(key.str, obj.value(), now).ok()) {
      ++stats_.failures;
      sessions_.erase(it);
      Log(LogSeverity::kWarning, "transfer of partition " + std::to_string(partition) +
                                     ": a key could not be merged; retrying");
      return;
    }
    ++stats_.keys_received;
    stats_.bytes_received += key.str.size() + value.str.size();
  }
  s.bound = static_cast<uint64_t>(reply->elements[0].integer);
  if (s.bound == 0) {
    Finish(partition);
  } else {
    Request(partition);
  }
}

void PartitionTransfer::Finish(uint32_t partition) {
  const NodeId source = sessions_[partition].source;
  sessions_.erase(partition);
  want_.erase(partition);
  ++stats_.partitions_received;
  Log(LogSeverity::kVerbose,
      "received partition " + std::to_string(partition) + " from " + source.substr(0, 8));
  received_.push_back(partition);
  StartSessions();
}

bool PartitionTransfer::DropSlice(uint32_t partition, Drop& drop) {
  if (drop.in_flight) return false;
  const int64_t now = clock_.NowMs();
  storage::Store& store = keyspace_.store();
  std::vector<std::string> keys;
  std::vector<std::string> objects;
  std::vector<std::string> locals;  // what was pushed, in the local encoding
  store.ScanPartition(partition, UINT64_MAX, options_.slice_keys, now,
                      [&](const storage::EntryView& e) {
                        keys.emplace_back(e.key);
                        if (!drop.push) return;
                        locals.emplace_back(e.value);
                        auto obj = storage::Object::Decode(e.value, keyspace_.actors());
                        std::string bytes;
                        if (obj.ok()) obj.value().EncodeWithNodeIds(keyspace_.actors(), &bytes);
                        objects.push_back(std::move(bytes));
                      });
  if (keys.empty()) return true;
  if (!drop.push) {
    for (const std::string& key : keys) keyspace_.Forget(key, now);
    stats_.keys_dropped += keys.size();
    return false;
  }
  // A stray key goes to the partition's replicas first (an object merge:
  // harmless if they have it), and leaves here once every one of them took
  // it, unchanged since. Only while every primary is reachable: until then
  // this node may stand in for one (a fallback), and its copy is what it
  // coordinates from when no primary is reachable (cluster/route.cc).
  std::vector<NodeId> to;
  for (const Target& t : *node_.PrimariesOfPartition(partition, options_.replicas)) {
    if (t.node == node_.self_id()) continue;
    if (!t.reads() || !node_.IsReachable(t.node)) {
      drop.due_ms = node_.LoopNowMs() + options_.drop_delay_ms;  // the others' turn
      return false;
    }
    to.push_back(t.node);
  }
  if (to.empty()) return false;
  std::vector<std::string> argv{"SHOAL.MPUT"};
  for (size_t i = 0; i < keys.size(); ++i) {
    if (objects[i].empty()) continue;
    argv.push_back(keys[i]);
    argv.push_back(objects[i]);
  }
  drop.in_flight = true;
  struct Progress {
    size_t left = 0;
    bool all_taken = true;
  };
  auto progress = std::make_shared<Progress>();
  progress->left = to.size();
  const size_t items = (argv.size() - 1) / 2;
  auto pushed = std::make_shared<std::vector<std::pair<std::string, std::string>>>();
  pushed->reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) pushed->emplace_back(keys[i], std::move(locals[i]));
  for (const NodeId& node : to) {
    node_.Send(node, argv, node_.LoopNowMs() + options_.request_timeout_ms,
               [this, partition, pushed, items, progress](PeerOutcome outcome,
                                                          const PeerReply* reply, bool late) {
                 if (late || stopped_) return;
                 const bool taken =
                     outcome == PeerOutcome::kReply && reply->type == PeerReply::Type::kArray &&
                     reply->elements.size() == items &&
                     std::all_of(
                         reply->elements.begin(), reply->elements.end(),
                         [](const PeerReply& r) { return r.type == PeerReply::Type::kStatus; });
                 if (!taken) progress->all_taken = false;
                 if (--progress->left > 0) return;
                 auto it = drops_.find(partition);
                 if (it == drops_.end()) return;
                 it->second.in_flight = false;
                 if (!progress->all_taken) {
                   ++stats_.failures;
                   return;
                 }
                 // A key written here since the scan keeps its newer copy: the next
                 // slice pushes that.
                 const int64_t at = clock_.NowMs();
                 for (const auto& [key, local] : *pushed) {
                   const std::string* now_bytes = keyspace_.store().Peek(key, at);
                   if (now_bytes == nullptr || *now_bytes != local) continue;
                   keyspace_.Forget(key, at);
                   ++stats_.stray_keys_moved;
                 }
               });
  }
  return false;
}

void PartitionTransfer::ServeScan(const std::vector<std::string>& argv,
                                  facade::ReplyBuilder& reply) {
  int64_t partition = 0, bound = 0, max_keys = 0, max_bytes = 0;
  const uint32_t q = node_.ring().partition_count();
  if (argv.size() != 5 || !facade::ParseInt64(argv[1], &partition) ||
      !facade::ParseInt64(argv[2], &bound) || !facade::ParseInt64(argv[3], &max_keys) ||
      !facade::ParseInt64(argv[4], &max_bytes) || partition < 0 || partition >= q || bound < 0 ||
      max_keys < 1 || max_keys > kMaxFrameKeys || max_bytes < 1 || max_bytes > kMaxFrameBytes) {
    return reply.Error(facade::errors::BadPeerFrame("SHOAL.XFER"));
  }
  const uint32_t k = static_cast<uint32_t>(partition);
  const Membership& m = node_.membership();
  storage::Store& store = keyspace_.store();
  if (store.partitions() != q || (!m.IsReady(node_.self_id(), k) && AnyReady(m, k))) {
    return reply.Error("ERR this node does not hold partition " + std::to_string(k));
  }
  const int64_t now = clock_.NowMs();
  std::vector<std::pair<std::string, std::string>> out;
  uint64_t bytes = 0;
  uint64_t next = static_cast<uint64_t>(bound);
  while (next > 0 && out.size() < static_cast<size_t>(max_keys) &&
         bytes < static_cast<uint64_t>(max_bytes)) {
    next = store.ScanPartition(k, next, 1, now, [&](const storage::EntryView& e) {
      auto obj = storage::Object::Decode(e.value, keyspace_.actors());
      if (!obj.ok()) return;  // damaged locally: anti-entropy repairs it
      std::string encoded;
      obj.value().EncodeWithNodeIds(keyspace_.actors(), &encoded);
      bytes += e.key.size() + encoded.size();
      out.emplace_back(std::string(e.key), std::move(encoded));
    });
  }
  reply.ArrayHeader(1 + 2 * out.size());
  reply.Integer(static_cast<int64_t>(next));
  for (const auto& [key, object] : out) {
    reply.Bulk(key);
    reply.Bulk(object);
  }
  ++stats_.batches_sent;
  stats_.keys_sent += out.size();
  stats_.bytes_sent += bytes;
}

}  // namespace shoal::cluster
