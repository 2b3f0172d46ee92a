#include "server/lazy_free.h"

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <string_view>
#include <thread>

namespace shoal::server {
namespace {

TEST_CASE("LazyFree frees what it is given, off the caller's thread") {
  LazyFree lazy;
  for (int i = 0; i < 10; ++i) lazy.Free(std::string(1 << 20, 'x'));
  lazy.WaitIdle();
  CHECK(lazy.pending() == 0);
  CHECK(lazy.freed() == 10);
}

TEST_CASE("LazyFree frees what is still queued when destroyed") {
  auto lazy = std::make_unique<LazyFree>();
  for (int i = 0; i < 100; ++i) lazy->Free(std::string(1 << 16, 'x'));
  lazy.reset();  // joins after freeing the rest (ASan would report a leak)
}

TEST_CASE("a pinned buffer is parked when freed, and freed once its last pin goes") {
  LazyFree lazy;
  std::string value(2 << 20, 'v');
  const std::string_view inside = std::string_view(value).substr(100, 1 << 20);
  auto pin1 = lazy.Pin(inside);
  auto pin2 = lazy.Pin(inside);
  lazy.Free(std::move(value));  // the store lets go of it: parked
  lazy.WaitIdle();
  CHECK(lazy.pending() == 1);
  CHECK(lazy.freed() == 0);
  CHECK(inside[0] == 'v');  // still readable
  pin1.reset();
  CHECK(lazy.pending() == 1);
  // The last pin may go on another thread (the log writer's).
  std::thread([p = std::move(pin2)]() mutable { p.reset(); }).join();
  lazy.WaitIdle();
  CHECK(lazy.pending() == 0);
  CHECK(lazy.freed() == 1);
}

TEST_CASE("a pin keeps only the buffer it lies in") {
  LazyFree lazy;
  std::string pinned(2 << 20, 'a'), other(2 << 20, 'b');
  auto pin = lazy.Pin(pinned);
  lazy.Free(std::move(other));
  lazy.WaitIdle();
  CHECK(lazy.freed() == 1);
  CHECK(lazy.pending() == 0);
  lazy.Free(std::move(pinned));
  CHECK(lazy.pending() == 1);
  pin.reset();
  lazy.WaitIdle();
  CHECK(lazy.freed() == 2);
}

}  // namespace
}  // namespace shoal::server
