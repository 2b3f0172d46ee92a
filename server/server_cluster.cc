// The cluster layer's wiring: its options from the configuration, the
// callbacks it calls back into the server with, and its start.

#include "server/server.h"

#include "facade/net_address.h"

namespace shoal::server {

storage::Status Server::StartCluster() {
  cluster::ClusterOptions co;
  co.self.id = node_id_;
  const bool learn_host = LearnsAnnouncedHost(config_);
  co.self.host = AnnouncedHost(
      config_, learn_host ? facade::InterfaceAddresses() : std::vector<facade::InterfaceAddress>{});
  co.self.port = AnnouncedPort(config_);
  co.self.cport = AnnouncedBusPort(config_);
  co.self.incarnation = static_cast<uint64_t>(clock_.NowMs());
  co.learn_host = learn_host;
  co.listen_cport = ClusterPort(config_);
  if (learn_host) {
    logger_.Log(LogLevel::kNotice,
                "bind %s and no cluster-announce-ip: advertising %s to peers until a peer "
                "connection shows the address they reach this node at",
                ListenAddress(config_).c_str(), co.self.host.c_str());
  }
  co.secret = config_.cluster_secret;
  co.bind_addr = SourceAddress(config_);
  if (config_.tls_cluster) co.tls = [this] { return tls_; };
  co.listen_addr = ListenAddress(config_);
  co.partitions = static_cast<uint32_t>(config_.vnodes);
  co.gossip_interval_ms = config_.gossip_interval_ms;
  co.exchange_timeout_ms = config_.request_timeout_ms;
  co.node_timeout_ms = config_.node_timeout_ms;
  co.backlog = config_.tcp_backlog;
  co.env = &env_;
  co.dir = config_.dir;
  co.fatal = [this](const storage::Status& failed) { Fatal(failed); };
  co.handoff.enabled = config_.hinted_handoff;
  co.handoff.sync = config_.appendfsync == AppendFsync::kAlways ? cluster::HintSync::kAlways
                    : config_.appendfsync == AppendFsync::kNo   ? cluster::HintSync::kNo
                                                                : cluster::HintSync::kEverysec;
  co.durable = config_.appendonly;
  co.on_gone = [this](const std::string& why) { RequestShutdown(why.c_str()); };
  for (const SeedAddress& seed : config_.cluster_seeds) {
    co.seeds.push_back({seed.host, seed.port, seed.bus_port()});
  }
  co.log = [this](cluster::LogSeverity sev, const std::string& msg) {
    LogLevel level = sev == cluster::LogSeverity::kWarning   ? LogLevel::kWarning
                     : sev == cluster::LogSeverity::kNotice  ? LogLevel::kNotice
                     : sev == cluster::LogSeverity::kVerbose ? LogLevel::kVerbose
                                                             : LogLevel::kDebug;
    SHOAL_LOG(logger_, level, "%s", msg.c_str());
  };
  cluster_ = std::make_unique<cluster::Cluster>(&loop_, *keyspace_, clock_, *this, output_, io_,
                                                std::move(co));
  ApplyRuntimeConfig();
  return cluster_->Start();
}

}  // namespace shoal::server
