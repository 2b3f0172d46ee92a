#include "cluster/dispatcher.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <unordered_set>

#include "cluster/quorum.h"
#include "facade/connection.h"
#include "facade/errors.h"
#include "facade/reply_builder.h"

namespace shoal::cluster {

class Dispatcher::Runner final : public RequestQueue::Runner {
 public:
  Runner(Dispatcher& d, const std::shared_ptr<ConnState>& cs) : d_(d), cs_(cs) {}
  void Launch(const std::shared_ptr<Request>& req) override { d_.Launch(cs_, req); }
  void Execute(const std::shared_ptr<Request>& req) override { d_.Execute(cs_, req); }

 private:
  Dispatcher& d_;
  const std::shared_ptr<ConnState>& cs_;
};

Dispatcher::Dispatcher(ClusterNode& node, Coordinator& coordinator, PeerTransport& transport,
                       storage::Keyspace& keyspace, const storage::Clock& clock, CommandHost& host)
    : node_(node),
      coordinator_(coordinator),
      transport_(transport),
      keyspace_(keyspace),
      clock_(clock),
      host_(host) {}

Dispatcher::~Dispatcher() {
  for (auto& [conn, cs] : conns_) cs->conn = nullptr;
}

ReplicaSet Dispatcher::Replicas(std::string_view key) const {
  ReplicaSet primaries = node_.Primaries(key, options_.replicas);
  if (!options_.sloppy_quorum) return primaries;
  bool all_up = true;
  for (const Target& t : *primaries) all_up = all_up && Up(t.node);
  if (all_up) return primaries;  // the common case: the cached list
  // Each target that is down is replaced by the next up fallback in ring
  // order that is not a target already; it keeps a hint for the target and
  // takes its place in the read and new sets. A down target no fallback
  // could replace stays in the list (it fails at once): the quorum is
  // counted over as many replicas as there are targets, never fewer.
  const Ring& ring = node_.ring();
  const uint32_t partition = ring.PartitionOf(key);
  std::vector<Replica> fallbacks =
      ring.PreferenceForPartition(partition, options_.replicas).fallbacks;
  auto used = [&](const NodeId& node) {
    return std::any_of(primaries->begin(), primaries->end(),
                       [&](const Target& t) { return t.node == node; });
  };
  auto fb = fallbacks.begin();
  auto targets = std::make_shared<std::vector<Target>>();
  targets->reserve(primaries->size());
  for (const Target& t : *primaries) {
    if (Up(t.node)) {
      targets->push_back(t);
      continue;
    }
    while (fb != fallbacks.end() && (!Up(fb->node) || used(fb->node))) ++fb;
    if (fb == fallbacks.end()) {
      targets->push_back(t);
      continue;
    }
    Target stand_in = t;
    stand_in.node = fb->node;
    stand_in.fallback = true;
    stand_in.stands_in_for = t.node;
    targets->push_back(std::move(stand_in));
    ++fb;
  }
  return targets;
}

std::shared_ptr<Dispatcher::ConnState> Dispatcher::StateOf(facade::Connection& conn) {
  auto& slot = conns_[&conn];
  if (!slot) {
    slot = std::make_shared<ConnState>();
    slot->conn = &conn;
  }
  return slot;
}

void Dispatcher::OnConnectionClosed(facade::Connection& conn) {
  auto it = conns_.find(&conn);
  if (it == conns_.end()) return;
  it->second->conn = nullptr;
  conns_.erase(it);
}

void Dispatcher::OnChange(const storage::Change& change) {
  if (capture_ == nullptr) return;
  auto [it, first] = capture_->try_emplace(std::string(change.key()));
  Captured& c = it->second;
  // A delta is relative to the key's object before the command only for the
  // command's first change of the key; replicas hold that object, not the
  // command's intermediate ones.
  if (first && !change.delta().empty()) {
    c.delta.assign(change.delta());
    return;
  }
  c.delta.clear();
  c.object = change.NodeIdBytes();
}

bool Dispatcher::Handle(facade::Connection& conn, const CommandRef& cmd,
                        std::vector<std::string>& argv) {
  auto it = conns_.find(&conn);
  const bool busy = it != conns_.end() && it->second->queue.busy();
  if (cmd.scope() == Scope::kLocal && !busy) return false;  // inline, as a lone node
  auto req = std::make_shared<Request>(Plan(cmd, argv, /*coordinate_here=*/false, *this));
  req->resp = conn.state().resp;
  Enqueue(StateOf(conn), std::move(req));
  return true;
}

void Dispatcher::Handle(facade::Connection& conn, const CommandRef& cmd,
                        std::vector<std::string>& argv, RequestHooks hooks) {
  auto req = std::make_shared<Request>(Plan(cmd, argv, /*coordinate_here=*/false, *this));
  req->hooks = std::move(hooks);
  Enqueue(StateOf(conn), std::move(req));
}

void Dispatcher::ServeForward(facade::Connection& conn, std::vector<std::string>& argv,
                              facade::ReplyBuilder& reply) {
  // SHOAL.FWD [PROTO 3] <command...>: without PROTO (as older nodes send
  // it) the reply is RESP2.
  int resp = 2;
  if (argv.size() >= 3 && argv[1] == kForwardProtoArg) {
    if (argv[2] != "3") return reply.Error(facade::errors::BadPeerFrame("SHOAL.FWD"));
    resp = 3;
    argv.erase(argv.begin() + 1, argv.begin() + 3);
  }
  argv.erase(argv.begin());
  CommandRef cmd = host_.FindCall(argv);
  if (!cmd || !cmd.keyed() || cmd.scope() != Scope::kAuto || !ArityAllows(cmd, argv.size())) {
    return reply.Error(facade::errors::BadPeerFrame("SHOAL.FWD"));
  }
  ++stats_.served_forwards;
  auto req = std::make_shared<Request>(Plan(cmd, argv, /*coordinate_here=*/true, *this));
  req->wrap_bulk = true;
  req->resp = resp;
  Enqueue(StateOf(conn), std::move(req));
}

void Dispatcher::ServeLocal(facade::Connection& conn, std::vector<std::string>& argv,
                            facade::ReplyBuilder& reply) {
  // SHOAL.LOCAL <partition bitmap> <command...>
  if (argv.size() < 3) return reply.Error(facade::errors::BadPeerFrame("SHOAL.LOCAL"));
  std::string bitmap = std::move(argv[1]);
  argv.erase(argv.begin(), argv.begin() + 2);
  CommandRef cmd = host_.Find(argv[0]);
  const uint32_t q = node_.ring().partition_count();
  if (!cmd || cmd.scope() != Scope::kClusterWide || !ArityAllows(cmd, argv.size()) ||
      (!bitmap.empty() && bitmap.size() != PartitionBitmapBytes(q))) {
    return reply.Error(facade::errors::BadPeerFrame("SHOAL.LOCAL"));
  }
  if (bitmap.empty()) bitmap = OwnedPartitions(node_.self_id());
  const KeyFilter filter = PartitionFilter(std::move(bitmap));
  std::string out;
  // A share is parsed and combined by the coordinating node, which writes
  // the client's reply in the client's protocol: shares are always RESP2.
  host_.Run(conn, cmd, argv, &filter, /*resp=*/2, &out);
  reply.Bulk(out);
}

void Dispatcher::Enqueue(const std::shared_ptr<ConnState>& cs, std::shared_ptr<Request> req) {
  req->ticket = cs->conn->DeferReply();
  cs->queue.Push(std::move(req));
  Pump(cs);
}

void Dispatcher::Pump(const std::shared_ptr<ConnState>& cs) {
  if (cs->conn == nullptr) return;
  Runner runner(*this, cs);
  cs->queue.Pump(runner);
}

void Dispatcher::Launch(const std::shared_ptr<ConnState>& cs, const std::shared_ptr<Request>& req) {
  if (req->hooks.on_launch) req->hooks.on_launch(*req);
  if (req->kind != Request::Kind::kKeyed) return;
  for (size_t i = 0; i < req->parts.size(); ++i) {
    Part& p = req->parts[i];
    if (p.forward) {
      ++stats_.forwarded_commands;
      const size_t required = p.cmd.write ? options_.write_quorum : options_.read_quorum;
      p.ready = true;
      coordinator_.Forward(p.forward_to, std::move(p.argv), required, req->resp,
                           [this, cs, req, i](bool ok, std::string bytes) {
                             Part& part = req->parts[i];
                             part.reply = ok ? std::move(bytes) : facade::ErrorReply(bytes);
                             part.done = true;
                             MaybeComplete(cs, req);
                           });
    } else if (p.needs_read) {
      p.read_since = keyspace_.change_count();
      p.reads_pending = 1 + p.more_keys.size();
      coordinator_.ReadIntoStore(
          p.key, p.replicas,
          [this, cs, req, i](storage::Result<std::optional<storage::Object>> result) {
            Part& part = req->parts[i];
            part.read.emplace(std::move(result));
            if (--part.reads_pending > 0) return;
            part.ready = true;
            Pump(cs);
          });
      // The other keys: read for their effect here. A read that found
      // something this copy lacked saved the merge locally
      // (Coordinator::Read), so once all are in the local copy of each is at
      // least the quorum's merge, and the command runs on the local store
      // for them (only the first key is pinned: pins do not nest). Writes
      // made here since then are newer still, which is the same rule as the
      // first key's "merge the local copy" below.
      for (const std::string& key : p.more_keys) {
        coordinator_.ReadIntoStore(
            key, p.replicas,
            [this, cs, req, i](storage::Result<std::optional<storage::Object>> result) {
              Part& part = req->parts[i];
              if (!result.ok() && part.read_error.empty()) {
                part.read_error = result.status().message();
              }
              if (--part.reads_pending > 0) return;
              part.ready = true;
              Pump(cs);
            });
      }
    } else {
      p.ready = true;
    }
  }
}

void Dispatcher::Execute(const std::shared_ptr<ConnState>& cs,
                         const std::shared_ptr<Request>& req) {
  req->executed = true;
  if (cs->conn == nullptr) return;
  switch (req->kind) {
    case Request::Kind::kClusterWide:
      ExecuteClusterWide(cs, req);
      return;
    case Request::Kind::kLocal: {
      Part p;
      if (!req->error.empty()) {
        p.reply = facade::ErrorReply(req->error);
      } else {
        host_.Run(*cs->conn, req->cmd, req->argv, /*filter=*/nullptr, req->resp, &p.reply);
      }
      p.done = true;
      req->parts.push_back(std::move(p));
      MaybeComplete(cs, req);
      return;
    }
    case Request::Kind::kKeyed:
      break;
  }
  for (size_t i = 0; i < req->parts.size(); ++i) {
    Part& p = req->parts[i];
    if (p.forward) continue;
    if (p.read && !p.read->ok()) {
      p.reply = facade::ErrorReply(p.read->status().message());
      p.done = true;
      continue;
    }
    if (!p.read_error.empty()) {
      p.reply = facade::ErrorReply(p.read_error);
      p.done = true;
      continue;
    }
    RunPart(*cs->conn, cs, req, i);
  }
  MaybeComplete(cs, req);
}

void Dispatcher::RunPart(facade::Connection& conn, const std::shared_ptr<ConnState>& cs,
                         const std::shared_ptr<Request>& req, size_t i) {
  Part& p = req->parts[i];
  // A command runs on the store: the quorum read saved its merge there when
  // this copy lacked something (Coordinator::ReadIntoStore), and whatever
  // was written since is newer still. The store's own lookups (one element
  // of a container without decoding it) and writes (a container's decoded
  // copy kept in the cache) are cheaper than a pinned object, which every
  // read of it copies. Only a read-only command ignores a merge that could
  // not be saved here (this copy failed to load: the command fails alike).
  const bool pinned =
      p.read.has_value() && p.cmd.write && p.read->ok() && p.read->value().has_value();
  // Commands of this connection that ran since the read began (a pipelined
  // SET or DEL of the same key) changed the local copy: the command must see
  // them too.
  if (pinned && keyspace_.change_count() != p.read_since) {
    auto local = keyspace_.Load(p.key, clock_.NowMs());
    if (!local.ok()) {
      p.reply = facade::ErrorReply(local.status().message());
      p.done = true;
      return;
    }
    p.read->value()->Merge(local.value());
  }
  // A node that is not a primary of the key holding it (a fallback cut off
  // from every primary, cluster/route.cc, or one a write was forwarded to)
  // writes as its stand-in actor: its copy of the key may lack writes it
  // made in an earlier stand-in, before the copy moved to the primaries, and
  // its own actor's new dot would cover those.
  std::optional<storage::Keyspace::WriterScope> writer;
  if (p.cmd.write && !HoldsAsPrimary(*p.replicas)) {
    auto stand_in = keyspace_.StandInWriter();
    if (!stand_in.ok()) {
      p.reply = facade::ErrorReply("ERR " + stand_in.status().message());
      p.done = true;
      return;
    }
    writer.emplace(keyspace_, stand_in.value());
  }
  std::map<std::string, Captured, std::less<>> changed;
  capture_ = &changed;
  {
    // The command runs on the read's merge, not on a second lookup.
    std::optional<storage::Keyspace::Pin> pin;
    if (pinned) pin.emplace(keyspace_, p.key, *p.read->value());
    host_.Run(conn, p.cmd, p.argv, /*filter=*/nullptr, req->resp, &p.reply);
  }
  capture_ = nullptr;
  writer.reset();
  if (!p.cmd.write || changed.empty()) {
    p.done = true;
    return;
  }
  // Usually one key; a command on several keys of one replica set (MSETNX)
  // replicates each, and is acknowledged once all met their quorum.
  auto remaining = std::make_shared<size_t>(changed.size());
  auto failed = std::make_shared<std::string>();
  for (auto& [key, captured] : changed) {
    ReplicaSet replicas = key == p.key ? p.replicas : Replicas(key);
    coordinator_.Replicate(
        key, std::move(captured.object), replicas,
        [this, cs, req, i, remaining, failed](const storage::Status& st) {
          if (!st.ok() && failed->empty()) {
            *failed = facade::ErrorReply(st.message());
          }
          if (--*remaining > 0) return;
          Part& part = req->parts[i];
          if (!failed->empty()) part.reply = *failed;
          part.done = true;
          MaybeComplete(cs, req);
        },
        std::move(captured.delta));
  }
}

bool Dispatcher::HoldsAsPrimary(const std::vector<Target>& replicas) const {
  return std::any_of(replicas.begin(), replicas.end(), [&](const Target& t) {
    return t.node == node_.self_id() && !t.fallback && t.reads();
  });
}

void Dispatcher::MaybeComplete(const std::shared_ptr<ConnState>& cs,
                               const std::shared_ptr<Request>& req) {
  if (req->completed || !req->executed || req->parts.empty()) return;
  for (const Part& p : req->parts) {
    if (!p.done) return;
  }
  req->completed = true;
  std::string out;
  facade::ReplyBuilder rb(&out, req->resp);
  switch (req->combine) {
    case Combine::kArray:
      rb.ArrayHeader(req->parts.size());
      for (const Part& p : req->parts) rb.Raw(p.reply);
      break;
    case Combine::kSum: {
      int64_t total = 0;
      for (const Part& p : req->parts) {
        // Each part's reply is ":<n>\r\n" or an error, which is the reply.
        int64_t n = 0;
        const char* end = p.reply.data() + p.reply.size();
        auto r = p.reply.size() > 3 && p.reply[0] == ':'
                     ? std::from_chars(p.reply.data() + 1, end, n)
                     : std::from_chars_result{end, std::errc::invalid_argument};
        if (r.ec != std::errc() || *r.ptr != '\r') {
          out = p.reply;
          break;
        }
        total += n;
      }
      if (out.empty()) rb.Integer(total);
      break;
    }
    case Combine::kOk:
      for (const Part& p : req->parts) {
        if (!p.reply.empty() && p.reply[0] == '-') {
          out = p.reply;
          break;
        }
      }
      if (out.empty()) rb.Ok();
      break;
    default:  // one part (a cluster-wide command's parts hold its combined reply)
      out = std::move(req->parts[0].reply);
      break;
  }
  if (req->hooks.on_reply) out = req->hooks.on_reply(std::move(out));
  if (req->wrap_bulk) {
    std::string wrapped;
    facade::ReplyBuilder(&wrapped).Bulk(out);
    out = std::move(wrapped);
  }
  if (cs->conn == nullptr) return;
  cs->conn->CompleteReply(req->ticket, std::move(out));
  cs->queue.Answered(*req);
  // A barrier may have lifted, or a cluster-wide command may now run.
  if (cs->queue.waiting() > 0) Pump(cs);
}

}  // namespace shoal::cluster
