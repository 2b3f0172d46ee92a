#include "server/cluster_dispatch.h"

#include <algorithm>
#include <charconv>
#include <map>

#include "cluster/quorum.h"
#include "server/args.h"
#include "server/cluster_request.h"
#include "server/errors.h"
#include "server/reply_builder.h"
#include "server/server.h"
#include "server/session.h"
#include "storage/store.h"

namespace shoal::server {
namespace {

// Writes that do not depend on the key's current value: they need no read
// before they run.
bool IsBlindWrite(const CommandSpec& cmd, const std::vector<std::string>& argv) {
  if (cmd.name == "setex" || cmd.name == "psetex" || cmd.name == "setv" || cmd.name == "delv") {
    return true;
  }
  if (cmd.name != "set") return false;
  for (size_t i = 3; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (EqualsIgnoreCase(a, "nx") || EqualsIgnoreCase(a, "xx") || EqualsIgnoreCase(a, "get") ||
        EqualsIgnoreCase(a, "keepttl")) {
      return false;
    }
  }
  return true;
}

// While a coordinated write runs: the keys it changed, node-id encoded for
// the replicas (the feed shares that encoding with the log).
class WriteCapture final : public storage::ChangeListener {
 public:
  explicit WriteCapture(storage::ChangeFeed& feed) : feed_(feed) { feed_.Subscribe(this); }
  ~WriteCapture() override { feed_.Unsubscribe(this); }
  WriteCapture(const WriteCapture&) = delete;
  WriteCapture& operator=(const WriteCapture&) = delete;

  void OnChange(const storage::Change& change) override {
    changed[std::string(change.key())] = change.NodeIdBytes();
  }
  void OnFlush() override {}

  std::map<std::string, std::string, std::less<>> changed;

