#include "cluster/anti_entropy.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "facade/errors.h"
#include "storage/object.h"

namespace shoal::cluster {
namespace {

bool ParseU32(std::string_view s, uint32_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// The digest as SHOAL.MGET compares it: 8 raw bytes in host order.
std::string RawDigest(uint64_t d) {
  return std::string(reinterpret_cast<const char*>(&d), 8);
}

bool ParseList(const std::vector<std::string>& argv, uint32_t limit, size_t max_items,
               std::vector<uint32_t>* out) {
  if (argv.size() < 3 || argv.size() - 2 > max_items) return false;
  for (size_t i = 2; i < argv.size(); ++i) {
    uint32_t v = 0;
    if (!ParseU32(argv[i], &v) || v >= limit) return false;
    out->push_back(v);
  }
  return true;
}

}  // namespace

AntiEntropy::AntiEntropy(storage::Keyspace& keyspace, const storage::Clock& clock, Env env)
    : keyspace_(keyspace),
      clock_(clock),
      env_(std::move(env)),
      trees_(keyspace.store(), keyspace.actors()) {
  trees_.set_encoder([this](std::string_view key, std::string* out) {
    return keyspace_.EncodeWithNodeIds(key, clock_.NowMs(), out);
  });
  keyspace_.changes().Subscribe(&trees_);
}

AntiEntropy::~AntiEntropy() {
  keyspace_.changes().Unsubscribe(&trees_);
}

void AntiEntropy::Configure(bool active, uint32_t partitions,
                            std::function<uint32_t(std::string_view)> partition_of,
                            const AntiEntropyOptions& options) {
  options_ = options;
  if (!active || options.interval_ms <= 0 || partitions == 0) {
    trees_.Disable();
    last_compared_ms_.clear();
    exchange_.reset();
    return;
  }
  trees_.Enable(partitions, std::move(partition_of));
  if (last_compared_ms_.size() != partitions) last_compared_ms_.assign(partitions, -1);
}

void AntiEntropy::Stop() {
  stopped_ = true;
  exchange_.reset();
}

void AntiEntropy::Tick(int64_t now_ms) {
  if (stopped_ || !trees_.enabled()) return;
  ++ticks_;
  last_tick_ms_ = now_ms;
  const int64_t wall = clock_.NowMs();
  if (trees_.unbuilt() > 0) {
    trees_.BuildStep(wall, options_.build_budget);
  } else if (options_.rebuild_every_ticks > 0 &&
             ticks_ % static_cast<uint64_t>(options_.rebuild_every_ticks) == 0) {
    // Bit rot: one partition with keys, round robin.
    const uint32_t q = trees_.partitions();
    for (uint32_t i = 0; i < q; ++i) {
      const uint32_t p = (rebuild_cursor_ + i) % q;
      if (trees_.keys(p) == 0 && keyspace_.store().PartitionSize(p) == 0) continue;
      RebuildResult r = trees_.Rebuild(p, wall);
      ++stats_.rebuilds;
      stats_.rebuild_mismatches += r.mismatches;
      rebuild_cursor_ = (p + 1) % q;
      break;
    }
  }
  if (exchange_ && exchange_->confirming && now_ms >= exchange_->confirm_at) return Confirm();
  if (exchange_ || options_.interval_ms <= 0) return;
  if (started_once_ && now_ms - last_start_ms_ < options_.interval_ms) return;
  last_start_ms_ = now_ms;
  started_once_ = true;
  StartExchange();
}

bool AntiEntropy::Replicates(uint32_t partition, const NodeId& node) const {
  std::vector<NodeId> replicas = env_.replicas(partition);
  return std::find(replicas.begin(), replicas.end(), node) != replicas.end();
}

void AntiEntropy::StartExchange() {
  const uint32_t q = trees_.partitions();
  for (uint32_t i = 0; i < q; ++i) {
    const uint32_t p = (partition_cursor_ + i) % q;
    if (!trees_.built(p)) continue;
    std::vector<NodeId> replicas = env_.replicas(p);
    if (std::find(replicas.begin(), replicas.end(), env_.self) == replicas.end()) continue;
    std::vector<NodeId> peers;
    for (NodeId& n : replicas) {
      if (n != env_.self && env_.reachable(n)) peers.push_back(std::move(n));
    }
    if (peers.empty()) continue;
    partition_cursor_ = (p + 1) % q;
    Exchange ex;
    ex.id = next_exchange_id_++;
    ex.partition = p;
    ex.peer = std::move(peers[peer_rotation_++ % peers.size()]);
    exchange_ = std::move(ex);
    SendStep({"SHOAL.AEBRANCH", std::to_string(p)}, [this](const PeerReply& r) { OnBranches(r); });
    return;
  }
}

PeerCallback AntiEntropy::Step(std::function<void(const PeerReply&)> on_reply) {
  const uint64_t id = exchange_->id;
  return [this, id, on_reply = std::move(on_reply)](PeerOutcome outcome, const PeerReply* reply,
                                                    bool late) {
    if (late || stopped_ || !exchange_ || exchange_->id != id) return;
    if (outcome != PeerOutcome::kReply || reply->type == PeerReply::Type::kError) return Fail();
    on_reply(*reply);
  };
}

void AntiEntropy::SendStep(std::vector<std::string> argv,
                           std::function<void(const PeerReply&)> on_reply) {
  // A copy: a refused send calls back at once, and the callback may end
  // the exchange.
  const NodeId peer = exchange_->peer;
  env_.send(peer, std::move(argv), Step(std::move(on_reply)));
}

void AntiEntropy::OnBranches(const PeerReply& r) {
  const uint32_t p = exchange_->partition;
  if (r.type != PeerReply::Type::kString) return Fail();
  auto remote = DecodeHashes(r.str, TicTacTree::kBranches);
  if (!remote.ok()) return Fail();
  const auto& mine = trees_.tree(p).branches();
  std::vector<uint64_t> local(mine.begin(), mine.end());
  std::vector<uint32_t> branches = DifferingIndexes(local, remote.value());
  ++stats_.partitions_compared;
  last_compared_ms_[p] = clock_.NowMs();
  if (branches.empty()) return Finish();
  std::vector<std::string> argv{"SHOAL.AELEAF", std::to_string(p)};
  for (uint32_t b : branches) argv.push_back(std::to_string(b));
  SendStep(std::move(argv),
           [this, branches](const PeerReply& reply) { OnLeaves(branches, reply); });
}

namespace {

// The segments of `branches` whose local hash differs from `remote` (the
// peer's segment hashes of those branches, in order), among `among` if not
// null.
std::vector<uint32_t> SegmentsDiffering(const TicTacTree& tree,
                                        const std::vector<uint32_t>& branches,
                                        const std::vector<uint64_t>& remote,
                                        const std::vector<uint32_t>* among) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < branches.size(); ++i) {
    for (uint32_t w = 0; w < TicTacTree::kBranchWidth; ++w) {
      const uint32_t s = branches[i] * TicTacTree::kBranchWidth + w;
      if (tree.segment(s) == remote[i * TicTacTree::kBranchWidth + w]) continue;
      if (among != nullptr && !std::binary_search(among->begin(), among->end(), s)) continue;
      out.push_back(s);
    }
  }
  return out;
}

}  // namespace

