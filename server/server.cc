#include "server/server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "cluster/membership_file.h"
#include "facade/errors.h"
#include "facade/net_address.h"
#include "server/open_files.h"
#include "storage/node_id.h"

namespace shoal::server {
namespace {

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string out;
  while (out.size() < n) {
    uint64_t v = rng();
    out.append(reinterpret_cast<const char*>(&v), sizeof(v));
  }
  out.resize(n);
  return out;
}

std::string Hex(const std::string& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

}  // namespace

Server::Server(Config config, ProcessInfo process)
    : config_(std::move(config)), process_(std::move(process)) {
  std::random_device rd;
  std::seed_seq seq{rd(), rd(), rd(), rd()};
  rng_.seed(seq);
  run_id_ = Hex(RandomBytes(rng_, 20));
  RegisterConnectionCommands(commands_);
  RegisterServerCommands(commands_);
  RegisterStringCommands(commands_);
  RegisterKeyCommands(commands_);
  RegisterVersionedCommands(commands_);
  RegisterClusterCommands(commands_);
  RegisterBitCommands(commands_);
  RegisterHashCommands(commands_);
  RegisterSetCommands(commands_);
  RegisterLcsCommand(commands_);
  RegisterZsetCommands(commands_);
  RegisterObjectCommands(commands_);
  RegisterUnsupportedCommands(commands_);
  RegisterTransactionCommands(commands_);
  client_env_.clock = &clock_;
  client_env_.output = &output_;
  client_env_.io = &io_;
  client_env_.errors = &errors_;
  output_.set_gate(&persistence_);
  ApplyLimits();
}

Server::~Server() {
  if (loop_ready_) {
    if (cluster_) cluster_->Stop();
    listener_.Close();
    tls_listener_.Close();
    for (auto& [id, c] : clients_) c->Close();
    CloseHandles();
    // Close whatever is still open, let the callbacks run, then close.
    uv_walk(
        &loop_,
        [](uv_handle_t* h, void*) {
          if (!uv_is_closing(h)) uv_close(h, nullptr);
        },
        nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    // Every handle is closed and its callback ran: the cluster can go.
    cluster_.reset();
    if (uv_loop_close(&loop_) != 0) {
      logger_.Log(LogLevel::kWarning, "the event loop still had open handles at exit");
    }
  }
}

storage::Status Server::Start() {
  logger_.set_level(config_.loglevel);
  if (!logger_.Open(config_.logfile)) {
    return storage::Status::IOError("can't open the log file '" + config_.logfile +
                                    "': " + std::strerror(errno));
  }
  std::error_code ec;
  std::filesystem::create_directories(config_.dir, ec);
  if (ec) {
    return storage::Status::IOError("can't create dir '" + config_.dir + "': " + ec.message());
  }
  // A node that has run before has its id; a new one has nothing to lose.
  const bool has_run = std::filesystem::exists(config_.dir + "/" + storage::kNodeIdFile);
  auto id = storage::LoadOrCreateNodeId(config_.dir, RandomBytes(rng_, 20));
  if (!id.ok()) return id.status();
  node_id_ = id.value();

  {
    auto self = actors_.Intern(node_id_);
    if (!self.ok()) return self.status();
    storage::Status st = dots_.Open(&env_, config_.dir);
    if (!st.ok()) return st;
    keyspace_ = std::make_unique<storage::Keyspace>(store_, actors_, self.value(), dots_);
    // A node that was a cluster member replays its log as one: tombstones
    // and expired remains are kept (a lone node forgets them), or the replay
    // would drop them and a replica still holding the older value would
    // bring it back.
    auto saved = cluster::LoadMembership(&env_, config_.dir);
    if (saved.ok() && saved.value().has_value() && saved.value()->members().size() > 1) {
      keep_tombstones_ = true;
    }
    ApplyRuntimeConfig();
    st = persistence_.Load(*keyspace_, actors_, clock_.NowMs());
    if (!st.ok()) return st;
    st = ChooseWriter(has_run);
    if (!st.ok()) return st;
    keyspace_->changes().Subscribe(&persistence_);
    keyspace_->changes().Subscribe(&transactions_);  // WATCH
    store_.SetBigValueReleaser([this](std::string&& value) { lazy_free_.Free(std::move(value)); });
    persistence_.SetPin([this](std::string_view bytes) { return lazy_free_.Pin(bytes); });
    store_.SetEvictionObserver([this](std::string_view key) {
      persistence_.OnDrop(key);
      if (cluster_) cluster_->OnEvicted(key);
    });
    SampleMemory();
    keyspace_->set_sibling_warning([this](std::string_view key, size_t n) {
      // At most one line a second: a hot key past the limit must not flood the log.
      int64_t now = clock_.NowMs();
      if (now - last_sibling_warning_ms_ < 1000) return;
      last_sibling_warning_ms_ = now;
      logger_.Log(LogLevel::kWarning,
                  "key '%.*s' has %zu siblings (siblings-warn %d): clients should resolve them "
                  "with GETV/SETV",
                  static_cast<int>(std::min<size_t>(key.size(), 128)), key.data(), n,
                  config_.siblings_warn);
    });
  }
  if (uv_loop_init(&loop_) != 0) return storage::Status::IOError("uv_loop_init failed");
  loop_ready_ = true;
  loop_.data = this;
  stats_.start_ms = clock_.NowMs();
  stats_.ops_sample_ms = stats_.start_ms;
  stats_.last_save_time = stats_.start_ms / 1000;

  // As Redis: maxclients needs that many descriptors and a reserve.
  OpenFilesPlan files = AdjustOpenFilesLimit(config_.maxclients);
  for (const std::string& w : files.warnings) logger_.Log(LogLevel::kWarning, "%s", w.c_str());
  if (!files.notice.empty()) logger_.Log(LogLevel::kNotice, "%s", files.notice.c_str());
  if (files.fatal) return storage::Status::IOError("not enough file descriptors");
  config_.maxclients = files.maxclients;
  if (storage::Status renames = ApplyRenames(); !renames.ok()) return renames;

  storage::Status st = LoadTls(config_);
  if (!st.ok()) return st;
  st = Listen(config_);
  if (!st.ok()) return st;

  st = StartHandles();
  if (!st.ok()) return st;

  logger_.Log(LogLevel::kNotice, "shoal %s, pid=%d, node id %s", SHOAL_VERSION,
              static_cast<int>(getpid()), node_id_.c_str());
  for (const std::string& w : StartupWarnings(config_)) {
    logger_.Log(LogLevel::kWarning, "WARNING: %s", w.c_str());
  }
  // All of 127.0.0.0/8 and ::1 are loopback: only this machine can connect.
  // Both client listeners bind the same addresses.
  const facade::Listener& clients = listener_.listening() ? listener_ : tls_listener_;
  for (const std::string& host : clients.hosts()) {
    if (config_.requirepass.empty() && !facade::IsLoopbackAddress(host)) {
      logger_.Log(LogLevel::kWarning,
                  "WARNING: no requirepass set and listening on %s: any client can connect",
                  host.c_str());
    }
  }
  if (config_.cluster_secret.empty()) {
    logger_.Log(LogLevel::kWarning,
                "WARNING: no cluster-secret set: any process that can reach the cluster port "
                "%s:%d can join the cluster and read or write every key",
                ListenAddress(config_).c_str(), ClusterPort(config_));
  }
  if (!config_.pidfile.empty()) WritePidfile();
  st = StartCluster();
  if (!st.ok()) return st;
  auto hosts_of = [](const facade::Listener& l) {
    std::string hosts;
    for (const std::string& h : l.hosts()) hosts += (hosts.empty() ? "" : " ") + h;
    return hosts;
  };
  if (listener_.listening()) {
    logger_.Log(LogLevel::kNotice,
                "Ready to accept connections tcp on %s port %d (cluster port %s:%d%s)",
                hosts_of(listener_).c_str(), config_.port, ListenAddress(config_).c_str(),
                ClusterPort(config_), config_.tls_cluster ? ", tls" : "");
  }
  if (tls_listener_.listening()) {
    logger_.Log(LogLevel::kNotice,
                "Ready to accept connections tls on %s port %d (cluster port %s:%d%s)",
                hosts_of(tls_listener_).c_str(), config_.tls_port, ListenAddress(config_).c_str(),
                ClusterPort(config_), config_.tls_cluster ? ", tls" : "");
  }
  return storage::Status::Ok();
}

int Server::Run() {
  uv_run(&loop_, UV_RUN_DEFAULT);
  if (!config_.pidfile.empty()) ::unlink(config_.pidfile.c_str());
  logger_.Log(LogLevel::kWarning, "shoal is now ready to exit, bye bye...");
  return 0;
}

void Server::WritePidfile() {
  // As Redis: a pidfile that cannot be written is worth a warning, no more.
  FILE* f = std::fopen(config_.pidfile.c_str(), "w");
  if (f == nullptr) {
    logger_.Log(LogLevel::kWarning, "Failed to write PID file: %s", std::strerror(errno));
    return;
  }
  std::fprintf(f, "%d\n", static_cast<int>(getpid()));
  std::fclose(f);
}

storage::Status Server::Listen(const Config& cfg) {
  std::vector<facade::Endpoint> endpoints;
  for (const BindAddress& b : BindAddresses(cfg)) endpoints.push_back({b.host, b.optional});
  // As Redis: port 0 listens on no plain TCP port, tls-port 0 on no TLS one.
  auto listen = [&](facade::Listener& l, int port, bool tls) {
    if (port == 0) {
      l.Close();
      return storage::Status::Ok();
    }
    const char* kind = tls ? "tls" : "tcp";
    storage::Status st = l.Listen(
        &loop_, endpoints, port, cfg.tcp_backlog, [this, tls](int status) { Accept(status, tls); },
        kind);
    if (st.ok() && !l.listening()) {
      // Every address was optional and none exists.
      st = storage::Status::IOError("Failed listening on port " + std::to_string(port) + " (" +
                                    kind + "): no bind address could be bound");
    }
    return st;
  };
  storage::Status st = listen(listener_, cfg.port, false);
  if (st.ok()) st = listen(tls_listener_, cfg.tls_port, true);
  if (!st.ok()) {
    listener_.Close();
    tls_listener_.Close();
    return st;
  }
  endpoints_ = std::move(endpoints);
  return st;
}

// CONFIG SET maxclients, as Redis's updateMaxclients: more clients need
// more descriptors, so the open-file limit is raised first; if it cannot go
// high enough the value is refused with the number that would fit. Lowering
// needs nothing.
std::string Server::ApplyMaxclients(int64_t maxclients) {
  OpenFilesPlan files = AdjustOpenFilesLimit(maxclients);
  if (!files.notice.empty()) logger_.Log(LogLevel::kNotice, "%s", files.notice.c_str());
  if (!files.fatal && files.maxclients >= maxclients) return {};
  return "The operating system is not able to handle the specified number of clients, try with " +
         std::to_string(files.fatal ? 0 : files.maxclients);
}

std::string Server::ApplyDirective(std::string_view name, const Config& cfg) {
  if (name.starts_with("tls-")) return ApplyTlsDirective(name, cfg);
  if (name == "maxclients") return ApplyMaxclients(cfg.maxclients);
  if (name != "bind") return {};
  std::vector<facade::Endpoint> wanted;
  for (const BindAddress& b : BindAddresses(cfg)) wanted.push_back({b.host, b.optional});
  auto same = [](const std::vector<facade::Endpoint>& a, const std::vector<facade::Endpoint>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
      return x.host == y.host && x.optional == y.optional;
    });
  };
  if (same(wanted, endpoints_)) return {};
  // As Redis's changeBindAddr: close the old sockets (the fds close at once,
  // so an address kept in the new list can be bound again), listen on the
  // new ones, and on failure listen on the old ones again.
  Config old = config_;
  old.bind.clear();
  for (const facade::Endpoint& e : endpoints_) old.bind.push_back((e.optional ? "-" : "") + e.host);
  storage::Status st = Listen(cfg);
  if (st.ok()) {
    logger_.Log(LogLevel::kNotice, "Listening for clients on bind %s",
                ConfigGet(cfg, "bind")[0].second.c_str());
    return {};
  }
  logger_.Log(LogLevel::kWarning, "Failed to bind (%s), trying to restore old listening sockets.",
              st.message().c_str());
  storage::Status back = Listen(old);
  if (!back.ok()) {
    logger_.Log(LogLevel::kWarning, "Failed to restore old listening sockets: %s",
                back.message().c_str());
  }
  return "Failed to bind to specified addresses.";
}