 private:
  storage::ChangeFeed& feed_;
};

}  // namespace

std::string ErrorBytes(std::string_view msg) {
  std::string out;
  ReplyBuilder(&out).Error(msg);
  return out;
}

bool IsBroadcast(std::string_view name) {
  return name == "keys" || name == "scan" || name == "dbsize" || name == "randomkey" ||
         name == "flushall" || name == "flushdb";
}

bool ParseIntegerReply(std::string_view bytes, int64_t* out) {
  if (bytes.size() < 4 || bytes[0] != ':') return false;
  auto end = bytes.find('\r');
  if (end == std::string_view::npos) return false;
  auto r = std::from_chars(bytes.data() + 1, bytes.data() + end, *out);
  return r.ec == std::errc() && r.ptr == bytes.data() + end;
}

bool ParseArrayReply(std::string_view bytes, int64_t* n, std::string_view* body) {
  if (bytes.size() < 4 || bytes[0] != '*') return false;
  auto end = bytes.find("\r\n");
  if (end == std::string_view::npos) return false;
  auto r = std::from_chars(bytes.data() + 1, bytes.data() + end, *n);
  if (r.ec != std::errc() || r.ptr != bytes.data() + end) return false;
  *body = bytes.substr(end + 2);
  return true;
}

ClusterDispatch::ClusterDispatch(Server& server) : server_(server) {
  filter_ = [this](const storage::EntryView& e) { return OwnsKey(e); };
}

ClusterDispatch::~ClusterDispatch() {
  Stop();
}

void ClusterDispatch::Start() {
  const Config& cfg = server_.config();
  cluster::ClusterNodeOptions o;
  o.self.id = server_.node_id();
  o.self.host = cfg.bind == "0.0.0.0" || cfg.bind == "localhost" ? "127.0.0.1" : cfg.bind;
  o.self.port = cfg.port;
  o.self.cport = ClusterPort(cfg);
  o.self.incarnation = static_cast<uint64_t>(server_.clock().NowMs());
  o.secret = cfg.cluster_secret;
  o.bind_addr = cfg.bind == "0.0.0.0" || cfg.bind == "localhost" ? "" : cfg.bind;
  o.partitions = static_cast<uint32_t>(cfg.vnodes);
  o.exchange_interval_ms = cfg.gossip_interval_ms;
  o.request_timeout_ms = cfg.request_timeout_ms;
  Logger& logger = server_.logger();
  o.log = [&logger](cluster::LogSeverity sev, const std::string& msg) {
    LogLevel level = sev == cluster::LogSeverity::kWarning   ? LogLevel::kWarning
                     : sev == cluster::LogSeverity::kNotice  ? LogLevel::kNotice
                     : sev == cluster::LogSeverity::kVerbose ? LogLevel::kVerbose
                                                             : LogLevel::kDebug;
    SHOAL_LOG(logger, level, "%s", msg.c_str());
  };
  node_ = std::make_unique<cluster::ClusterNode>(server_.loop(), std::move(o));
  coordinator_ = std::make_unique<cluster::Coordinator>(server_.loop(), *node_, server_.keyspace(),
                                                        server_.clock());
  node_->set_on_ring_change([this] { ApplyConfig(); });
  ApplyConfig();
  std::vector<cluster::PeerAddress> seeds;
  for (const SeedAddress& s : cfg.cluster_seeds) {
    seeds.push_back({s.host, s.port, s.bus_port()});
  }
  node_->Start(seeds);
}

void ClusterDispatch::Stop() {
  // Frames still batched go out (and fail) while everything they call back
  // into is alive; then the links close, failing whatever is in flight.
  if (coordinator_) coordinator_->Flush();
  if (node_) node_->Stop();
  // Its handles close while the loop still runs.
  coordinator_.reset();
}

bool ClusterDispatch::active() const {
  return coordinator_ && node_ && node_->member_count() > 1;
}

void ClusterDispatch::ApplyConfig() {
  if (!coordinator_) return;
  const Config& cfg = server_.config();
  cluster::CoordinatorOptions co;
  co.read_quorum = static_cast<size_t>(cfg.read_quorum);
  co.write_quorum = static_cast<size_t>(cfg.write_quorum);
  co.request_timeout_ms = cfg.request_timeout_ms;
  co.read_repair = cfg.read_repair;
  coordinator_->set_options(co);
  // A replica must keep tombstones until every replica has them, or a
  // replica that missed the delete brings the value back.
  if (active() && !server_.keyspace().options().keep_tombstones) {
    storage::KeyspaceOptions ko = server_.keyspace().options();
    ko.keep_tombstones = true;
    server_.keyspace().set_options(ko);
  }
}

const std::function<bool(const storage::EntryView&)>* ClusterDispatch::key_filter() const {
  return active() ? &filter_ : nullptr;
}

bool ClusterDispatch::OwnsKey(const storage::EntryView& e) const {
  const cluster::Ring& ring = node_->ring();
  if (ring.empty() || ring.Owner(ring.PartitionOf(e.key)) != node_->self_id()) return false;
  // A kept tombstone is not a key.
  if (storage::Object::PeekSingleValue(e.value, server_.clock().NowMs())) return true;
  auto obj = storage::Object::Decode(e.value, server_.keyspace().actors());
  return obj.ok() && !obj.value().IsAbsent(server_.clock().NowMs());
}

// --- client commands -------------------------------------------------------

bool ClusterDispatch::Handle(Session& session, const CommandSpec* cmd,
                             std::vector<std::string>& argv) {
  const Session::ClusterQueue& queue = session.cluster_queue();
  const bool keyed = cmd->first_key > 0 && active();
  const bool broadcast = active() && IsBroadcast(cmd->name);
  if (!keyed && !broadcast && queue.waiting.empty() && !queue.barrier) {
    return false;  // inline, as a lone node
  }
  auto req = Build(session, cmd, argv, /*forced_local=*/false);
  Enqueue(session, req);
  return true;
}

std::shared_ptr<ClusterRequest> ClusterDispatch::Build(Session& session, const CommandSpec* cmd,
                                                       std::vector<std::string>& argv,
                                                       bool forced_local) {
  auto req = std::make_shared<ClusterRequest>();
  req->session_id = session.id();
  req->cmd = cmd;
  const bool keyed = cmd->first_key > 0 && (active() || forced_local);
  if (!keyed) {
    req->kind = active() && IsBroadcast(cmd->name) ? ClusterRequest::Kind::kBroadcast
                                                   : ClusterRequest::Kind::kInline;
    req->argv = std::move(argv);
    return req;
  }
  req->kind = ClusterRequest::Kind::kKeyed;
  const size_t n = static_cast<size_t>(server_.config().replicas);
  const CommandTable& table = server_.commands();
  auto add_part = [&](std::vector<std::string> part_argv, const CommandSpec* part_cmd) {
    ClusterPart p;
    p.key = part_argv[1];
    p.cmd = part_cmd;
    p.write = (part_cmd->flags & kCmdWrite) != 0;
    p.replicas = node_->Primaries(p.key, n);
    bool mine =
        std::find(p.replicas->begin(), p.replicas->end(), node_->self_id()) != p.replicas->end();
    p.forward = !mine && !forced_local;
    p.argv = std::move(part_argv);
    req->parts.push_back(std::move(p));
  };
  std::string_view name = cmd->name;
  if (name == "mget" || name == "del" || name == "unlink" || name == "exists" || name == "touch") {
    req->combine = name == "mget" ? ClusterRequest::Combine::kArray : ClusterRequest::Combine::kSum;
    const CommandSpec* part_cmd = name == "mget" ? table.Find("get") : cmd;
    std::string part_name = name == "mget" ? "get" : std::string(name);
    for (size_t i = 1; i < argv.size(); ++i) {
      add_part({part_name, std::move(argv[i])}, part_cmd);
    }
  } else if (name == "mset" && argv.size() % 2 == 1) {
    req->combine = ClusterRequest::Combine::kOk;
    const CommandSpec* set = table.Find("set");
    for (size_t i = 1; i + 1 < argv.size(); i += 2) {
      add_part({"set", std::move(argv[i]), std::move(argv[i + 1])}, set);
    }
  } else {
    // One part: a single-key command, MSETNX, or a malformed MSET (the
    // handler replies its error).
    if (name == "msetnx" && argv.size() > 3) {
      auto first = node_->Primaries(argv[1], n);
      for (size_t i = 3; i < argv.size(); i += 2) {
        if (*node_->Primaries(argv[i], n) != *first) {
          req->kind = ClusterRequest::Kind::kInline;
          req->error = std::string(errors::kCrossSlot);
          return req;
        }
      }
    }
    req->combine = ClusterRequest::Combine::kSingle;
    add_part(std::move(argv), cmd);
  }
  return req;
}

void ClusterDispatch::Enqueue(Session& session, const std::shared_ptr<ClusterRequest>& req) {
  req->ticket = session.replies().Defer();
  session.cluster_queue().waiting.push_back(req);
  Pump(req->session_id);
}

void ClusterDispatch::Launch(const std::shared_ptr<ClusterRequest>& req) {
  req->launched = true;
  if (req->kind == ClusterRequest::Kind::kKeyed) {
    for (size_t i = 0; i < req->parts.size(); ++i) {
      ClusterPart& p = req->parts[i];
      const size_t required = static_cast<size_t>(p.write ? server_.config().write_quorum
                                                          : server_.config().read_quorum);
      if (p.forward) {
        ++stats_.forwarded_commands;
        // Prefer a replica we have a live link to.
        cluster::NodeId to = p.replicas->empty() ? node_->self_id() : p.replicas->front();
        for (const auto& r : *p.replicas) {
          if (node_->IsConnected(r)) {
            to = r;
            break;
          }
        }
        p.ready = true;
        coordinator_->Forward(to, p.argv, required, [this, req, i](bool ok, std::string bytes) {
          ClusterPart& part = req->parts[i];
          part.reply = ok ? std::move(bytes) : ErrorBytes(bytes);
          part.done = true;
          MaybeComplete(req);
        });
      } else if (!p.write || !IsBlindWrite(*p.cmd, p.argv)) {
        coordinator_->Read(p.key, p.replicas, [this, req, i](const cluster::QuorumOutcome& out) {
          ClusterPart& part = req->parts[i];
          part.read = out;
          part.ready = true;
          Pump(req->session_id);
        });
      } else {
        p.read.ok = true;
        p.ready = true;
      }
    }
  }
}

void ClusterDispatch::Pump(uint64_t session_id) {
  Session* session = server_.FindSession(session_id);
  if (session == nullptr) return;
  Session::ClusterQueue& queue = session->cluster_queue();
  // Launching and running call back (sometimes at once) into Pump: the
  // outer call loops instead.
  if (queue.pumping) {
    queue.again = true;
    return;
  }
  queue.pumping = true;
  do {
    queue.again = false;
    PumpOnce(*session);
    session = server_.FindSession(session_id);
  } while (session != nullptr && session->cluster_queue().again);
  if (session != nullptr) session->cluster_queue().pumping = false;
}

void ClusterDispatch::PumpOnce(Session& session) {
  Session::ClusterQueue& queue = session.cluster_queue();
  // A cluster-wide command is a barrier, as on one server where every
  // command completes before the next starts: it runs once everything
  // before it is answered, and nothing behind it starts (not even its
  // fan-out) until it is answered. Other commands start their fan-outs at
  // once and run here in arrival order.
  while (!queue.waiting.empty() && !queue.barrier && !session.closing()) {
    std::shared_ptr<ClusterRequest> head = queue.waiting.front();
    const bool broadcast = head->kind == ClusterRequest::Kind::kBroadcast;
    if (broadcast && queue.unanswered > 0) return;
    if (!head->launched) {
      Launch(head);
      ++queue.launched;
    }
    bool ready = std::all_of(head->parts.begin(), head->parts.end(),
                             [](const ClusterPart& p) { return p.ready; });
    if (!ready) break;
    queue.waiting.pop_front();
    --queue.launched;
    ++queue.unanswered;
    if (broadcast) queue.barrier = true;
    Execute(session, head);
  }
  if (queue.barrier) return;
  // Launched ones form a prefix of the queue: start from its end, so a long
  // pipeline costs O(1) per command here.
  while (queue.launched < queue.waiting.size()) {
    std::shared_ptr<ClusterRequest> req = queue.waiting[queue.launched];
    if (req->kind == ClusterRequest::Kind::kBroadcast) break;
    Launch(req);
    ++queue.launched;
  }
}

void ClusterDispatch::Execute(Session& session, const std::shared_ptr<ClusterRequest>& req) {
  req->executed = true;
  if (req->kind == ClusterRequest::Kind::kBroadcast) {
    ExecuteBroadcast(session, req);
    return;
  }
  if (req->kind == ClusterRequest::Kind::kInline) {
    std::string out;
    if (!req->error.empty()) {
      out = ErrorBytes(req->error);
    } else {
      server_.RunCommand(session, *req->cmd, req->argv, &out);
    }
    req->parts.clear();
    ClusterPart p;
    p.reply = std::move(out);
    p.done = true;
    req->parts.push_back(std::move(p));
    MaybeComplete(req);
    return;
  }
  for (size_t i = 0; i < req->parts.size(); ++i) {
    ClusterPart& p = req->parts[i];
    if (p.forward) continue;
    if (!p.read.ok) {
      p.reply = ErrorBytes(cluster::NoQuorumMessage(p.read.got, p.read.required));
      p.done = true;
      continue;
    }
    std::map<std::string, std::string, std::less<>> changed;
    {
      WriteCapture capture(server_.keyspace().changes());
      server_.RunCommand(session, *p.cmd, p.argv, &p.reply);
      changed = std::move(capture.changed);
    }
    if (!p.write || changed.empty()) {
      p.done = true;
      continue;
    }
    // Usually one key; MSETNX may change several, each replicated on its
    // own and the command acknowledged once all met their quorum.
    auto remaining = std::make_shared<size_t>(changed.size());
    auto failed = std::make_shared<std::string>();
    for (auto& [key, bytes] : changed) {
      cluster::ClusterNode::ReplicaSet replicas =
          key == p.key ? p.replicas
                       : node_->Primaries(key, static_cast<size_t>(server_.config().replicas));
      coordinator_->Replicate(key, std::move(bytes), replicas,
                              [this, req, i, remaining, failed](const cluster::QuorumOutcome& out) {
                                if (!out.ok && failed->empty()) {
                                  *failed =
                                      ErrorBytes(cluster::NoQuorumMessage(out.got, out.required));
                                }
                                if (--*remaining > 0) return;
                                ClusterPart& part = req->parts[i];
                                if (!failed->empty()) part.reply = *failed;
                                part.done = true;
                                MaybeComplete(req);
                              });
    }
  }
  MaybeComplete(req);
}

void ClusterDispatch::MaybeComplete(const std::shared_ptr<ClusterRequest>& req) {
  if (req->completed || !req->executed) return;
  for (const ClusterPart& p : req->parts) {
    if (!p.done) return;
  }
  if (req->parts.empty()) return;  // a broadcast still gathering
  req->completed = true;
  std::string out;
  ReplyBuilder rb(&out);
  switch (req->combine) {
    case ClusterRequest::Combine::kSingle:
      out = std::move(req->parts[0].reply);
      break;
    case ClusterRequest::Combine::kArray:
      rb.ArrayHeader(req->parts.size());
      for (const ClusterPart& p : req->parts) rb.Raw(p.reply);
      break;
    case ClusterRequest::Combine::kSum: {
      int64_t total = 0;
      for (const ClusterPart& p : req->parts) {
        int64_t v = 0;
        if (!ParseIntegerReply(p.reply, &v)) {
          out = p.reply;
          break;
        }
        total += v;
      }
      if (out.empty()) rb.Integer(total);
      break;
    }
    case ClusterRequest::Combine::kOk:
      for (const ClusterPart& p : req->parts) {
        if (!p.reply.empty() && p.reply[0] == '-') {
          out = p.reply;
          break;
        }
      }
      if (out.empty()) rb.Ok();
      break;
  }
  if (req->wrap_bulk) {
    std::string wrapped;
    ReplyBuilder(&wrapped).Bulk(out);
    out = std::move(wrapped);
  }
  Session* session = server_.FindSession(req->session_id);
  if (session == nullptr) return;
  session->replies().Complete(req->ticket, std::move(out));
  server_.ScheduleFlush(*session);
  Session::ClusterQueue& queue = session->cluster_queue();
  --queue.unanswered;
  if (req->kind == ClusterRequest::Kind::kBroadcast) queue.barrier = false;
  // A barrier may have lifted, or a cluster-wide command may now run.
  if (!queue.waiting.empty()) Pump(req->session_id);
}

}  // namespace shoal::server
