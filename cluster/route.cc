#include "cluster/route.h"

#include <algorithm>

#include "facade/errors.h"

namespace shoal::cluster {

std::vector<size_t> KeyPositions(const CommandRef& cmd, size_t argc) {
  std::vector<size_t> out;
  if (cmd.first_key <= 0 || static_cast<size_t>(cmd.first_key) >= argc) return out;
  // A negative last counts from the end; one before the start means no keys
  // (as Redis's argc + last < first), not a wrap to the largest size_t.
  if (cmd.last_key < 0 && static_cast<size_t>(-static_cast<int64_t>(cmd.last_key)) > argc) {
    return out;
  }
  size_t last = cmd.last_key < 0 ? argc + static_cast<size_t>(cmd.last_key)  // -1: the last
                                 : static_cast<size_t>(cmd.last_key);
  last = std::min(last, argc - 1);
  size_t step = cmd.key_step > 0 ? static_cast<size_t>(cmd.key_step) : 1;
  for (size_t i = static_cast<size_t>(cmd.first_key); i <= last; i += step) out.push_back(i);
  return out;
}

bool ShareReplicas(const RouteContext& ctx, std::span<const std::string_view> keys) {
  if (keys.size() < 2) return true;
  // The same nodes in the same order; the partitions walked may differ.
  auto same_nodes = [](const std::vector<Target>& a, const std::vector<Target>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [](const Target& x, const Target& y) { return x.node == y.node; });
  };
  ReplicaSet first = ctx.Replicas(keys[0]);
  for (size_t i = 1; i < keys.size(); ++i) {
    if (keys[i] != keys[0] && !same_nodes(*ctx.Replicas(keys[i]), *first)) return false;
  }
  return true;
}

std::vector<size_t> KeyPositions(const CommandRef& cmd, std::span<const std::string> argv) {
  if (cmd.routing != nullptr && cmd.routing->keys_of != nullptr) return cmd.routing->keys_of(argv);
  return KeyPositions(cmd, argv.size());
}

namespace {

void AddPart(Request& req, std::vector<std::string> argv, const CommandRef& cmd, size_t key_pos,
             bool coordinate_here, const RouteContext& ctx) {
  Part p;
  p.key = argv[key_pos];
  p.cmd = cmd;
  p.replicas = ctx.Replicas(p.key);
  const bool reads = cmd.NeedsRead(argv);
  if (!coordinate_here) {
    // Who coordinates. A write goes to the first reachable primary: the
    // coordinator's new dot covers every earlier dot of its own (storage/
    // dvv.h), so it must hold all its own earlier writes of the key, which a
    // primary does and a fallback need not (its copies of a key it stands in
    // for leave it once the primaries are back, cluster/partition_transfer.h).
    // Only when no primary is reachable does a fallback coordinate, this
    // node first. Reads run here on any replica, else on the first
    // reachable one. A pending target (a new replica still receiving the
    // partition) does not hold the key yet: it never coordinates.
    const Target* first = nullptr;    // first reachable target
    const Target* primary = nullptr;  // first reachable primary
    const Target* mine = nullptr;     // this node's target
    for (const Target& t : *p.replicas) {
      if (!t.reads()) continue;
      const bool up = t.node == ctx.self() || ctx.Reachable(t.node);
      if (t.node == ctx.self()) mine = &t;
      if (up && first == nullptr) first = &t;
      if (up && primary == nullptr && !t.fallback) primary = &t;
    }
    const bool to_primary =
        cmd.write && primary != nullptr && (reads || mine == nullptr || mine->fallback);
    const Target* at = to_primary ? primary : (mine != nullptr ? mine : first);
    if (at == nullptr && !p.replicas->empty()) at = &p.replicas->front();  // it fails there
    if (at != nullptr && at->node != ctx.self()) {
      p.forward = true;
      p.forward_to = at->node;
    }
  }
  p.needs_read = !p.forward && reads;
  p.argv = std::move(argv);
  req.parts.push_back(std::move(p));
}

}  // namespace

Request Plan(const CommandRef& cmd, std::vector<std::string>& argv, bool coordinate_here,
             const RouteContext& ctx) {
  Request req;
  req.cmd = cmd;
  const Routing& r = *cmd.routing;
  req.combine = r.combine;
  switch (cmd.scope()) {
    case Scope::kLocal:
      req.kind = Request::Kind::kLocal;
      req.combine = Combine::kSingle;
      req.argv = std::move(argv);
      return req;
    case Scope::kClusterWide:
      req.kind = Request::Kind::kClusterWide;
      req.argv = std::move(argv);
      return req;
    case Scope::kAuto:
      break;
  }
  req.kind = Request::Kind::kKeyed;
  const std::vector<size_t> keys = KeyPositions(cmd, argv);
  const CommandRef part_cmd = r.part_command.empty() ? cmd : ctx.Find(r.part_command);
  const std::string part_name = r.part_command.empty() ? argv[0] : std::string(r.part_command);
  const bool pairs_ok =
      r.split == Split::kKeyValuePairs && cmd.key_step > 0 &&
      (argv.size() - static_cast<size_t>(cmd.first_key)) % static_cast<size_t>(cmd.key_step) == 0;
  if (part_cmd && r.split == Split::kEachKey) {
    for (size_t k : keys) {
      AddPart(req, {part_name, std::move(argv[k])}, part_cmd, 1, coordinate_here, ctx);
    }
    return req;
  }
  if (part_cmd && pairs_ok) {
    for (size_t k : keys) {
      AddPart(req, {part_name, std::move(argv[k]), std::move(argv[k + 1])}, part_cmd, 1,
              coordinate_here, ctx);
    }
    return req;
  }
  if (r.split == Split::kSameReplicas && keys.size() > 1) {
    std::vector<std::string_view> names;
    names.reserve(keys.size());
    for (size_t k : keys) names.push_back(argv[k]);
    if (!ShareReplicas(ctx, names)) {
      req.kind = Request::Kind::kLocal;
      req.combine = Combine::kSingle;
      req.error = std::string(facade::errors::kCrossSlot);
      return req;
    }
  }
  // One part: a single-key command, a same-replicas multi-key command, or a
  // malformed split (the handler replies its error).
  req.combine = Combine::kSingle;
  const size_t first = keys.empty() ? 1 : keys[0];
  std::vector<std::string> more;
  if (r.split == Split::kSameReplicas) {
    // Every other key is read too; a key named twice is read once.
    for (size_t k : keys) {
      if (argv[k] != argv[first] && std::find(more.begin(), more.end(), argv[k]) == more.end()) {
        more.push_back(argv[k]);
      }
    }
  }
  AddPart(req, std::move(argv), cmd, first, coordinate_here, ctx);
  Part& p = req.parts.back();
  if (p.needs_read) p.more_keys = std::move(more);
  return req;
}

}  // namespace shoal::cluster
