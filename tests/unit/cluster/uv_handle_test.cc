// UvHandle on a real loop. Run under ASan (make sanitize) these also prove
// the memory contract: a handle freed before its close callback is a
// use-after-free, and one never freed is a leak. libuv itself is not
// instrumented, so the tests read the handle's fields from here, after the
// close started, where ASan sees the read.
#include "facade/uv_handle.h"

#include <doctest/doctest.h>
#include <uv.h>

#include <utility>

namespace shoal::facade {
namespace {

// A loop that runs until no handle is left, then must close cleanly.
class Loop {
 public:
  Loop() { REQUIRE(uv_loop_init(&loop_) == 0); }
  ~Loop() {
    Drain();
    CHECK(uv_loop_close(&loop_) == 0);  // UV_EBUSY: a handle was never closed
  }
  uv_loop_t* get() { return &loop_; }
  // Runs until nothing is active or closing; bounded, for a failing test.
  void Drain() {
    for (int i = 0; i < 1000 && uv_run(&loop_, UV_RUN_NOWAIT) != 0; ++i) {
    }
  }

 private:
  uv_loop_t loop_;
};

int closed_calls = 0;
void CountClosed(void* data) noexcept {
  ++closed_calls;
  ++*static_cast<int*>(data);
}

TEST_CASE("UvHandle: Init registers the handle; destruction closes it, freeing in the callback") {
  Loop loop;
  int closed = 0;
  uv_timer_t* raw = nullptr;
  {
    UvHandle<uv_timer_t> timer;
    CHECK_FALSE(timer);
    CHECK(timer.get() == nullptr);
    REQUIRE(timer.Init(loop.get(), &closed) == 0);
    REQUIRE(timer);
    raw = timer.get();
    CHECK(raw->data == &closed);
    CHECK(timer.handle() == reinterpret_cast<uv_handle_t*>(raw));
    CHECK(uv_timer_start(
              timer.get(), [](uv_timer_t*) noexcept {}, 60'000, 0) == 0);
    CHECK(uv_is_active(timer.handle()));
  }
  // Closed, not yet freed: libuv still holds the memory (ASan: no use-after-free here).
  CHECK(raw->data == &closed);
  CHECK(uv_is_closing(reinterpret_cast<uv_handle_t*>(raw)));
  CHECK_FALSE(uv_is_active(reinterpret_cast<uv_handle_t*>(raw)));
  loop.Drain();
}

TEST_CASE("UvHandle: reset closes, and on_closed runs only from the close callback") {
  Loop loop;
  int closed = 0;
  closed_calls = 0;
  UvHandle<uv_idle_t> idle;
  REQUIRE(idle.Init(loop.get(), &closed) == 0);
  uv_idle_t* raw = idle.get();
  idle.reset(&CountClosed);
  CHECK_FALSE(idle);
  CHECK(raw->data == &closed);
  CHECK(uv_is_closing(reinterpret_cast<uv_handle_t*>(raw)));
  CHECK(closed == 0);  // not before the loop ran the close callback
  loop.Drain();
  CHECK(closed == 1);
  CHECK(closed_calls == 1);
  idle.reset(&CountClosed);  // empty: nothing happens
  loop.Drain();
  CHECK(closed_calls == 1);
}

TEST_CASE("UvHandle: moving transfers ownership; assigning over a live handle closes it") {
  Loop loop;
  int a_closed = 0;
  int b_closed = 0;
  closed_calls = 0;
  UvHandle<uv_check_t> a;
  REQUIRE(a.Init(loop.get(), &a_closed) == 0);
  uv_check_t* a_raw = a.get();

  UvHandle<uv_check_t> moved(std::move(a));
  CHECK_FALSE(a);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  CHECK(moved.get() == a_raw);
  a.reset(&CountClosed);  // empty: closes nothing

  UvHandle<uv_check_t> b;
  REQUIRE(b.Init(loop.get(), &b_closed) == 0);
  uv_check_t* b_raw = b.get();
  b = std::move(moved);  // closes b's own handle
  CHECK(b.get() == a_raw);
  CHECK(b_raw->data == &b_closed);
  CHECK(uv_is_closing(reinterpret_cast<uv_handle_t*>(b_raw)));
  CHECK_FALSE(uv_is_closing(reinterpret_cast<uv_handle_t*>(a_raw)));
  loop.Drain();
  CHECK(closed_calls == 0);

  b.reset(&CountClosed);
  loop.Drain();
  CHECK(a_closed == 1);
  CHECK(b_closed == 0);
}

TEST_CASE("UvHandle: a handle can be closed inside its own callback") {
  Loop loop;
  struct Owner {
    UvHandle<uv_timer_t> timer;
    int fired = 0;
    bool closing_seen = false;
  } owner;
  REQUIRE(owner.timer.Init(loop.get(), &owner) == 0);
  REQUIRE(uv_timer_start(
              owner.timer.get(),
              [](uv_timer_t* t) noexcept {
                auto* o = static_cast<Owner*>(t->data);
                ++o->fired;
                o->timer.reset();
                // Still valid memory here: freed only in the close callback.
                o->closing_seen =
                    t->data == o && uv_is_closing(reinterpret_cast<uv_handle_t*>(t)) != 0;
              },
              0, 1) == 0);  // repeating: only the close stops it
  loop.Drain();
  CHECK(owner.fired == 1);
  CHECK(owner.closing_seen);
  CHECK_FALSE(owner.timer);
}

TEST_CASE("UvHandle: a failed Init returns libuv's error and holds nothing") {
  Loop loop;
  UvHandle<uv_tcp_t> tcp;
  // uv_tcp_init_ex refuses flags beyond the address family before touching the loop.
  CHECK(tcp.Init(loop.get(), nullptr, 0x100u) == UV_EINVAL);
  CHECK_FALSE(tcp);
  REQUIRE(tcp.Init(loop.get(), nullptr) == 0);
  CHECK(tcp);
  // A second Init closes the first handle.
  uv_tcp_t* first = tcp.get();
  REQUIRE(tcp.Init(loop.get(), nullptr, static_cast<unsigned>(AF_UNSPEC)) == 0);
  CHECK(first->data == nullptr);
  CHECK(uv_is_closing(reinterpret_cast<uv_handle_t*>(first)));
  CHECK(tcp.get() != first);
}

}  // namespace
}  // namespace shoal::facade
