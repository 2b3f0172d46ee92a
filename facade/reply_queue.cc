#include "facade/reply_queue.h"

namespace shoal::facade {

std::string* ReplyQueue::Target() {
  if (slots_.empty()) return out_;
  Slot& back = slots_.back();
  if (back.done) return &back.bytes;
  slots_.push_back(Slot{0, true, {}});
  return &slots_.back().bytes;
}

uint64_t ReplyQueue::Defer() {
  uint64_t t = next_ticket_++;
  slots_.push_back(Slot{t, false, {}});
  ++outstanding_;
  return t;
}

bool ReplyQueue::Complete(uint64_t ticket, std::string bytes) {
  for (Slot& s : slots_) {
    if (s.ticket == ticket && !s.done) {
      s.done = true;
      s.bytes = std::move(bytes);
      --outstanding_;
      Release();
      return true;
    }
  }
  return false;
}

size_t ReplyQueue::held_bytes() const {
  size_t n = 0;
  for (const Slot& s : slots_) n += s.bytes.size();
  return n;
}

void ReplyQueue::Clear() {
  std::deque<Slot>().swap(slots_);
  outstanding_ = 0;
}

void ReplyQueue::Release() {
  while (!slots_.empty() && slots_.front().done) {
    out_->append(slots_.front().bytes);
    slots_.pop_front();
  }
}

}  // namespace shoal::facade
