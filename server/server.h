#pragma once
// Server: the one context of a shoal process. Owns the libuv loop, the
// configuration, the logger, the keyspace, the command table, the client
// sessions and the statistics, and passes references down. No globals.
//
// All methods run on the loop thread.

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "server/cluster_dispatch.h"
#include "server/command.h"
#include "server/config.h"
#include "server/log.h"
#include "server/persistence.h"
#include "storage/actor_table.h"
#include "storage/clock.h"
#include "storage/dot_counter.h"
#include "storage/eviction.h"
#include "storage/file.h"
#include "storage/keyspace.h"
#include "storage/status.h"
#include "storage/store.h"

namespace shoal::server {

class Session;

struct ServerStats {
  int64_t start_ms = 0;
  uint64_t total_connections_received = 0;
  uint64_t total_commands_processed = 0;
  uint64_t rejected_connections = 0;
  uint64_t total_net_input_bytes = 0;
  uint64_t total_net_output_bytes = 0;
  uint64_t total_error_replies = 0;
  // instantaneous_ops_per_sec: commands counted at the last cron sample.
  uint64_t ops_sample_commands = 0;
  int64_t ops_sample_ms = 0;
  uint64_t instantaneous_ops_per_sec = 0;
};

// Where the process came from, for INFO server.
struct ProcessInfo {
  std::string executable;
  std::string config_file;
};

class Server {
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

  // Runs one parsed request of `session`: table lookup, arity, auth, then
  // the handler. The reply lands in the session's ordered reply queue.
  void Dispatch(Session& session, std::vector<std::string>& argv);

  // Runs one frame of a peer connection (the cluster port).
  void DispatchPeer(Session& session, std::vector<std::string>& argv);

  // Runs `cmd`'s handler here, now, for `session`, appending the reply to
  // *out (no cluster routing: the coordinator calls this once a command's
  // quorum reads are in).
  void RunCommand(Session& session, const CommandSpec& cmd, std::vector<std::string>& argv,
                  std::string* out);

  // The session with this id, or nullptr once it is gone.
  Session* FindSession(uint64_t id);

  // Marks `session` as having output to write at the end of this iteration.
  void ScheduleFlush(Session& session);

  // Called from the session's close callback; destroys it.
  void OnSessionClosed(Session* session);

  // Sessions, for CLIENT LIST / CLIENT KILL / INFO clients.
  // Client sessions only: peer connections on the cluster port are not
  // clients (CLIENT LIST, maxclients and INFO leave them out).
  void ForEachSession(const std::function<void(Session&)>& fn);
  size_t connected_clients() const { return sessions_.size() - peer_sessions_; }

  Config& config() { return config_; }
  Logger& logger() { return logger_; }
  storage::Store& store() { return store_; }
  storage::Keyspace& keyspace() { return *keyspace_; }
  Persistence& persistence() { return persistence_; }
  ClusterDispatch& cluster() { return cluster_; }
  // Re-reads the directives that other objects cache (after CONFIG SET).
  void ApplyRuntimeConfig();
  // Starts a background rewrite of the append-only log (BGREWRITEAOF).
  storage::Status StartRewrite();
  const CommandTable& commands() const { return commands_; }
  const storage::Clock& clock() const { return clock_; }
  ServerStats& stats() { return stats_; }
  const ProcessInfo& process() const { return process_; }
  const std::string& node_id() const { return node_id_; }
  const std::string& run_id() const { return run_id_; }
  uv_loop_t* loop() { return &loop_; }
  uint64_t NextRandom() { return rng_(); }
  // Current memory in use (jemalloc's allocated bytes when linked).
  size_t UsedMemory() const;
  // A cheap estimate of UsedMemory() for per-command maxmemory checks.
  size_t MemoryEstimate() const;

 private:
  static void OnConnection(uv_stream_t* server, int status) noexcept;
  static void OnCheck(uv_check_t* handle) noexcept;
  static void OnCron(uv_timer_t* handle) noexcept;
  static void OnSignal(uv_signal_t* handle, int signum) noexcept;
  static void OnRewriteTimer(uv_timer_t* handle) noexcept;

  void Accept(uv_tcp_t* listener, bool peer);
  storage::Status ListenOn(uv_tcp_t* listener, int port, uv_connection_cb cb);
  void FlushPending();
  void Cron();
  void CloseIdleClients(int64_t now_ms);
  void ActiveExpire(int64_t now_ms);
  void SampleMemory();
  // Evicts until under maxmemory; false if still over (nothing evictable).
  bool PerformEvictions();
  storage::Status Listen();
  // Logs `st` and exits non-zero: a failed log write or fsync.
  [[noreturn]] void Fatal(const storage::Status& st);

  Config config_;
  ProcessInfo process_;
  Logger logger_;
  storage::SystemClock clock_;
  storage::Store store_;
  storage::ActorTable actors_;
  storage::PosixEnv env_;
  storage::DotCounter dots_;
  std::unique_ptr<storage::Keyspace> keyspace_;  // created in Start(), once the node id is known
  Persistence persistence_{config_, logger_, store_};
  ClusterDispatch cluster_{*this};
  CommandTable commands_;
  ServerStats stats_;
  std::mt19937_64 rng_;
  std::string node_id_;
  std::string run_id_;

  uv_loop_t loop_;
  uv_tcp_t listener_;
  uv_tcp_t cluster_listener_;  // the peer port
  uv_check_t flush_check_;
  uv_timer_t cron_timer_;
  uv_timer_t rewrite_timer_;  // drives a log rewrite while one runs
  uv_signal_t sigterm_;
  uv_signal_t sigint_;
  int64_t last_sibling_warning_ms_ = 0;
  size_t memory_sample_ = 0;                 // UsedMemory() at the last sample
  size_t memory_sample_store_bytes_ = 0;     // store_.used_bytes() then
  storage::EvictionConfig eviction_config_;  // as last given to the store
  bool loop_ready_ = false;
  bool listening_ = false;
  bool cluster_listening_ = false;
  bool shutting_down_ = false;

  uint64_t next_client_id_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Session>> sessions_;
  size_t peer_sessions_ = 0;             // of sessions_, those on the cluster port
  std::vector<Session*> pending_flush_;  // sessions with output this iteration
  std::vector<Session*> flushing_;       // the batch FlushPending is walking
};

}  // namespace shoal::server
