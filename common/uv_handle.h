// UvHandle: the owner of one libuv handle. libuv's rule (docs/src/design.rst)
// is that a handle's memory may be freed only in its close callback, after
// uv_close; so the handle lives on the heap, the owner's destructor (or
// close()) calls uv_close, and the close callback deletes it. The owner may
// go away at once: nothing of it is touched after uv_close returns, as long as
// the handle's other callbacks cannot run any more (a closing handle's
// callbacks do not, except a cancelled write's on a stream, which the owner
// of the write request must allow for).
//
// A loop still runs the close callbacks of handles whose owners are gone: the
// process runs its loop once more after tearing its parts down, then closes
// it.
//
// Dropped alternative: handles as plain members of their owner. Freeing the
// owner would free a handle libuv still holds until its close callback, which
// is why every owner had to be closed, and its loop run, before it could be
// destroyed.
#pragma once

#include <uv.h>

#include <utility>

namespace sprites {

template <typename T>
class UvHandle {
 public:
  UvHandle() = default;
  // Allocates the handle; the caller initialises it on a loop at once
  // (uv_timer_init(loop, get()), ...), which every close relies on, and sets
  // its data after the init.
  static UvHandle allocate() {
    UvHandle h;
    h.handle_ = new T{};
    return h;
  }
  ~UvHandle() { close(); }
  UvHandle(UvHandle&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  UvHandle& operator=(UvHandle&& other) noexcept {
    if (this != &other) {
      close();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  UvHandle(const UvHandle&) = delete;
  UvHandle& operator=(const UvHandle&) = delete;

  T* get() const { return handle_; }
  T* operator->() const { return handle_; }
  explicit operator bool() const { return handle_ != nullptr; }
  uv_handle_t* handle() const { return reinterpret_cast<uv_handle_t*>(handle_); }
  uv_stream_t* stream() const { return reinterpret_cast<uv_stream_t*>(handle_); }

  // Starts closing the handle (its memory is freed in the close callback).
  // Idempotent; afterwards the owner holds nothing.
  void close() {
    if (!handle_) return;
    uv_close(handle(), [](uv_handle_t* h) { delete reinterpret_cast<T*>(h); });
    handle_ = nullptr;
  }

  // Hands the handle over, unclosed (to another owner, e.g. a Channel).
  T* release() { return std::exchange(handle_, nullptr); }

 private:
  T* handle_ = nullptr;
};

// A timer initialised on `loop`, with `data` for its callback.
inline UvHandle<uv_timer_t> make_timer(uv_loop_t* loop, void* data) {
  auto t = UvHandle<uv_timer_t>::allocate();
  uv_timer_init(loop, t.get());
  t->data = data;
  return t;
}

// An idle handle initialised on `loop`, with `data` for its callback.
inline UvHandle<uv_idle_t> make_idle(uv_loop_t* loop, void* data) {
  auto i = UvHandle<uv_idle_t>::allocate();
  uv_idle_init(loop, i.get());
  i->data = data;
  return i;
}

// A pipe initialised on `loop` (not for passing handles), with `data`.
inline UvHandle<uv_pipe_t> make_pipe(uv_loop_t* loop, void* data) {
  auto p = UvHandle<uv_pipe_t>::allocate();
  uv_pipe_init(loop, p.get(), 0);
  p->data = data;
  return p;
}

}  // namespace sprites
