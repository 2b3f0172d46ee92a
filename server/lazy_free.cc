#include "server/lazy_free.h"

#include <system_error>
#include <utility>

namespace shoal::server {

LazyFree::LazyFree() {
  try {
    thread_ = std::thread([this] { Run(); });
  } catch (const std::system_error&) {
    // No thread: Free() frees in place, slow but correct.
  }
}

LazyFree::~LazyFree() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void LazyFree::Free(std::string&& value) {
  if (!thread_.joinable()) {
    std::string().swap(value);
    std::lock_guard lock(mu_);
    ++freed_;
    return;
  }
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(value));
  }
  wake_.notify_one();
}

uint64_t LazyFree::pending() const {
  std::lock_guard lock(mu_);
  return queue_.size() + (busy_ ? 1 : 0);
}

uint64_t LazyFree::freed() const {
  std::lock_guard lock(mu_);
  return freed_;
}

void LazyFree::WaitIdle() {
  std::unique_lock lock(mu_);
  idle_.wait(lock, [this] { return queue_.empty() && !busy_; });
}

void LazyFree::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_, nothing left
    std::string value = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    std::string().swap(value);  // the free itself, outside the lock
    lock.lock();
    busy_ = false;
    ++freed_;
    if (queue_.empty()) idle_.notify_all();
  }
}

}  // namespace shoal::server
