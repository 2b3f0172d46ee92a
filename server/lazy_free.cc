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
  std::unique_lock lock(mu_);
  if (PinnedLocked(value)) {
    parked_.push_back(std::move(value));
    return;
  }
  QueueLocked(std::move(value), lock);
}

void LazyFree::QueueLocked(std::string&& value, std::unique_lock<std::mutex>& lock) {
  if (!thread_.joinable()) {
    std::string dead = std::move(value);
    lock.unlock();
    std::string().swap(dead);
    lock.lock();
    ++freed_;
    return;
  }
  queue_.push_back(std::move(value));
  wake_.notify_one();
}

bool LazyFree::PinnedLocked(const std::string& value) const {
  auto it = pins_.lower_bound(value.data());
  return it != pins_.end() && it->first < value.data() + value.capacity();
}

std::shared_ptr<const void> LazyFree::Pin(std::string_view bytes) {
  const char* at = bytes.data();
  {
    std::lock_guard lock(mu_);
    ++pins_[at];
  }
  // The owner holds no object of its own: its deleter is the unpin.
  return std::shared_ptr<const void>(at,
                                     [this](const void* p) { Unpin(static_cast<const char*>(p)); });
}

void LazyFree::Unpin(const char* at) {
  std::unique_lock lock(mu_);
  auto it = pins_.find(at);
  if (it != pins_.end() && --it->second == 0) pins_.erase(it);
  for (size_t i = 0; i < parked_.size();) {
    if (PinnedLocked(parked_[i])) {
      ++i;
      continue;
    }
    std::string value = std::move(parked_[i]);
    parked_.erase(parked_.begin() + static_cast<std::ptrdiff_t>(i));
    QueueLocked(std::move(value), lock);
  }
}

uint64_t LazyFree::pending() const {
  std::lock_guard lock(mu_);
  return queue_.size() + parked_.size() + (busy_ ? 1 : 0);
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