void AntiEntropy::OnLeaves(const std::vector<uint32_t>& branches, const PeerReply& r) {
  if (r.type != PeerReply::Type::kString) return Fail();
  auto remote = DecodeHashes(r.str, branches.size() * TicTacTree::kBranchWidth);
  if (!remote.ok()) return Fail();
  Exchange& ex = *exchange_;
  ex.segments = SegmentsDiffering(trees_.tree(ex.partition), branches, remote.value(), nullptr);
  if (ex.segments.empty()) return Finish();
  if (options_.confirm_delay_ms <= 0) return Confirm();
  ex.confirming = true;
  ex.confirm_at = last_tick_ms_ + options_.confirm_delay_ms;
}

void AntiEntropy::Confirm() {
  Exchange& ex = *exchange_;
  ex.confirming = false;
  std::vector<uint32_t> branches;
  for (uint32_t s : ex.segments) {
    const uint32_t b = TicTacTree::BranchOf(s);
    if (branches.empty() || branches.back() != b) branches.push_back(b);  // segments ascend
  }
  std::vector<std::string> argv{"SHOAL.AELEAF", std::to_string(ex.partition)};
  for (uint32_t b : branches) argv.push_back(std::to_string(b));
  SendStep(std::move(argv),
           [this, branches](const PeerReply& reply) { OnConfirm(branches, reply); });
}

void AntiEntropy::OnConfirm(const std::vector<uint32_t>& branches, const PeerReply& r) {
  if (r.type != PeerReply::Type::kString) return Fail();
  auto remote = DecodeHashes(r.str, branches.size() * TicTacTree::kBranchWidth);
  if (!remote.ok()) return Fail();
  Exchange& ex = *exchange_;
  const std::vector<uint32_t> first = std::move(ex.segments);
  ex.segments = SegmentsDiffering(trees_.tree(ex.partition), branches, remote.value(), &first);
  stats_.segments_differing += ex.segments.size();
  ListNext();
}