void Server::RequestShutdown(const char* why) {
  if (shutting_down_) return;
  shutting_down_ = true;
  logger_.Log(LogLevel::kWarning, "%s, shutting down...", why);
  // The log first: replies still queued must not leave before their writes
  // are on disk.
  storage::Status st = persistence_.Close();
  if (!st.ok()) Fatal(st);
  MarkCleanShutdown();

  // Close every handle; uv_run returns once their close callbacks ran.
  listener_.Close();
  tls_listener_.Close();
  if (cluster_) cluster_->Stop();
  for (auto& [id, c] : clients_) {
    c->Flush();  // a best effort to deliver replies already produced
    c->Close();
  }
  CloseHandles();
}

storage::Status Server::StartHandles() {
  const uint64_t period = static_cast<uint64_t>(1000 / std::max(1, config_.hz));
  int rc = flush_check_.Init(&loop_, this);
  if (rc == 0) rc = uv_check_start(flush_check_.get(), &Server::OnCheck);
  if (rc == 0) rc = rewrite_timer_.Init(&loop_, this);
  if (rc == 0) rc = cron_timer_.Init(&loop_, this);
  if (rc == 0) rc = uv_timer_start(cron_timer_.get(), &Server::OnCron, period, period);
  if (rc == 0) rc = sigterm_.Init(&loop_, this);
  if (rc == 0) rc = uv_signal_start(sigterm_.get(), &Server::OnSignal, SIGTERM);
  if (rc == 0) rc = sigint_.Init(&loop_, this);
  if (rc == 0) rc = uv_signal_start(sigint_.get(), &Server::OnSignal, SIGINT);
  if (rc == 0) rc = resume_idle_.Init(&loop_, this);
  if (rc == 0) rc = pause_timer_.Init(&loop_, this);
  // Nothing to do in the callback: waking the loop runs the check handle.
  if (rc == 0) rc = log_wakeup_.Init(&loop_, this, [](uv_async_t*) noexcept {});
  if (rc != 0) return storage::Status::IOError(std::string("libuv: ") + uv_strerror(rc));
  persistence_.SetWakeup([h = log_wakeup_.get()] { (void)uv_async_send(h); });
  return storage::Status::Ok();
}

