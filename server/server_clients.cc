// Server: what it does for its client connections beyond running their
// commands: finding them, resuming held ones (CLIENT PAUSE, commands that
// wait for earlier replies), and feeding MONITOR.

#include <algorithm>
#include <string>
#include <vector>

#include "server/commands/monitor_line.h"
#include "server/server.h"

namespace shoal::server {

facade::Connection* Server::FindClient(uint64_t id) {
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : it->second.get();
}

void Server::OnHoldReleased(facade::Connection& conn) {
  ScheduleResume(conn.id());
}

void Server::ScheduleResume(uint64_t client_id) {
  to_resume_.push_back(client_id);
  // The idle phase resumes it; an active idle handle also keeps the poll
  // phase from blocking, so the check phase after it commits and flushes
  // what the resumed commands wrote.
  if (resume_idle_.get() != nullptr &&
      !uv_is_active(reinterpret_cast<uv_handle_t*>(resume_idle_.get()))) {
    const int rc = uv_idle_start(resume_idle_.get(), &Server::OnResumeIdle);
    if (rc != 0) Fatal(storage::Status::IOError(std::string("resume idle: ") + uv_strerror(rc)));
  }
}

void Server::OnResumeIdle(uv_idle_t* handle) noexcept {
  static_cast<Server*>(handle->data)->ResumeHeld();
}

void Server::ResumeHeld() {
  std::vector<uint64_t> ids;
  ids.swap(to_resume_);
  for (uint64_t id : ids) {
    facade::Connection* c = FindClient(id);
    if (c != nullptr) c->Resume();
  }
  // The idle handle stays on until the check phase (FlushPending): the
  // poll phase between them must not block.
}

void Server::PauseClients(int64_t end_ms, bool all) {
  paused_ = true;
  pause_all_ = all;
  const int64_t wait = std::max<int64_t>(0, end_ms - clock_.NowMs());
  const int rc =
      uv_timer_start(pause_timer_.get(), &Server::OnPauseTimer, static_cast<uint64_t>(wait), 0);
  if (rc != 0) Fatal(storage::Status::IOError(std::string("pause timer: ") + uv_strerror(rc)));
}

void Server::OnPauseTimer(uv_timer_t* handle) noexcept {
  static_cast<Server*>(handle->data)->UnpauseClients();
}

void Server::UnpauseClients() {
  paused_ = false;
  (void)uv_timer_stop(pause_timer_.get());
  for (uint64_t id : paused_clients_) ScheduleResume(id);
  paused_clients_.clear();
}

void Server::FeedMonitors(facade::Connection& conn, const std::vector<std::string>& argv) {
  const std::string line = MonitorLine(clock_.NowUs(), conn.peer_addr(), argv);
  std::erase_if(monitors_, [&](uint64_t id) {
    facade::Connection* m = FindClient(id);
    if (m == nullptr || m->closing() || !m->state().monitor) return true;
    m->ReplyTarget()->append(line);
    if (m->CheckOutputLimits()) return true;
    m->ScheduleFlush();
    return false;
  });
}

}  // namespace shoal::server
