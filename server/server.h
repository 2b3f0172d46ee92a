#pragma once
// Server: the one context of a shoal process (the composition root). Owns
// the libuv loop, the configuration, the logger, the keyspace and its log,
// the command table, the client connections, the cluster and the
// statistics, and passes references down. No globals.
//
// It serves the client port (facade::ConnectionHandler: each request is
// looked up, checked and run, or handed to the cluster) and runs commands
// for the cluster (cluster::CommandHost).
//
// All methods run on the loop thread.

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster/cluster.h"
#include "cluster/command_host.h"
#include "cluster/peer/log_rate_limiter.h"
#include "facade/connection.h"
#include "facade/error_stats.h"
#include "facade/listener.h"
#include "facade/tls_context.h"
#include "facade/uv_handle.h"
#include "server/command_stats.h"
#include "server/commands/command.h"
#include "server/commands/transaction.h"
#include "server/config.h"
#include "server/latency.h"
#include "server/lazy_free.h"
#include "server/log.h"
#include "server/persistence.h"
#include "server/slowlog.h"
#include "storage/actor_table.h"
#include "storage/clock.h"
#include "storage/dot_counter.h"
#include "storage/eviction.h"
#include "storage/file.h"
#include "storage/keyspace.h"
#include "storage/status.h"
#include "storage/store.h"

namespace shoal::server {

struct ServerStats {
  int64_t start_ms = 0;
  uint64_t total_connections_received = 0;
  uint64_t total_commands_processed = 0;
  uint64_t rejected_connections = 0;
  // Clients closed for passing client-query-buffer-limit or the output
  // buffer limits (Redis 7.2's INFO stats fields of these names).
  uint64_t client_query_buffer_limit_disconnections = 0;
  uint64_t client_output_buffer_limit_disconnections = 0;
  // instantaneous_ops_per_sec: commands counted at the last cron sample.
  uint64_t ops_sample_commands = 0;
  int64_t ops_sample_ms = 0;
  uint64_t instantaneous_ops_per_sec = 0;
  // instantaneous_input_kbps / _output_kbps: network bytes at the last
  // sample, and the rates over the sample period (KB/s, as Redis: /1024).
  uint64_t net_sample_input = 0;
  uint64_t net_sample_output = 0;
  double instantaneous_input_kbps = 0;
  double instantaneous_output_kbps = 0;
  // used_memory_peak: the most UsedMemory() seen by a sample or INFO.
  size_t used_memory_peak = 0;
  // rdb_last_save_time's stand-in: start, then each finished log rewrite.
  int64_t last_save_time = 0;
  uint64_t changes_at_last_save = 0;  // keyspace changes then
};

// Where the process came from, for INFO server.
struct ProcessInfo {
  std::string executable;
  std::string config_file;
};

class Server final : public facade::ConnectionHandler, public cluster::CommandHost {
 public:
  Server(Config config, ProcessInfo process);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens the log file, loads or creates the node id, binds the listener,
  // installs signal handlers and timers. On error nothing is left running.
  storage::Status Start();

  // Runs the loop until shutdown. Returns the process exit code.
  int Run();

  // Begins a clean shutdown: listeners and clients are closed, the loop
  // finishes its current iteration and Run() returns.
  void RequestShutdown(const char* why);

  // Client connections, for CLIENT LIST / CLIENT KILL / INFO clients. Peer
  // connections on the cluster port are not clients.
  void ForEachClient(const std::function<void(facade::Connection&)>& fn);
  size_t connected_clients() const { return clients_.size(); }
  // The client connection with this id, or nullptr.
  facade::Connection* FindClient(uint64_t id);

  // CLIENT PAUSE: until `end_ms` (wall time), client commands (every one,
  // or the writes only) wait unprocessed, their connection's input held, as
  // Redis blocks paused clients. A later call replaces the mode and the end.
  // Commands arriving from other nodes are not paused.
  void PauseClients(int64_t end_ms, bool all);
  // CLIENT UNPAUSE, or the pause's end: held commands run.
  void UnpauseClients();
  // MONITOR: the connection gets a line for every command this node
  // processes from now on (ClientState::monitor set by the caller).
  void AddMonitor(uint64_t client_id) { monitors_.push_back(client_id); }

