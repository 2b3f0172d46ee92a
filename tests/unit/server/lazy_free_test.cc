#include "server/lazy_free.h"

#include <doctest/doctest.h>

#include <memory>
#include <string>

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

}  // namespace
}  // namespace shoal::server
