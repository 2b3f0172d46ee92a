// UvHandle<T>: the one owner of a libuv handle (uv_timer_t, uv_check_t,
// uv_idle_t, uv_tcp_t, ...), after CMake's Source/cmUVHandlePtr.h.
//
// libuv keeps using a handle's memory after uv_close() until the close
// callback, a later loop phase, so the memory cannot die with its owner.
// UvHandle allocates it on the heap; reset() and the destructor start
// uv_close with a callback that frees it. Requests pending on the handle
// (a connect, a write) are cancelled by libuv and call back, with
// UV_ECANCELED, before that close callback.
//
// Contract:
// - Move-only; a moved-from UvHandle is empty.
// - The loop must outlive the owner and keep running after reset() or the
//   destructor until the close callback ran (uv_run until it returns 0, as
//   any libuv program does before uv_loop_close).
// - Nobody else calls uv_close on the handle.
// - Safe to reset() or destroy from inside the handle's own callbacks: the
//   memory stays valid until the close callback.
// - Loop thread only, like libuv itself.
//
// Header-only, and includes nothing of server/ or cluster/.
#pragma once

#include <uv.h>

#include <cassert>
#include <cstddef>
#include <type_traits>
#include <utility>

namespace shoal::facade {

// Runs from the close callback, after the handle's memory was freed, with
// the handle's `data` pointer: for an owner whose own lifetime must reach
// past the handle's (see UvHandle::reset).
using UvClosedFn = void (*)(void* data) noexcept;

namespace uv_handle_detail {

// The uv_*_init call for each handle type; extra arguments are those of
// the libuv function after the handle (uv_tcp_init_ex's flags, ...).
inline int InitHandle(uv_loop_t* loop, uv_timer_t* h) {
  return uv_timer_init(loop, h);
}
inline int InitHandle(uv_loop_t* loop, uv_check_t* h) {
  return uv_check_init(loop, h);
}
inline int InitHandle(uv_loop_t* loop, uv_idle_t* h) {
  return uv_idle_init(loop, h);
}
inline int InitHandle(uv_loop_t* loop, uv_prepare_t* h) {
  return uv_prepare_init(loop, h);
}
inline int InitHandle(uv_loop_t* loop, uv_tcp_t* h) {
  return uv_tcp_init(loop, h);
}
inline int InitHandle(uv_loop_t* loop, uv_tcp_t* h, unsigned int flags) {
  return uv_tcp_init_ex(loop, h, flags);
}
inline int InitHandle(uv_loop_t* loop, uv_pipe_t* h, int ipc) {
  return uv_pipe_init(loop, h, ipc);
}
inline int InitHandle(uv_loop_t* loop, uv_async_t* h, uv_async_cb cb) {
  return uv_async_init(loop, h, cb);
}
inline int InitHandle(uv_loop_t* loop, uv_signal_t* h) {
  return uv_signal_init(loop, h);
}

}  // namespace uv_handle_detail

template <typename T>
class UvHandle {
 public:
  UvHandle() = default;
  ~UvHandle() { reset(); }

  UvHandle(UvHandle&& other) noexcept : block_(std::exchange(other.block_, nullptr)) {}
  UvHandle& operator=(UvHandle&& other) noexcept {
    if (this != &other) {
      reset();
      block_ = std::exchange(other.block_, nullptr);
    }
    return *this;
  }
  UvHandle(const UvHandle&) = delete;
  UvHandle& operator=(const UvHandle&) = delete;

  // Closes any handle held, then allocates and initializes a new one on
  // `loop` with the matching uv_*_init (`args` follow the handle in that
  // call), its `data` set to `data`. Returns that call's result: 0, or a
  // libuv error code, in which case nothing is held (libuv registers the
  // handle only once its init succeeds, so the memory is freed at once).
  template <typename... Args>
  [[nodiscard]] int Init(uv_loop_t* loop, void* data, Args&&... args) {
    reset();
    auto* block = new Block;
    const int rc = uv_handle_detail::InitHandle(loop, &block->handle, std::forward<Args>(args)...);
    if (rc != 0) {
      delete block;
      return rc;
    }
    block->handle.data = data;
    block_ = block;
    return 0;
  }

  // Closes the handle (uv_close) if one is held and leaves this empty; the
  // memory is freed in the close callback, and then `on_closed`, if given,
  // runs with the handle's data pointer. Stop calls are not needed first:
  // uv_close stops the handle.
  void reset(UvClosedFn on_closed = nullptr) noexcept {
    Block* block = std::exchange(block_, nullptr);
    if (block == nullptr) return;
    assert(!uv_is_closing(AsHandle(&block->handle)));  // closed by us alone
    block->on_closed = on_closed;
    uv_close(AsHandle(&block->handle), &UvHandle::OnClose);
  }

  // The handle, or nullptr when empty. Borrowed: valid while this owns it.
  T* get() const noexcept { return block_ != nullptr ? &block_->handle : nullptr; }
  T* operator->() const noexcept {
    assert(block_ != nullptr);
    return &block_->handle;
  }
  explicit operator bool() const noexcept { return block_ != nullptr; }
  // The handle as uv_handle_t*, for uv_ref, uv_unref, uv_is_active, ...
  uv_handle_t* handle() const noexcept {
    return block_ != nullptr ? AsHandle(&block_->handle) : nullptr;
  }

 private:
  // Standard layout with the handle first, so the uv_handle_t* the close
  // callback receives converts back to the Block.
  struct Block {
    T handle;
    UvClosedFn on_closed = nullptr;
  };
  static_assert(std::is_standard_layout_v<Block>);
  static_assert(offsetof(Block, handle) == 0);

  static uv_handle_t* AsHandle(T* h) noexcept { return reinterpret_cast<uv_handle_t*>(h); }

  static void OnClose(uv_handle_t* h) noexcept {
    auto* block = reinterpret_cast<Block*>(h);
    const UvClosedFn on_closed = block->on_closed;
    void* data = block->handle.data;
    delete block;
    if (on_closed != nullptr) on_closed(data);
  }

  Block* block_ = nullptr;
};

}  // namespace shoal::facade