  Config& config() { return config_; }
  Logger& logger() { return logger_; }
  storage::Store& store() { return store_; }
  const LazyFree& lazy_free() const { return lazy_free_; }
  LazyFree& lazy_free() { return lazy_free_; }
  storage::Keyspace& keyspace() { return *keyspace_; }
  // MULTI/EXEC/WATCH state of every client (cmd_transactions.cc).
  Transactions& transactions() { return transactions_; }
  Persistence& persistence() { return persistence_; }
  // The cluster; nullptr until Start().
  cluster::Cluster* cluster() { return cluster_.get(); }
  const facade::IoStats& io() const { return io_; }
  facade::ErrorStats& errors() { return errors_; }
  // Re-reads the directives that other objects cache (after CONFIG SET).
  void ApplyRuntimeConfig();
  // ConfigApplier for CONFIG SET: makes directive `name` of `cfg` act where
  // a Config field is not enough (`bind` rebinds the client listener and
  // keeps the old sockets if the new ones fail). "" or Redis's error.
  std::string ApplyDirective(std::string_view name, const Config& cfg);
  std::string ApplyMaxclients(int64_t maxclients);
  // Starts a background rewrite of the append-only log (BGREWRITEAOF).
  storage::Status StartRewrite();
  const CommandTable& commands() const { return commands_; }
  const storage::Clock& clock() const { return clock_; }
  ServerStats& stats() { return stats_; }
  CommandStats& command_stats() { return command_stats_; }
  SlowLog& slowlog() { return slowlog_; }
  LatencyMonitor& latency() { return latency_; }
  // Adds a LATENCY sample for `event` if latency-monitor-threshold is set
  // and `ms` reaches it.
  void LatencySample(std::string_view event, uint64_t ms);
  const ProcessInfo& process() const { return process_; }
  const std::string& node_id() const { return node_id_; }
  const std::string& run_id() const { return run_id_; }
  uv_loop_t* loop() { return &loop_; }
  uint64_t NextRandom() { return rng_(); }
  // Current memory in use (jemalloc's allocated bytes when linked).
  size_t UsedMemory() const;
  // A cheap estimate of UsedMemory() for per-command maxmemory checks.
  size_t MemoryEstimate() const;
  // What maxmemory is compared with: MemoryEstimate() less the log's buffers.
  size_t MaxmemoryFigure() const;

 private:
  // facade::ConnectionHandler: the client port.
  void OnRequest(facade::Connection& conn, std::vector<std::string>& argv) override;
  void OnProtocolError(facade::Connection& conn, std::string_view error) override;
  void OnQueryBufferOverflow(facade::Connection& conn) override;
  void OnOutputBufferLimit(facade::Connection& conn, size_t omem) override;
  void OnTlsError(facade::Connection& conn, const storage::Status& error) override;
  void OnClosed(facade::Connection& conn) override;
  void OnHoldReleased(facade::Connection& conn) override;
  // cluster::CommandHost.
  cluster::CommandRef Find(std::string_view name) const override;
  cluster::CommandRef FindCall(std::span<const std::string> argv) const override;
  void Run(facade::Connection& conn, const cluster::CommandRef& cmd, std::vector<std::string>& argv,
           const cluster::KeyFilter* filter, int resp, std::string* out) override;
  uint64_t Random() override { return rng_(); }

  // Runs `cmd`'s handler for `conn`, its reply going to `reply`.
  void RunHandler(facade::Connection& conn, const CommandSpec& cmd, std::vector<std::string>& argv,
                  facade::ReplyBuilder& reply, const cluster::KeyFilter* filter);
  void ApplyLimits();
  // The command a client names: rename-command applied (nullptr for a
  // name renamed away). Peers look commands up by their real names.
  const CommandSpec* FindClientCommand(std::string_view name) const;
  // Fills renamed_ from rename-command; an unknown name is an error.
  storage::Status ApplyRenames();
  // Listens for clients on the bind addresses of `cfg`: port in clear
  // (unless 0), tls-port over TLS (unless 0).
  storage::Status Listen(const Config& cfg);
  // TLS (server_tls.cc): builds tls_ from the tls-* directives when TLS is
  // in use; the reason in Redis's spirit if a file cannot be loaded.
  storage::Status LoadTls(const Config& cfg);
  // CONFIG SET of a tls-* file, protocol or cipher directive: reloads tls_
  // for new connections; "" or Redis's error.
  std::string ApplyTlsDirective(std::string_view name, const Config& cfg);
  // Starts an accepted tls-port connection with a server session.
  storage::Status StartTlsClient(facade::Connection& conn);
  // Closes TLS clients whose handshake has not completed in time.
  void ExpireTlsHandshakes(int64_t now_ms);
  void WritePidfile();
  // Starts the loop's own handles (flush check, cron, signals).
  storage::Status StartHandles();
  // Takes the clean-shutdown marker; without one (a crash, or appendonly
  // off) on a node that has run before, every write of this run is made as
  // a fresh actor (crash_writer_).
  storage::Status ChooseWriter(bool has_run);
  // At a clean shutdown, once the log is synced: leaves the marker that
  // lets the next start write as this node (appendonly only).
  void MarkCleanShutdown();
  // Builds the cluster layer from the configuration and starts it
  // (server_cluster.cc).
  storage::Status StartCluster();
  void CloseHandles();
  // Starts the rewrite timer for a rewrite in progress.
  void DriveRewrite();
  static void OnCheck(uv_check_t* handle) noexcept;
  static void OnCron(uv_timer_t* handle) noexcept;
  static void OnSignal(uv_signal_t* handle, int signum) noexcept;
  static void OnRewriteTimer(uv_timer_t* handle) noexcept;
  static void OnResumeIdle(uv_idle_t* handle) noexcept;
  static void OnPauseTimer(uv_timer_t* handle) noexcept;
  // Queues a held connection to be resumed in the next idle phase (never
  // from inside another request's processing).
  void ScheduleResume(uint64_t client_id);
  void ResumeHeld();
  // Sends `argv`'s MONITOR line to every monitoring connection.
  void FeedMonitors(facade::Connection& conn, const std::vector<std::string>& argv);

