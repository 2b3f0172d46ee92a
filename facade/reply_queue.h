#pragma once
// ReplyQueue: keeps one connection's replies in request order when some of
// them complete later than others (a coordinator waiting for replicas).
//
// While nothing is outstanding, replies go straight into the output buffer
// (the fast path: no queue at all). Once a request defers its reply, every
// later reply is held in order behind it and released into the output buffer
// when everything before it has completed.
//
// Pure logic: no sockets. The session owns the output buffer it flushes.

#include <cstdint>
#include <deque>
#include <string>

namespace shoal::facade {

class ReplyQueue {
 public:
  // `out` is the output buffer released replies are appended to; the caller
  // owns it and it must outlive the queue.
  explicit ReplyQueue(std::string* out) : out_(out) {}

  // The buffer a reply completed right now must be written to: the output
  // buffer itself if nothing is outstanding, else a held slot.
  std::string* Target();

  // Reserves a place for a reply that will come later; returns its ticket.
  uint64_t Defer();

  // Completes the deferred reply `ticket` with `bytes`, releasing it and any
  // completed replies behind it once everything before them is complete.
  // Returns false if the ticket is unknown (already completed).
  bool Complete(uint64_t ticket, std::string bytes);

  // Number of deferred replies not yet completed.
  size_t outstanding() const { return outstanding_; }

  // Bytes of replies held behind an outstanding one (completed, not yet
  // released into the output buffer), for the output buffer limits.
  size_t held_bytes() const;

  // Drops every held reply and forgets the outstanding ones (the connection
  // is closing: nothing will be sent).
  void Clear();

 private:
  struct Slot {
    uint64_t ticket;  // 0 for a slot holding already-complete replies
    bool done;
    std::string bytes;
  };

  void Release();

  std::string* out_;
  std::deque<Slot> slots_;
  uint64_t next_ticket_ = 1;
  size_t outstanding_ = 0;
};

}  // namespace shoal::facade