void Server::CloseHandles() {
  persistence_.SetWakeup({});
  log_wakeup_.reset();
  flush_check_.reset();
  cron_timer_.reset();
  rewrite_timer_.reset();
  sigterm_.reset();
  sigint_.reset();
  resume_idle_.reset();
  pause_timer_.reset();
}

void Server::DriveRewrite() {
  // A timer that cannot start would leave the rewrite stalled: fatal, as a
  // failed log write is.
  const int rc = uv_timer_start(rewrite_timer_.get(), &Server::OnRewriteTimer, 0, 1);
  if (rc != 0) Fatal(storage::Status::IOError(std::string("rewrite timer: ") + uv_strerror(rc)));
}

void Server::OnSignal(uv_signal_t* handle, int signum) noexcept {
  auto* self = static_cast<Server*>(handle->data);
  self->RequestShutdown(signum == SIGINT ? "Received SIGINT scheduling shutdown"
                                         : "Received SIGTERM scheduling shutdown");
}

void Server::Accept(int status, bool tls) {
  if (status != 0) {
    logger_.Log(LogLevel::kWarning, "Accepting client connection: %s", uv_strerror(status));
    return;
  }
  const uint64_t id = next_client_id_++;
  auto conn = std::make_unique<facade::Connection>(id, *this, client_env_);
  facade::Connection* raw = conn.get();
  int rc = uv_tcp_init(&loop_, raw->handle());
  if (rc != 0) {
    logger_.Log(LogLevel::kWarning, "Accepting client connection: %s", uv_strerror(rc));
    return;
  }
  clients_.emplace(id, std::move(conn));
  rc = (tls ? tls_listener_ : listener_).Accept(raw->handle());
  if (rc != 0) {
    raw->Close();
    return;
  }
  // Best effort, as Redis: a socket option that fails costs latency only.
  (void)uv_tcp_nodelay(raw->handle(), 1);
  if (config_.tcp_keepalive > 0) {
    (void)uv_tcp_keepalive(raw->handle(), 1, static_cast<unsigned>(config_.tcp_keepalive));
  }
  ++stats_.total_connections_received;
  if (static_cast<int64_t>(connected_clients()) > config_.maxclients) {
    // As Redis: tell the client why, then close. A TLS client cannot be
    // told before its handshake; Redis's write fails there too and it is
    // closed at once.
    ++stats_.rejected_connections;
    if (tls) {
      raw->Close();
      return;
    }
    std::string* target = raw->ReplyTarget();
    facade::ReplyBuilder(target).Error(facade::errors::kMaxClients);
    errors_.Count(*target);
    raw->CloseAfterReply();
    return;
  }
  if (!tls) {
    raw->Start();
  } else if (storage::Status st = StartTlsClient(*raw); !st.ok()) {
    OnTlsError(*raw, st);
    raw->Close();
    return;
  }
  if (config_.protected_mode && config_.requirepass.empty() && !raw->closing()) {
    // As Redis 7.0's clientAcceptHandler: without a password only loopback
    // clients are served.
    const std::string& addr = raw->peer_addr();
    const size_t colon = addr.rfind(':');
    if (!facade::IsLoopbackAddress(addr.substr(0, colon == std::string::npos ? 0 : colon))) {
      std::string* target = raw->ReplyTarget();
      facade::ReplyBuilder(target).Error(facade::errors::kProtectedMode);
      errors_.Count(*target);
      raw->CloseAfterReply();
    }
  }
}