void AntiEntropy::ListNext() {
  Exchange& ex = *exchange_;
  if (ex.next_segment >= ex.segments.size()) return Finish();
  const size_t n = std::min(ex.segments_per_frame, ex.segments.size() - ex.next_segment);
  std::vector<uint32_t> batch(
      ex.segments.begin() + static_cast<std::ptrdiff_t>(ex.next_segment),
      ex.segments.begin() + static_cast<std::ptrdiff_t>(ex.next_segment + n));
  std::vector<std::string> argv{"SHOAL.AEKEYS", std::to_string(ex.partition)};
  for (uint32_t s : batch) argv.push_back(std::to_string(s));
  SendStep(std::move(argv), [this, batch](const PeerReply& r) { OnKeys(batch, r); });
}

void AntiEntropy::OnKeys(const std::vector<uint32_t>& segments, const PeerReply& r) {
  Exchange& ex = *exchange_;
  if (r.type != PeerReply::Type::kArray || r.elements.empty() || r.elements.size() % 2 != 1 ||
      r.elements[0].type != PeerReply::Type::kInteger ||
      (r.elements.size() - 1) / 2 > kMaxListedKeys) {
    return Fail();
  }
  std::vector<KeyDigest> remote;
  remote.reserve((r.elements.size() - 1) / 2);
  for (size_t i = 1; i + 1 < r.elements.size(); i += 2) {
    const PeerReply& k = r.elements[i];
    const PeerReply& d = r.elements[i + 1];
    if (k.type != PeerReply::Type::kString || d.type != PeerReply::Type::kString ||
        d.str.size() != 8) {
      return Fail();
    }
    uint64_t digest = 0;
    std::memcpy(&digest, d.str.data(), 8);
    remote.push_back({k.str, digest});
  }
  bool truncated = false;
  std::vector<KeyDigest> local =
      trees_.ListSegments(ex.partition, segments, clock_.NowMs(), kMaxListedKeys, &truncated);
  if ((truncated || r.elements[0].integer != 0) && segments.size() > 1) {
    // Too many keys for one frame: ask for fewer segments at a time.
    ex.segments_per_frame = std::max<size_t>(1, segments.size() / 2);
    return ListNext();
  }
  // A lone segment past the limit is repaired in part; the rest waits for a
  // later exchange. Extra keys are harmless: the pull compares digests.
  ex.next_segment += segments.size();
  ex.keys = DifferingKeys(std::move(local), std::move(remote));
  ex.next_key = 0;
  stats_.keys_differing += ex.keys.size();
  RepairNext();
}

void AntiEntropy::RepairNext() {
  Exchange& ex = *exchange_;
  if (ex.next_key >= ex.keys.size()) return ListNext();
  const size_t n = std::min(options_.repair_batch, ex.keys.size() - ex.next_key);
  std::vector<std::string> batch(ex.keys.begin() + static_cast<std::ptrdiff_t>(ex.next_key),
                                 ex.keys.begin() + static_cast<std::ptrdiff_t>(ex.next_key + n));
  ex.next_key += n;
  std::vector<std::string> argv{"SHOAL.MGET"};
  for (const std::string& k : batch) {
    argv.push_back(k);
    std::optional<uint64_t> d = trees_.DigestOf(k);
    argv.push_back(d ? RawDigest(*d) : std::string());
  }
  SendStep(std::move(argv),
           [this, batch = std::move(batch)](const PeerReply& r) { OnPulled(batch, r); });
}

