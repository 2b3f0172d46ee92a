// INFO [section ...]: the sections and field names of Redis 7's INFO, filled
// with shoal's own figures, plus shoal_version. Clients parse these lines
// (ioredis waits for loading:0), so keep Redis's names and formats.

#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>

#include "cluster/cluster.h"
#include "cluster/cluster_node.h"
#include "facade/args.h"
#include "server/commands/command.h"
#include "server/server.h"
#include "server/version.h"
#include "storage/store.h"

namespace shoal::server {
namespace {

std::string HumanBytes(uint64_t n) {
  char buf[32];
  double d = static_cast<double>(n);
  if (n < 1024) {
    std::snprintf(buf, sizeof(buf), "%lluB", static_cast<unsigned long long>(n));
  } else if (n < 1024ull * 1024) {
    std::snprintf(buf, sizeof(buf), "%.2fK", d / 1024);
  } else if (n < 1024ull * 1024 * 1024) {
    std::snprintf(buf, sizeof(buf), "%.2fM", d / (1024 * 1024));
  } else {
    std::snprintf(buf, sizeof(buf), "%.2fG", d / (1024.0 * 1024 * 1024));
  }
  return buf;
}

uint64_t TotalSystemMemory() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long size = sysconf(_SC_PAGESIZE);
  return pages > 0 && size > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(size) : 0;
}

std::string Fixed2(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.2f", v);
  return buf;
}

size_t RssBytes() {
  std::ifstream f("/proc/self/statm");
  size_t pages = 0, rss = 0;
  f >> pages >> rss;
  return rss * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

class InfoWriter {
 public:
  void Section(const char* name) {
    if (!out_.empty()) out_ += "\r\n";
    out_ += "# ";
    out_ += name;
    out_ += "\r\n";
  }
  void Field(const char* name, std::string_view value) {
    out_ += name;
    out_ += ':';
    out_ += value;
    out_ += "\r\n";
  }
  void Field(const char* name, uint64_t value) { Field(name, std::to_string(value)); }
  void FieldI(const char* name, int64_t value) { Field(name, std::to_string(value)); }
  std::string& str() { return out_; }

 private:
  std::string out_;
};

void ServerSection(Server& server, InfoWriter& w) {
  int64_t now_us = server.clock().NowUs();
  int64_t uptime = (now_us / 1000 - server.stats().start_ms) / 1000;
  struct utsname un;
  uname(&un);
  w.Section("Server");
  w.Field("redis_version", kRedisVersion);
  w.Field("shoal_version", SHOAL_VERSION);
  w.Field("redis_git_sha1", "00000000");
  w.Field("redis_git_dirty", "0");
  w.Field("redis_mode", "standalone");
  w.Field("os", std::string(un.sysname) + " " + un.release + " " + un.machine);
  w.Field("arch_bits", sizeof(void*) * 8);
  w.Field("multiplexing_api", "epoll");
  w.Field("gcc_version", std::to_string(__GNUC__) + "." + std::to_string(__GNUC_MINOR__) + "." +
                             std::to_string(__GNUC_PATCHLEVEL__));
  w.FieldI("process_id", getpid());
  w.Field("run_id", server.run_id());
  w.Field("node_id", server.node_id());
  w.FieldI("tcp_port", server.config().port);
  w.FieldI("server_time_usec", now_us);
  w.FieldI("uptime_in_seconds", uptime);
  w.FieldI("uptime_in_days", uptime / 86400);
  w.FieldI("hz", server.config().hz);
  w.FieldI("configured_hz", server.config().hz);
  w.Field("executable", server.process().executable);
  w.Field("config_file", server.process().config_file);
}

void ClientsSection(Server& server, InfoWriter& w) {
  w.Section("Clients");
  w.Field("connected_clients", server.connected_clients());
  w.Field("cluster_connections", 0);
  w.FieldI("maxclients", server.config().maxclients);
  w.Field("blocked_clients", 0);
  w.Field("tracking_clients", 0);
}

void MemorySection(Server& server, InfoWriter& w) {
  size_t used = server.UsedMemory();
  size_t rss = RssBytes();
  ServerStats& st = server.stats();
  st.used_memory_peak = std::max(st.used_memory_peak, used);
  const uint64_t peak = st.used_memory_peak;
  const uint64_t log_buffers = server.persistence().BufferBytes();
  const uint64_t system = TotalSystemMemory();
  w.Section("Memory");
  w.Field("used_memory", used);
  w.Field("used_memory_human", HumanBytes(used));
  w.Field("used_memory_rss", rss);
  w.Field("used_memory_rss_human", HumanBytes(rss));
  w.Field("used_memory_peak", peak);
  w.Field("used_memory_peak_human", HumanBytes(peak));
  w.Field(
      "used_memory_peak_perc",
      Fixed2(peak > 0 ? 100.0 * static_cast<double>(used) / static_cast<double>(peak) : 0) + "%");
  w.Field("used_memory_dataset", server.store().used_bytes());
  w.Field("total_system_memory", system);
  w.Field("total_system_memory_human", HumanBytes(system));
  w.Field("maxmemory", server.config().maxmemory);
  w.Field("maxmemory_human", HumanBytes(server.config().maxmemory));
  auto policy = ConfigGet(server.config(), "maxmemory-policy");
  w.Field("maxmemory_policy", policy.empty() ? std::string("noeviction") : policy[0].second);
  w.Field("mem_fragmentation_ratio",
          Fixed2(used > 0 ? static_cast<double>(rss) / static_cast<double>(used) : 0.0));
  // As Redis: the log's buffers are left out of the maxmemory comparison.
  w.Field("mem_not_counted_for_evict", log_buffers);
  w.Field("mem_aof_buffer", log_buffers);
  w.Field("lazyfree_pending_objects", server.lazy_free().pending());
#ifdef SHOAL_HAVE_JEMALLOC
  w.Field("mem_allocator", "jemalloc-5.3.0");
#else
  w.Field("mem_allocator", "libc");
#endif
}

void PersistenceSection(Server& server, InfoWriter& w) {
  PersistenceInfo p = server.persistence().Info();
  const ServerStats& st = server.stats();
  w.Section("Persistence");
  w.Field("loading", 0);
  w.Field("async_loading", 0);
  // shoal has no RDB: the figures of a server that never snapshots, with
  // the last "save" being the start or the last finished log rewrite.
  w.Field("rdb_changes_since_last_save",
          server.keyspace().changes().stats().changes - st.changes_at_last_save);
  w.Field("rdb_bgsave_in_progress", 0);
  w.FieldI("rdb_last_save_time", st.last_save_time);
  w.Field("rdb_last_bgsave_status", "ok");
  w.FieldI("rdb_last_bgsave_time_sec", -1);
  w.FieldI("rdb_current_bgsave_time_sec", -1);
  w.Field("rdb_saves", 0);
  w.Field("aof_enabled", p.enabled ? 1 : 0);
  w.Field("aof_rewrite_in_progress", p.rewrite_in_progress ? 1 : 0);
  w.Field("aof_rewrite_scheduled", 0);
  w.Field("aof_rewrites", p.rewrites);
  w.Field("aof_last_bgrewrite_status", p.last_rewrite_ok ? "ok" : "err");
  w.Field("aof_last_write_status", p.last_write_ok ? "ok" : "err");
  if (p.enabled) {
    w.Field("aof_current_size", p.current_size);
    w.Field("aof_base_size", p.base_size);
    w.Field("aof_buffer_length", p.buffer_length);
    w.Field("aof_loaded_records", p.loaded_records);
  }
}

void StatsSection(Server& server, InfoWriter& w) {
  const ServerStats& st = server.stats();
  const storage::StoreStats& ks = server.store().stats();
  w.Section("Stats");
  w.Field("total_connections_received", st.total_connections_received);
  w.Field("total_commands_processed", st.total_commands_processed);
  w.Field("instantaneous_ops_per_sec", st.instantaneous_ops_per_sec);
  w.Field("total_net_input_bytes", server.io().net_input_bytes);
  w.Field("total_net_output_bytes", server.io().net_output_bytes);
  w.Field("instantaneous_input_kbps", Fixed2(st.instantaneous_input_kbps));
  w.Field("instantaneous_output_kbps", Fixed2(st.instantaneous_output_kbps));
  w.Field("rejected_connections", st.rejected_connections);
  w.Field("expired_keys", ks.expired_keys);
  w.Field("evicted_keys", ks.evicted_keys);
  w.Field("keyspace_hits", ks.keyspace_hits);
  w.Field("keyspace_misses", ks.keyspace_misses);
  // shoal has no pub/sub (yet): exporters read these.
  w.Field("pubsub_channels", 0);
  w.Field("pubsub_patterns", 0);
  w.Field("pubsubshard_channels", 0);
  w.Field("total_error_replies", server.errors().total());
  w.Field("lazyfreed_objects", server.lazy_free().freed());
  w.Field("client_query_buffer_limit_disconnections", st.client_query_buffer_limit_disconnections);
  w.Field("client_output_buffer_limit_disconnections",
          st.client_output_buffer_limit_disconnections);
  const storage::KeyspaceStats& vs = server.keyspace().stats();
  w.Field("sibling_warnings", vs.sibling_warnings);
  w.Field("sibling_conflicts", vs.conflicts);
  w.Field("tombstones_purged", vs.tombstones_purged);
  // Node ids first met in a client's context token (storage/context_token.h).
  w.Field("context_node_ids_learned", server.keyspace().actors().client_interned());
  w.Field("context_node_ids_ignored", server.keyspace().actors().client_refused());
  const storage::ContainerCache& cache = server.keyspace().container_cache();
  w.Field("container_cache_keys", cache.size());
  w.Field("container_cache_hits", cache.stats().hits);
  w.Field("container_cache_misses", cache.stats().misses);
  w.Field("container_cache_dirty_keys", cache.dirty());
  w.Field("container_cache_write_backs", cache.stats().write_backs);
}

// A Redis master without replicas, field for field (Redis 7.0): shoal's
// replication is its cluster's (see INFO cluster), not a Redis replica link.
// master_replid is the run id.
void ReplicationSection(Server& server, InfoWriter& w) {
  w.Section("Replication");
  w.Field("role", "master");
  w.Field("connected_slaves", 0);
  w.Field("master_failover_state", "no-failover");
  w.Field("master_replid", server.run_id());
  w.Field("master_replid2", std::string(40, '0'));
  w.Field("master_repl_offset", 0);
  w.FieldI("second_repl_offset", -1);
  w.Field("repl_backlog_active", 0);
  w.Field("repl_backlog_size", 0);
  w.Field("repl_backlog_first_byte_offset", 0);
  w.Field("repl_backlog_histlen", 0);
}

// No modules; the header alone, as Redis prints it without modules.
void ModulesSection(Server&, InfoWriter& w) {
  w.Section("Modules");
}

void CommandstatsSection(Server& server, InfoWriter& w) {
  w.Section("Commandstats");
  w.str() += server.command_stats().CommandstatsLines();
}

void LatencystatsSection(Server& server, InfoWriter& w) {
  w.Section("Latencystats");
  w.str() += server.command_stats().LatencystatsLines();
}

void CpuSection(Server&, InfoWriter& w) {
  struct rusage self;
  getrusage(RUSAGE_SELF, &self);
  char buf[32];
  w.Section("CPU");
  std::snprintf(buf, sizeof(buf), "%ld.%06ld", static_cast<long>(self.ru_stime.tv_sec),
                static_cast<long>(self.ru_stime.tv_usec));
  w.Field("used_cpu_sys", buf);
  std::snprintf(buf, sizeof(buf), "%ld.%06ld", static_cast<long>(self.ru_utime.tv_sec),
                static_cast<long>(self.ru_utime.tv_usec));
  w.Field("used_cpu_user", buf);
}

// shoal's own: the ring and the coordinator's counters.
void ClusterSection(Server& server, InfoWriter& w) {
  w.Section("Cluster");
  cluster::Cluster* cl = server.cluster();
  // Redis's field says whether the Redis Cluster client protocol (slots,
  // MOVED) is on; some clients switch to cluster mode on 1. shoal's cluster
  // is invisible to clients, so they must see a plain server.
  w.Field("cluster_enabled", uint64_t{0});
  if (cl == nullptr) return;
  cluster::ClusterNode* node = &cl->node();
  const cluster::DispatcherStats& ds = cl->dispatcher().stats();
  uint64_t connected = 0;
  for (const auto& [id, info] : node->membership().members()) {
    if (id != node->self_id() && node->IsConnected(id)) ++connected;
  }
  const cluster::CoordinatorStats& cs = cl->coordinator().stats();
  w.Field("cluster_known_nodes", static_cast<uint64_t>(node->member_count()));
  w.Field("cluster_connected_peers", connected);
  w.Field("cluster_ring_epoch", node->membership().epoch());
  w.Field("cluster_forwards", ds.forwarded_commands);
  w.Field("cluster_forwards_served", ds.served_forwards);
  w.Field("cluster_broadcasts", ds.broadcasts);
  w.Field("cluster_quorum_reads", cs.reads);
  w.Field("cluster_quorum_writes", cs.writes);
  w.Field("cluster_quorum_failures", cs.quorum_failures);
  w.Field("cluster_read_repairs", cs.read_repairs);
  w.Field("cluster_late_replies", cs.late_replies);
  w.Field("cluster_replies_after_quorum", cs.replies_after_quorum);
  w.Field("cluster_deltas_sent", cs.deltas_sent);
  w.Field("cluster_deltas_refused", cs.deltas_refused);
  w.Field("cluster_deltas_applied", cl->replica().stats().deltas_applied);
  w.Field("cluster_deltas_stale", cl->replica().stats().deltas_stale);
  w.Field("cluster_replica_puts", cl->replica().stats().puts);
  w.Field("cluster_replica_gets", cl->replica().stats().gets);
  w.Field("cluster_peer_reconnects", node->stats().peer_reconnects);
  w.Field("cluster_peer_auth_failures",
          node->stats().auth_failures + cl->peer_server().stats().auth_failures);
  {
    // The peer port's defences (cluster/peer/server.h).
    const cluster::PeerServerStats& ps = cl->peer_server().stats();
    w.Field("cluster_peer_handshake_timeouts", ps.handshake_timeouts);
    w.Field("cluster_peer_refused_connections", ps.refused_connections);
    w.Field("cluster_peer_mac_failures", ps.mac_failures);
  }
  w.Field("cluster_membership_exchanges", node->stats().exchanges);
  w.Field("cluster_ring_changes", node->stats().ring_changes);
  // Dead keys (tombstones, remains of expired versions) and their purging.
  const storage::KeyspaceStats& ks = server.keyspace().stats();
  const cluster::ReaperStats& rs = cl->reaper().stats();
  w.Field("cluster_tombstones_held", ks.tombstones_held);
  w.Field("cluster_tombstone_bytes", ks.tombstone_bytes);
  w.Field("cluster_tombstones_purged", ks.tombstones_purged);
  w.Field("cluster_purge_rounds", rs.rounds);
  w.Field("cluster_purge_keys_checked", rs.keys_checked);
  w.Field("cluster_purges_owned", rs.purged);
  w.Field("cluster_purges_served", rs.purges_served);
  w.Field("cluster_purge_refused_member_down", rs.refused_member_down);
  w.Field("cluster_purge_refused_no_answer", rs.refused_no_answer);
  w.Field("cluster_purge_refused_replica_differs", rs.refused_replica_differs);
  w.Field("cluster_purge_refused_copy_elsewhere", rs.refused_copy_elsewhere);
  w.Field("cluster_purge_refused_changed", rs.refused_changed);
  if (const cluster::HintStore* hints = cl->hints()) {
    const cluster::HintStats hs = hints->stats();
    w.Field("cluster_hints_stored", hs.stored + hs.merged);
    w.Field("cluster_hints_pending", hs.pending_hints);
    w.Field("cluster_hints_pending_bytes", hs.pending_bytes);
    w.Field("cluster_hints_delivered", hs.delivered);
    w.Field("cluster_hints_delivered_bytes", hs.delivered_bytes);
    w.Field("cluster_hints_dropped", hs.dropped());
    w.Field("cluster_handoff_failures", cl->handoff_stats().failures);
    // Per owner: cluster_hints_for_<id>:<pending hints>.
    for (const std::string& target : hints->Targets()) {
      w.Field(("cluster_hints_for_" + target).c_str(), hints->Pending(target).hints);
    }
  }
  {
    const cluster::TransferStats& ts = cl->transfer().stats();
    w.Field("cluster_transfers_pending", static_cast<uint64_t>(cl->transfer().pending()));
    w.Field("cluster_transfers_active", static_cast<uint64_t>(cl->transfer().receiving()));
    w.Field("cluster_transfer_partitions_received", ts.partitions_received);
    w.Field("cluster_transfer_keys_received", ts.keys_received);
    w.Field("cluster_transfer_bytes_received", ts.bytes_received);
    w.Field("cluster_transfer_keys_sent", ts.keys_sent);
    w.Field("cluster_transfer_bytes_sent", ts.bytes_sent);
    w.Field("cluster_transfer_failures", ts.failures);
    w.Field("cluster_transfer_partitions_dropped", ts.partitions_dropped);
    w.Field("cluster_transfer_keys_dropped", ts.keys_dropped);
    w.Field("cluster_transfer_stray_keys_moved", ts.stray_keys_moved);
  }
  const cluster::AntiEntropy& ae = cl->anti_entropy();
  const cluster::AntiEntropyStats& as = ae.stats();
  w.Field("anti_entropy_enabled", uint64_t{ae.enabled() ? 1u : 0u});
  w.Field("anti_entropy_exchanges", as.exchanges);
  w.Field("anti_entropy_exchange_failures", as.exchange_failures);
  w.Field("anti_entropy_partitions_compared", as.partitions_compared);
  w.Field("anti_entropy_segments_differing", as.segments_differing);
  w.Field("anti_entropy_keys_differing", as.keys_differing);
  w.Field("anti_entropy_keys_repaired", as.keys_repaired);
  w.Field("anti_entropy_frames_served", as.frames_served);
  w.Field("anti_entropy_trees", static_cast<uint64_t>(ae.trees().tree_count()));
  w.Field("anti_entropy_tree_bytes", static_cast<uint64_t>(ae.trees().bytes()));
  w.Field("anti_entropy_partitions_unbuilt", static_cast<uint64_t>(ae.trees().unbuilt()));
  w.Field("anti_entropy_rebuilds", as.rebuilds);
  w.Field("anti_entropy_rebuild_mismatches", as.rebuild_mismatches);
  if (const cluster::FailureDetector* fd = node->detector()) {
    const cluster::FailureDetectorCounters& fc = fd->counters();
    w.Field("cluster_suspicions", fc.suspicions);
    w.Field("cluster_suspicions_cleared", fc.suspicions_cleared);
    w.Field("cluster_refutations", fc.refutations);
    w.Field("cluster_nodes_marked_down", fc.marked_down);
    w.Field("cluster_nodes_marked_up", fc.marked_up);
    w.Field("cluster_probes", fc.probes);
    w.Field("cluster_probe_failures", fc.probe_failures);
    w.Field("cluster_local_health", static_cast<uint64_t>(fd->awareness()));
  }
}

// As Redis: one line per error prefix counted since start or CONFIG RESETSTAT.
void ErrorstatsSection(Server& server, InfoWriter& w) {
  w.Section("Errorstats");
  for (const auto& [prefix, count] : server.errors().by_prefix()) {
    w.Field(("errorstat_" + prefix).c_str(), "count=" + std::to_string(count));
  }
}

void KeyspaceSection(Server& server, InfoWriter& w) {
  w.Section("Keyspace");
  const storage::Store& store = server.store();
  if (store.size() == 0) return;
  const int64_t avg_ttl = store.expires_size() > 0 ? store.avg_ttl_ms() : 0;
  w.Field("db0", "keys=" + std::to_string(store.size()) + ",expires=" +
                     std::to_string(store.expires_size()) + ",avg_ttl=" + std::to_string(avg_ttl));
}

struct SectionRow {
  const char* name;
  bool in_default;
  void (*write)(Server&, InfoWriter&);
};

// Redis 7.0's sections in its order (genRedisInfoString), shoal's cluster
// section where Redis has its own.
constexpr SectionRow kSections[] = {
    {"server", true, ServerSection},
    {"clients", true, ClientsSection},
    {"memory", true, MemorySection},
    {"persistence", true, PersistenceSection},
    {"stats", true, StatsSection},
    {"replication", true, ReplicationSection},
    {"cpu", true, CpuSection},
    {"modules", true, ModulesSection},
    {"commandstats", false, CommandstatsSection},
    {"errorstats", true, ErrorstatsSection},
    {"latencystats", false, LatencystatsSection},
    {"cluster", true, ClusterSection},
    {"keyspace", true, KeyspaceSection},
};

// Section selection as Redis 7.0's genInfoSectionDict: no argument or
// "default" for the default sections, "all" for every section, "everything"
// for every section and modules' (shoal has none), names case-insensitive,
// several at once, unknown names ignored. Redis calls the modules section
// "module_list" in selections.
void CmdInfo(CommandContext& ctx) {
  bool all = false;
  bool defaults = ctx.args.size() == 1;
  std::set<std::string> wanted;
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    std::string a = ctx.args[i];
    for (char& ch : a) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (a == "all" || a == "everything") {
      all = true;
    } else if (a == "default") {
      defaults = true;
    } else {
      wanted.insert(a == "module_list" ? "modules" : a);
    }
  }
  InfoWriter w;
  for (const SectionRow& row : kSections) {
    if (all || (defaults && row.in_default) || wanted.count(row.name) > 0)
      row.write(*ctx.server, w);
  }
  ctx.reply.Verbatim("txt", w.str());
}

const CommandSpec kInfoCommands[] = {
    {"info", -1, kCmdLoading | kCmdStale, CmdInfo, 0, 0, 0, "server",
     "Returns information and statistics about the server."},
};

}  // namespace

void RegisterInfoCommand(CommandTable& table) {
  table.Register(kInfoCommands);
}

}  // namespace shoal::server