void Server::OnClosed(facade::Connection& conn) {
  if (cluster_) cluster_->OnConnectionClosed(conn);
  transactions_.Forget(conn.id());
  clients_.erase(conn.id());
}

void Server::OnProtocolError(facade::Connection& conn, std::string_view error) {
  SHOAL_LOG(logger_, LogLevel::kVerbose, "Protocol error (%.*s) from client: id=%llu addr=%s",
            static_cast<int>(error.size()), error.data(),
            static_cast<unsigned long long>(conn.id()), conn.peer_addr().c_str());
}

void Server::OnQueryBufferOverflow(facade::Connection& conn) {
  ++stats_.client_query_buffer_limit_disconnections;
  SHOAL_LOG(logger_, LogLevel::kWarning,
            "Closing client that reached max query buffer length: id=%llu addr=%s "
            "(qbuf initial bytes: %zu)",
            static_cast<unsigned long long>(conn.id()), conn.peer_addr().c_str(),
            conn.query_buffer_bytes());
}

void Server::OnOutputBufferLimit(facade::Connection& conn, size_t omem) {
  ++stats_.client_output_buffer_limit_disconnections;
  // Redis's words; the client named by the leading fields of its CLIENT
  // LIST line.
  SHOAL_LOG(logger_, LogLevel::kWarning,
            "Client id=%llu addr=%s laddr=%s name=%s omem=%zu scheduled to be closed ASAP for "
            "overcoming of output buffer limits.",
            static_cast<unsigned long long>(conn.id()), conn.peer_addr().c_str(),
            conn.local_addr().c_str(), conn.state().name.c_str(), omem);
}

