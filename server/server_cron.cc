// Server: the periodic work of the loop (the cron: idle clients, memory
// samples and eviction, active expiry, rehashing, automatic log rewrites,
// the instantaneous rates) and the background rewrite's timer.

#include <algorithm>

#include "server/server.h"

namespace shoal::server {
namespace {

// Active expiry may use this share of each cron period (Redis: 25%).
constexpr int64_t kActiveExpireBudgetPercent = 25;
// Keys sampled per ActiveExpireCycle call; calls repeat within the budget.
constexpr size_t kActiveExpireSamplesPerCall = 200;
// Buckets moved per incremental-rehash step from the cron.
constexpr size_t kRehashStepBuckets = 100;

}  // namespace

storage::Status Server::StartRewrite() {
  storage::Status st = persistence_.StartRewrite();
  if (st.ok()) DriveRewrite();
  return st;
}

void Server::OnRewriteTimer(uv_timer_t* handle) noexcept {
  auto* self = static_cast<Server*>(handle->data);
  storage::Status st = self->persistence_.RewriteStep(self->clock_.NowMs());
  if (!st.ok()) self->Fatal(st);
  const PersistenceInfo info = self->persistence_.Info();
  if (info.rewrite_in_progress) return;
  // Stopping an initialised timer cannot fail.
  (void)uv_timer_stop(handle);
  if (info.last_rewrite_ok) {
    // A finished rewrite is shoal's "save" for INFO persistence.
    self->stats_.last_save_time = self->clock_.NowMs() / 1000;
    self->stats_.changes_at_last_save = self->keyspace_->changes().stats().changes;
  }
}

void Server::OnCron(uv_timer_t* handle) noexcept {
  static_cast<Server*>(handle->data)->Cron();
}

void Server::Cron() {
  // CONFIG SET hz takes effect from the next period.
  uint64_t period = static_cast<uint64_t>(1000 / std::max(1, config_.hz));
  if (uv_timer_get_repeat(cron_timer_.get()) != period) {
    uv_timer_set_repeat(cron_timer_.get(), period);
  }
  int64_t now = clock_.NowMs();
  CloseIdleClients(now);
  if (!tls_handshakes_.empty()) ExpireTlsHandshakes(now);
  persistence_.ReleaseIdleBuffers();
  SampleMemory();
  if (config_.maxmemory > 0) (void)PerformEvictions();
  const int64_t expire_start_us = clock_.NowUs();
  ActiveExpire(now);
  LatencySample("expire-cycle", static_cast<uint64_t>(clock_.NowUs() - expire_start_us) / 1000);
  store_.RehashStep(kRehashStepBuckets);
  if (!persistence_.Info().rewrite_in_progress) {
    persistence_.MaybeAutoRewrite();
    if (persistence_.Info().rewrite_in_progress) {
      DriveRewrite();
    }
  }
  // instantaneous_ops_per_sec over the last sample period.
  int64_t elapsed = now - stats_.ops_sample_ms;
  if (elapsed >= 1000) {
    uint64_t ops = stats_.total_commands_processed - stats_.ops_sample_commands;
    stats_.instantaneous_ops_per_sec = ops * 1000 / static_cast<uint64_t>(elapsed);
    stats_.ops_sample_commands = stats_.total_commands_processed;
    stats_.ops_sample_ms = now;
    // Network rates over the same period, in KB/s as Redis prints them.
    const double secs = static_cast<double>(elapsed) / 1000.0;
    stats_.instantaneous_input_kbps =
        static_cast<double>(io_.net_input_bytes - stats_.net_sample_input) / 1024.0 / secs;
    stats_.instantaneous_output_kbps =
        static_cast<double>(io_.net_output_bytes - stats_.net_sample_output) / 1024.0 / secs;
    stats_.net_sample_input = io_.net_input_bytes;
    stats_.net_sample_output = io_.net_output_bytes;
  }
}

void Server::CloseIdleClients(int64_t now_ms) {
  if (config_.timeout <= 0) return;
  int64_t limit = static_cast<int64_t>(config_.timeout) * 1000;
  for (auto& [id, s] : clients_) {
    // A client waiting for a deferred reply, or held (paused), is not idle.
    if (s->closing() || s->outstanding_replies() > 0 || s->held()) continue;
    if (now_ms - s->last_interaction_ms() > limit) {
      SHOAL_LOG(logger_, LogLevel::kVerbose, "Closing idle client id=%llu",
                static_cast<unsigned long long>(id));
      s->Close();
    }
  }
}

void Server::ActiveExpire(int64_t now_ms) {
  // Bounded work: keep sampling while keys keep expiring, but never spend
  // more than a quarter of the cron period, however many keys there are.
  int64_t period_us = 1'000'000 / std::max(1, config_.hz);
  int64_t budget_us = period_us * kActiveExpireBudgetPercent / 100;
  int64_t start = clock_.NowUs();
  while (store_.expires_size() > 0) {
    size_t expired = keyspace_->ActiveExpireCycle(now_ms, kActiveExpireSamplesPerCall, rng_());
    // The store stops on its own once a sample is mostly live; go on only
    // while it ran out of samples with a quarter or more still expiring.
    if (expired < kActiveExpireSamplesPerCall / 4 || clock_.NowUs() - start > budget_us) break;
  }
}

}  // namespace shoal::server
