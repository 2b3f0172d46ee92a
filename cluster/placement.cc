#include "cluster/placement.h"

#include <algorithm>

namespace shoal::cluster {
namespace {

// The new set of k, who of it is ready, and the outgoing nodes paired with
// the pending ones.
struct Layout {
  std::vector<NodeId> new_set;
  std::vector<bool> ready;       // per new-set node
  std::vector<NodeId> outgoing;  // pair of the i-th pending node (may be shorter)
  std::vector<NodeId> pending;   // in new-set order
};

Layout LayoutOf(const Membership& m, uint32_t k, size_t n) {
  Layout l;
  const Ring& ring = m.ring();
  if (ring.empty() || k >= ring.partition_count()) return l;
  for (Replica& r : ring.PreferenceForPartition(k, n).primaries) l.new_set.push_back(r.node);
  const bool any = AnyReady(m, k);
  for (const NodeId& node : l.new_set) {
    // A holder that released the partition may have missed writes since:
    // as a new replica again it receives the partition anew.
    const bool ready = !any || (m.IsReady(node, k) && !m.IsReleasing(node, k));
    l.ready.push_back(ready);
    if (!ready) l.pending.push_back(node);
  }
  if (l.pending.empty()) return l;
  for (const auto& [id, row] : m.ready()) {  // by id
    if (l.outgoing.size() == l.pending.size()) break;
    if (!row.Has(k) || !m.members().contains(id)) continue;
    if (std::find(l.new_set.begin(), l.new_set.end(), id) != l.new_set.end()) continue;
    l.outgoing.push_back(id);
  }
  return l;
}

}  // namespace

bool AnyReady(const Membership& m, uint32_t partition) {
  for (const auto& [id, row] : m.ready()) {
    if (row.Has(partition) && m.members().contains(id)) return true;
  }
  return false;
}

std::vector<Target> PlanPartition(const Membership& m, uint32_t partition, size_t n) {
  const Layout l = LayoutOf(m, partition, n);
  std::vector<Target> out;
  out.reserve(l.new_set.size() + l.pending.size());
  size_t paired = 0;
  for (size_t i = 0; i < l.new_set.size(); ++i) {
    if (l.ready[i]) {
      out.push_back(Target{partition, l.new_set[i], false, {}, false, false});
    } else if (paired < l.outgoing.size()) {
      out.push_back(Target{partition, l.outgoing[paired++], false, {}, false, true});
    }
  }
  for (const NodeId& node : l.pending) {
    out.push_back(Target{partition, node, false, {}, true, false});
  }
  return out;
}

NodeDuties DutiesOf(const Membership& m, const NodeId& node, size_t n) {
  NodeDuties d;
  const Ring& ring = m.ring();
  if (ring.empty() || !m.members().contains(node)) return d;
  for (uint32_t k = 0; k < ring.partition_count(); ++k) {
    const Layout l = LayoutOf(m, k, n);
    const bool in_new = std::find(l.new_set.begin(), l.new_set.end(), node) != l.new_set.end();
    if (in_new) {
      if (!AnyReady(m, k)) {
        d.claim.push_back(k);
        continue;
      }
      auto it = std::find(l.pending.begin(), l.pending.end(), node);
      if (it == l.pending.end()) continue;
      const size_t i = static_cast<size_t>(it - l.pending.begin());
      NodeId source;
      if (i < l.outgoing.size()) {
        source = l.outgoing[i];
      } else {
        for (size_t j = 0; j < l.new_set.size() && source.empty(); ++j) {
          if (l.ready[j]) source = l.new_set[j];
        }
        if (source.empty() && !l.outgoing.empty()) source = l.outgoing.front();
      }
      // With no holder at all the partition's data is gone (every holder
      // was removed): nothing to receive, the node claims it.
      if (source.empty()) {
        d.claim.push_back(k);
      } else {
        d.receive.push_back(Inbound{k, std::move(source)});
      }
    } else if (m.IsReady(node, k) && l.pending.empty()) {
      d.drop.push_back(k);
    } else if (m.IsReady(node, k) && !m.IsReleasing(node, k)) {
      d.release.push_back(k);
    }
  }
  return d;
}

bool HasDuties(const Membership& m, const NodeId& node, size_t n) {
  const Ring& ring = m.ring();
  if (ring.empty() || !m.members().contains(node)) return false;
  for (uint32_t k = 0; k < ring.partition_count(); ++k) {
    const Layout l = LayoutOf(m, k, n);
    // Still to receive, or holding what a replica (itself or a pending
    // one) depends on.
    if (std::find(l.pending.begin(), l.pending.end(), node) != l.pending.end()) return true;
    if (!m.IsReady(node, k)) continue;
    const bool in_new = std::find(l.new_set.begin(), l.new_set.end(), node) != l.new_set.end();
    if (in_new || !l.pending.empty()) return true;
  }
  return false;
}

bool ReleasedBy(const Membership& m, uint32_t partition, size_t n,
                const std::function<bool(const NodeId&)>& alive) {
  const Layout l = LayoutOf(m, partition, n);
  for (const auto& [id, row] : m.ready()) {
    if (!row.Has(partition) || row.Releasing(partition) || !m.members().contains(id)) continue;
    if (std::find(l.new_set.begin(), l.new_set.end(), id) != l.new_set.end()) continue;
    if (alive(id)) return false;
  }
  return true;
}

bool ChangeInProgress(const Membership& m, size_t n) {
  const Ring& ring = m.ring();
  if (ring.empty()) return false;
  for (uint32_t k = 0; k < ring.partition_count(); ++k) {
    const Layout l = LayoutOf(m, k, n);
    if (!l.pending.empty()) return true;
    for (const auto& [id, row] : m.ready()) {
      if (row.Has(k) && std::find(l.new_set.begin(), l.new_set.end(), id) == l.new_set.end()) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace shoal::cluster