void Server::ForEachClient(const std::function<void(facade::Connection&)>& fn) {
  for (auto& [id, c] : clients_) fn(*c);
}

void Server::OnCheck(uv_check_t* handle) noexcept {
  static_cast<Server*>(handle->data)->FlushPending();
}

void Server::FlushPending() {
  // Connections resumed in this iteration's idle phase are done; stop the
  // idle handle unless more wait.
  // Stopping an initialised idle handle cannot fail.
  if (to_resume_.empty() && resume_idle_.get() != nullptr) {
    (void)uv_idle_stop(resume_idle_.get());
  }
  // Group commit: everything this iteration logged is written (and, under
  // appendfsync always, fsynced) before any of its replies leaves.
  const bool logging = persistence_.Info().buffer_length > 0;
  const int64_t start_us = logging ? clock_.NowUs() : 0;
  storage::Status st = persistence_.Commit();
  if (!st.ok()) Fatal(st);
  if (logging) LatencySample("aof-write", static_cast<uint64_t>(clock_.NowUs() - start_us) / 1000);
  if (cluster_) {
    st = cluster_->CommitHints();
    if (!st.ok()) Fatal(st);
  }
  output_.FlushAll();
}

namespace {

storage::EvictionPolicy ToEvictionPolicy(MaxmemoryPolicy p) {
  switch (p) {
    case MaxmemoryPolicy::kNoEviction:
      return storage::EvictionPolicy::kNoEviction;
    case MaxmemoryPolicy::kAllkeysLru:
      return storage::EvictionPolicy::kAllKeysLru;
    case MaxmemoryPolicy::kAllkeysLfu:
      return storage::EvictionPolicy::kAllKeysLfu;
    case MaxmemoryPolicy::kAllkeysRandom:
      return storage::EvictionPolicy::kAllKeysRandom;
    case MaxmemoryPolicy::kVolatileLru:
      return storage::EvictionPolicy::kVolatileLru;
    case MaxmemoryPolicy::kVolatileLfu:
      return storage::EvictionPolicy::kVolatileLfu;
    case MaxmemoryPolicy::kVolatileRandom:
      return storage::EvictionPolicy::kVolatileRandom;
    case MaxmemoryPolicy::kVolatileTtl:
      return storage::EvictionPolicy::kVolatileTtl;
  }
  return storage::EvictionPolicy::kNoEviction;
}

}  // namespace

