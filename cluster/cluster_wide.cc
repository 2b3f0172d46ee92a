// Dispatcher's cluster-wide commands (KEYS, SCAN, DBSIZE, RANDOMKEY, FLUSHALL,
// FLUSHDB): every member runs the command over the keys it owns (SHOAL.LOCAL)
// and the answers are combined as the command's Routing says. See
// dispatcher.h.

#include <map>

#include "cluster/dispatcher.h"
#include "cluster/peer/protocol.h"
#include "cluster/quorum.h"
#include "facade/args.h"
#include "facade/connection.h"
#include "facade/errors.h"
#include "facade/reply_builder.h"

namespace shoal::cluster {
namespace {

// The SCAN cursor across the cluster: the key partition in the low 16 bits
// (kMaxPartitions is 2^16), the bound of that partition's walk above.
constexpr unsigned kScanPartitionBits = 16;

// Combines the members' replies (all parsed, none an error).
std::string Combined(Combine how, const std::vector<PeerReply>& replies, uint64_t random,
                     int resp) {
  std::string out;
  facade::ReplyBuilder rb(&out, resp);
  switch (how) {
    case Combine::kSumAll: {
      int64_t total = 0;
      for (const PeerReply& r : replies) total += r.integer;
      rb.Integer(total);
      break;
    }
    case Combine::kConcatAll: {
      size_t n = 0;
      for (const PeerReply& r : replies) n += r.elements.size();
      rb.ArrayHeader(n);
      for (const PeerReply& r : replies) {
        for (const PeerReply& e : r.elements) WriteReply(e, rb);
      }
      break;
    }
    case Combine::kPickOne: {
      std::vector<const PeerReply*> found;
      for (const PeerReply& r : replies) {
        if (r.type == PeerReply::Type::kString) found.push_back(&r);
      }
      if (found.empty()) {
        rb.Null();
      } else {
        WriteReply(*found[random % found.size()], rb);
      }
      break;
    }
    default:
      rb.Ok();
      break;
  }
  return out;
}

}  // namespace

std::string Dispatcher::OwnedPartitions(const NodeId& node) const {
  const Ring& ring = node_.ring();
  std::string bitmap(PartitionBitmapBytes(ring.partition_count()), '\0');
  for (uint32_t p : ring.PartitionsOf(node)) bitmap[p / 8] |= static_cast<char>(1 << (p % 8));
  return bitmap;
}

KeyFilter Dispatcher::PartitionFilter(std::string bitmap) const {
  const uint32_t q = node_.ring().partition_count();
  int64_t single = -1;
  size_t bits = 0;
  for (uint32_t p = 0; p < q && bits < 2; ++p) {
    if ((static_cast<unsigned char>(bitmap[p / 8]) >> (p % 8)) & 1) {
      single = p;
      ++bits;
    }
  }
  KeyFilter filter;
  filter.scan_partition = bits == 1 ? single : -1;
  filter.accept = [this, q, bitmap = std::move(bitmap)](const storage::EntryView& e) {
    const uint32_t p = PartitionOfHash(KeyHash(e.key), q);
    if ((static_cast<unsigned char>(bitmap[p / 8]) & (1u << (p % 8))) == 0) return false;
    // A kept tombstone is not a key.
    const int64_t now = clock_.NowMs();
    if (storage::Object::PeekSingleValue(e.value, now)) return true;
    auto obj = storage::Object::Decode(e.value, keyspace_.actors());
    return obj.ok() && !obj.value().IsAbsent(now);
  };
  return filter;
}

storage::Result<std::vector<Dispatcher::Unit>> Dispatcher::ListingUnits() const {
  // Each key partition is listed once, by the first reachable node that
  // holds it: its first replica, or, while it is being transferred, the
  // node holding it in the new replica's place (cluster/placement.h). So
  // counts and scans stay exact while partitions move.
  const uint32_t q = node_.ring().partition_count();
  const size_t bytes = PartitionBitmapBytes(q);
  std::map<NodeId, std::string> by_node;
  for (uint32_t k = 0; k < q; ++k) {
    ReplicaSet targets = node_.PrimariesOfPartition(k, options_.replicas);
    const Target* at = nullptr;
    size_t holders = 0;
    for (const Target& t : *targets) {
      if (!t.reads()) continue;
      ++holders;
      if (at == nullptr && Up(t.node)) at = &t;
    }
    if (at == nullptr) {
      return storage::Status(storage::Code::kUnavailable,
                             facade::errors::PartitionUnavailable(k, holders));
    }
    std::string& bitmap = by_node[at->node];
    if (bitmap.empty()) bitmap.assign(bytes, '\0');
    bitmap[k / 8] |= static_cast<char>(1 << (k % 8));
  }
  std::vector<Unit> units;
  units.reserve(by_node.size());
  for (auto& [node, bitmap] : by_node) units.push_back({node, std::move(bitmap)});
  return units;
}

void Dispatcher::ExecuteClusterWide(const std::shared_ptr<ConnState>& cs,
                                    const std::shared_ptr<Request>& req) {
  ++stats_.broadcasts;
  const Combine how = req->combine;
  auto finish = [this, cs, req](std::string reply) {
    Part p;
    p.reply = std::move(reply);
    p.done = true;
    req->parts.push_back(std::move(p));
    MaybeComplete(cs, req);
  };
  // FLUSHALL/FLUSHDB clear every member's whole store: every member must
  // answer. The listing commands need each partition listed once, by its
  // owner or, when that is down, by a reachable replica.
  std::vector<Unit> units;
  std::vector<std::string> argv = req->argv;
  uint32_t scan_partition = 0;
  const uint32_t q = node_.ring().partition_count();
  if (how == Combine::kOkAll) {
    for (const auto& [member, info] : node_.membership().members()) units.push_back({member, {}});
  } else if (how == Combine::kScanAll) {
    // The cluster cursor walks the key partitions in order: the partition
    // in the low kScanPartitionBits, the bound of that partition's walk on
    // its holder (storage::Store::ScanPartition) above. A partition is
    // walked on whichever node holds it when each step runs, so the walk
    // stays complete while partitions move between nodes.
    uint64_t cursor = 0;
    if (argv.size() < 2 || !facade::ParseScanCursor(argv[1], &cursor)) {
      return finish(facade::ErrorReply(facade::errors::kInvalidCursor));
    }
    scan_partition = static_cast<uint32_t>(cursor & ((uint64_t{1} << kScanPartitionBits) - 1));
    if (scan_partition >= q) return finish("*2\r\n$1\r\n0\r\n*0\r\n");
    argv[1] = std::to_string(cursor >> kScanPartitionBits);
    ReplicaSet targets = node_.PrimariesOfPartition(scan_partition, options_.replicas);
    const Target* at = nullptr;
    for (const Target& t : *targets) {
      if (t.reads() && Up(t.node)) {
        at = &t;
        break;
      }
    }
    if (at == nullptr) {
      return finish(facade::ErrorReply(
          facade::errors::PartitionUnavailable(scan_partition, targets->size())));
    }
    std::string bitmap(PartitionBitmapBytes(q), '\0');
    bitmap[scan_partition / 8] = static_cast<char>(1 << (scan_partition % 8));
    units.push_back({at->node, std::move(bitmap)});
  } else {
    auto listing = ListingUnits();
    if (!listing.ok()) return finish(facade::ErrorReply(listing.status().message()));
    units = std::move(listing).value();
  }
  const size_t count = units.size();
  req->node_replies.assign(count, std::string());
  req->node_pending = count;
  auto finish_one = [this, req, how, scan_partition, q, finish](size_t slot, std::string bytes) {
    req->node_replies[slot] = std::move(bytes);
    if (--req->node_pending > 0) return;
    std::vector<PeerReply> replies;
    for (const std::string& r : req->node_replies) {
      auto parsed = ParseReply(r);
      if (!parsed.ok()) return finish(facade::ErrorReply(facade::errors::kBadNodeReply));
      if (parsed.value().type == PeerReply::Type::kError) {
        return finish(facade::ErrorReply(parsed.value().str));
      }
      replies.push_back(std::move(parsed).value());
    }
    if (how != Combine::kScanAll) {
      return finish(Combined(how, replies, host_.Random(), req->resp));
    }
    // SCAN: [bound, [keys...]] from the partition's holder; the next
    // cursor moves on to the next partition once this one is done.
    const PeerReply& r = replies[0];
    uint64_t cursor = 0;
    if (r.type != PeerReply::Type::kArray || r.elements.size() != 2 ||
        !facade::ParseScanCursor(r.elements[0].str, &cursor)) {
      return finish(facade::ErrorReply(facade::errors::kBadNodeReply));
    }
    uint64_t next = 0;
    if (cursor != 0) {
      next = (cursor << kScanPartitionBits) | scan_partition;
    } else if (scan_partition + 1 < q) {
      next = scan_partition + 1;
    }
    std::string out;
    facade::ReplyBuilder rb(&out, req->resp);
    rb.ArrayHeader(2);
    rb.Bulk(std::to_string(next));
    WriteReply(r.elements[1], rb);
    finish(std::move(out));
  };
  // Replica puts of this connection's earlier writes are still batched:
  // send them first, so that on each link they arrive before this command
  // and it sees them (a pipelined SET then DBSIZE counts the key).
  transport_.Flush();
  // A member answers its share at once, but on a peer link replies keep
  // request order: this one may wait behind a forwarded command that waits
  // up to request-timeout-ms for its own replicas. Give it that and as long
  // again (as Coordinator::Forward does).
  const int64_t deadline = transport_.NowMs() + 2 * options_.request_timeout_ms;
  for (size_t k = 0; k < count; ++k) {
    Unit& unit = units[k];
    if (unit.node == node_.self_id()) {
      std::string local;
      const KeyFilter filter =
          PartitionFilter(unit.partitions.empty() ? OwnedPartitions(unit.node) : unit.partitions);
      // RESP2, as the other members' shares (ServeLocal).
      host_.Run(*cs->conn, req->cmd, argv, &filter, /*resp=*/2, &local);
      finish_one(k, std::move(local));
      continue;
    }
    std::vector<std::string> remote{"SHOAL.LOCAL", std::move(unit.partitions)};
    remote.insert(remote.end(), argv.begin(), argv.end());
    const size_t members = units.size();
    transport_.Send(
        unit.node, std::move(remote), deadline,
        [finish_one, k, members](PeerOutcome outcome, const PeerReply* reply, bool late) {
          if (late) return;
          if (outcome == PeerOutcome::kReply && reply->type == PeerReply::Type::kString) {
            finish_one(k, reply->str);
          } else if (outcome == PeerOutcome::kReply && reply->type == PeerReply::Type::kError) {
            finish_one(k, facade::ErrorReply(reply->str));
          } else {
            // Every unit must answer.
            finish_one(k, facade::ErrorReply(NoQuorumMessage(0, members)));
          }
        });
  }
}

}  // namespace shoal::cluster