  void Accept(int status, bool tls);
  void FlushPending();
  void Cron();
  void CloseIdleClients(int64_t now_ms);
  void ActiveExpire(int64_t now_ms);
  void SampleMemory();
  // The commandstats/slowlog/latency hook: `cmd` ran in `usec` (its
  // arguments as SlowLog::Capture kept them).
  void AfterCommand(facade::Connection& conn, const CommandSpec& cmd, uint64_t usec, bool failed);
  // Evicts until under maxmemory; false if still over (nothing evictable).
  bool PerformEvictions();
  // Logs `st` and exits non-zero: a failed log write or fsync.
  [[noreturn]] void Fatal(const storage::Status& st);

  Config config_;
  ProcessInfo process_;
  Logger logger_;
  storage::SystemClock clock_;
  LazyFree lazy_free_;  // frees the store's big values; outlives the store
  storage::Store store_;
  storage::ActorTable actors_;
  storage::PosixEnv env_;
  storage::DotCounter dots_;
  Transactions transactions_;                    // outlives the keyspace it listens to
  std::unique_ptr<storage::Keyspace> keyspace_;  // created in Start(), once the node id is known
  Persistence persistence_{config_, logger_, store_};
  CommandTable commands_;
  ServerStats stats_;
  CommandStats command_stats_;
  // While OnRequest runs a client command: the time (us) it started, which
  // its handler (and, in EXEC, every queued command's) takes as its now.
  // -1 otherwise (a cluster part run after its quorum reads the clock).
  int64_t command_start_us_ = -1;
  SlowLog slowlog_;
  LatencyMonitor latency_;
  std::mt19937_64 rng_;
  std::string node_id_;
  std::string run_id_;

  uv_loop_t loop_;
  facade::IoStats io_;
  facade::ErrorStats errors_;
  facade::OutputBatch output_;
  facade::ConnectionEnv client_env_;
  facade::Listener listener_;                // port (not listening when port is 0)
  facade::Listener tls_listener_;            // tls-port (not listening when it is 0)
  std::vector<facade::Endpoint> endpoints_;  // what the listeners were asked to listen on
  // The TLS context new connections take (clients on tls-port, peer links
  // under tls-cluster); null when TLS is not in use. Replaced by a reload.
  std::shared_ptr<facade::TlsContext> tls_;
  std::vector<uint64_t> tls_handshakes_;       // TLS clients accepted, until their handshake ends
  cluster::LogRateLimiter tls_log_;            // failed TLS clients: one line a second
  std::unique_ptr<cluster::Cluster> cluster_;  // created in Start(), once the loop runs
  facade::UvHandle<uv_check_t> flush_check_;
  facade::UvHandle<uv_timer_t> cron_timer_;
  facade::UvHandle<uv_timer_t> rewrite_timer_;  // drives a log rewrite while one runs
  facade::UvHandle<uv_signal_t> sigterm_;
  facade::UvHandle<uv_signal_t> sigint_;
  facade::UvHandle<uv_idle_t> resume_idle_;   // runs while connections wait to resume
  facade::UvHandle<uv_timer_t> pause_timer_;  // ends CLIENT PAUSE
  // Woken by the log writer's thread when a big record is written: the
  // check handle then releases the replies that waited for it.
  facade::UvHandle<uv_async_t> log_wakeup_;
  std::vector<uint64_t> to_resume_;  // client ids, in the order released
  // CLIENT PAUSE: in force, every command or the writes only, the clients
  // holding a paused command.
  bool paused_ = false;
  bool pause_all_ = false;
  std::vector<uint64_t> paused_clients_;
  // rename-command: lower-case name -> the command it runs (nullptr: renamed
  // away or disabled).
  std::unordered_map<std::string, const CommandSpec*> renamed_;
  std::vector<uint64_t> monitors_;  // client ids (closed or RESET ones dropped lazily)
  int64_t last_sibling_warning_ms_ = 0;
  size_t memory_sample_ = 0;                 // UsedMemory() at the last sample
  size_t memory_sample_store_bytes_ = 0;     // store_.used_bytes() then
  size_t memory_sample_log_bytes_ = 0;       // persistence_.BufferBytes() then
  storage::EvictionConfig eviction_config_;  // as last given to the store
  bool loop_ready_ = false;
  // The node was a cluster member when it started (its nodes.state lists
  // others): the keyspace keeps tombstones from the log's replay on.
  bool keep_tombstones_ = false;
  bool shutting_down_ = false;
  // After a crash (no clean-shutdown marker, storage/clean_shutdown.h) every
  // write of this run is made as a fresh actor; empty after a clean one.
  std::optional<storage::Keyspace::WriterScope> crash_writer_;

  uint64_t next_client_id_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<facade::Connection>> clients_;
};

}  // namespace shoal::server