void Server::ApplyRuntimeConfig() {
  logger_.set_level(config_.loglevel);
  // CONFIG SET slowlog-max-len may have lowered it.
  slowlog_.Trim(static_cast<size_t>(config_.slowlog_max_len));
  storage::EvictionConfig ec;
  ec.policy = ToEvictionPolicy(config_.maxmemory_policy);
  ec.samples = static_cast<size_t>(config_.maxmemory_samples);
  ec.lfu_log_factor = static_cast<uint32_t>(config_.lfu_log_factor);
  ec.lfu_decay_time = static_cast<uint32_t>(config_.lfu_decay_time);
  // Setting it clears the eviction pool, so only when something changed.
  const storage::EvictionConfig& old = eviction_config_;
  if (ec.policy != old.policy || ec.samples != old.samples ||
      ec.lfu_log_factor != old.lfu_log_factor || ec.lfu_decay_time != old.lfu_decay_time) {
    store_.SetEvictionConfig(ec);
    eviction_config_ = ec;
  }
  storage::KeyspaceOptions ko;
  ko.lww = config_.conflict_resolution == ConflictResolution::kLww;
  ko.siblings_warn = static_cast<size_t>(config_.siblings_warn);
  ko.max_siblings = static_cast<size_t>(config_.max_siblings);
  // Once on (a cluster member), kept: Cluster turns it on, nothing turns it off.
  ko.keep_tombstones = keep_tombstones_ || (keyspace_ && keyspace_->options().keep_tombstones);
  if (keyspace_) keyspace_->set_options(ko);
  ApplyLimits();
  if (cluster_) {
    cluster::ClusterTuning t;
    t.replicas = static_cast<size_t>(config_.replicas);
    t.read_quorum = static_cast<size_t>(config_.read_quorum);
    t.write_quorum = static_cast<size_t>(config_.write_quorum);
    t.request_timeout_ms = config_.request_timeout_ms;
    t.read_repair = config_.read_repair;
    t.tombstone_grace_ms = config_.tombstone_grace_ms;
    // Fallbacks keep what they stand in for as hints: without hinted
    // handoff there is nowhere to keep it, so only primaries count.
    t.sloppy_quorum = config_.sloppy_quorum && config_.hinted_handoff;
    t.anti_entropy_interval_ms = config_.anti_entropy_interval_ms;
    cluster_->Tune(t);
  }
}

void Server::ApplyLimits() {
  facade::ConnectionLimits limits;
  limits.auth_required = !config_.requirepass.empty();
  limits.max_bulk_len = static_cast<int64_t>(config_.proto_max_bulk_len);
  limits.query_buffer_limit = config_.client_query_buffer_limit;
  // Every client is of class normal (MONITOR ones too, as Redis).
  const OutputBufferLimit& normal = config_.client_output_buffer_limit[kObufNormal];
  limits.output.hard = static_cast<size_t>(normal.hard);
  limits.output.soft = static_cast<size_t>(normal.soft);
  limits.output.soft_ms = normal.soft_seconds * 1000;
  client_env_.limits = limits;
  // Peer connections are not clients: no client output limits (the peer
  // channel keeps its own).
  limits.output = {};
  limits.unauth_output_limit = SIZE_MAX;
  if (cluster_) cluster_->set_peer_limits(limits);
}

void Server::Fatal(const storage::Status& st) {
  logger_.Log(LogLevel::kWarning, "FATAL: %s. Exiting: an acknowledged write could be lost.",
              st.message().c_str());
  std::_Exit(1);
}

}  // namespace shoal::server