void AntiEntropy::OnPulled(const std::vector<std::string>& keys, const PeerReply& r) {
  if (r.type != PeerReply::Type::kArray || r.elements.size() != keys.size()) return Fail();
  const int64_t now = clock_.NowMs();
  std::vector<std::string> push{"SHOAL.MPUT"};
  for (size_t i = 0; i < keys.size(); ++i) {
    const PeerReply& e = r.elements[i];
    const std::string& key = keys[i];
    if (e.type == PeerReply::Type::kStatus || e.type == PeerReply::Type::kError) continue;
    if (e.type != PeerReply::Type::kNil && e.type != PeerReply::Type::kString) continue;
    if (e.type == PeerReply::Type::kString) {
      auto theirs = storage::Object::DecodeWithNodeIds(e.str, keyspace_.actors());
      if (!theirs.ok()) continue;  // a damaged object: the peer's copy is not taken
      const std::optional<uint64_t> before = trees_.DigestOf(key);
      if (!keyspace_.Merge(key, theirs.value(), now).ok()) continue;
      if (trees_.DigestOf(key) != before) ++stats_.keys_repaired;
    }
    auto mine = keyspace_.Load(key, now);
    if (!mine.ok() || mine.value().Size() == 0) continue;
    std::string bytes;
    mine.value().EncodeWithNodeIds(keyspace_.actors(), &bytes);
    if (e.type == PeerReply::Type::kString && bytes == e.str) continue;  // the peer has it
    push.push_back(key);
    push.push_back(std::move(bytes));
  }
  if (push.size() == 1) return RepairNext();
  SendStep(std::move(push), [this](const PeerReply& reply) {
    if (reply.type != PeerReply::Type::kArray) return Fail();
    for (const PeerReply& e : reply.elements) {
      if (e.type == PeerReply::Type::kStatus) ++stats_.keys_repaired;
    }
    RepairNext();
  });
}

void AntiEntropy::Fail() {
  ++stats_.exchange_failures;
  exchange_.reset();
}

void AntiEntropy::Finish() {
  ++stats_.exchanges;
  exchange_.reset();
}

// --- the peer side -----------------------------------------------------------

std::string AntiEntropy::CheckPartition(std::string_view arg, uint32_t* partition) const {
  if (!trees_.enabled()) return "ERR anti-entropy is off on this node";
  if (!ParseU32(arg, partition) || *partition >= trees_.partitions()) {
    return "ERR invalid partition";
  }
  if (!Replicates(*partition, env_.self)) {
    return "ERR partition " + std::to_string(*partition) + " is not replicated here";
  }
  if (!trees_.built(*partition)) {
    return "ERR partition " + std::to_string(*partition) + " tree is not built yet";
  }
  return {};
}

void AntiEntropy::ServeBranches(const std::vector<std::string>& argv, facade::ReplyBuilder& reply) {
  if (argv.size() != 2) return reply.Error(facade::errors::BadPeerFrame("SHOAL.AEBRANCH"));
  uint32_t p = 0;
  if (std::string err = CheckPartition(argv[1], &p); !err.empty()) return reply.Error(err);
  ++stats_.frames_served;
  last_compared_ms_[p] = clock_.NowMs();
  const auto& b = trees_.tree(p).branches();
  reply.Bulk(EncodeHashes(b.data(), b.size()));
}

void AntiEntropy::ServeLeaves(const std::vector<std::string>& argv, facade::ReplyBuilder& reply) {
  std::vector<uint32_t> branches;
  if (argv.size() < 2 ||
      !ParseList(argv, TicTacTree::kBranches, TicTacTree::kBranches, &branches)) {
    return reply.Error(facade::errors::BadPeerFrame("SHOAL.AELEAF"));
  }
  uint32_t p = 0;
  if (std::string err = CheckPartition(argv[1], &p); !err.empty()) return reply.Error(err);
  ++stats_.frames_served;
  const TicTacTree& tree = trees_.tree(p);
  std::vector<uint64_t> hashes;
  hashes.reserve(branches.size() * TicTacTree::kBranchWidth);
  for (uint32_t b : branches) {
    for (uint32_t w = 0; w < TicTacTree::kBranchWidth; ++w) {
      hashes.push_back(tree.segment(b * TicTacTree::kBranchWidth + w));
    }
  }
  reply.Bulk(EncodeHashes(hashes.data(), hashes.size()));
}

void AntiEntropy::ServeKeys(const std::vector<std::string>& argv, facade::ReplyBuilder& reply) {
  std::vector<uint32_t> segments;
  if (argv.size() < 2 || !ParseList(argv, TicTacTree::kSegments, kMaxSegmentsPerFrame, &segments)) {
    return reply.Error(facade::errors::BadPeerFrame("SHOAL.AEKEYS"));
  }
  uint32_t p = 0;
  if (std::string err = CheckPartition(argv[1], &p); !err.empty()) return reply.Error(err);
  ++stats_.frames_served;
  bool truncated = false;
  std::vector<KeyDigest> keys =
      trees_.ListSegments(p, segments, clock_.NowMs(), kMaxListedKeys, &truncated);
  reply.ArrayHeader(1 + 2 * keys.size());
  reply.Integer(truncated ? 1 : 0);
  for (const KeyDigest& k : keys) {
    reply.Bulk(k.key);
    reply.Bulk(RawDigest(k.digest));
  }
}

}  // namespace shoal::cluster
