// guarded(): runs the body of a libuv or llhttp callback, or a call from one
// into code that may throw, so that no exception crosses back into the C
// library (unwinding through it is undefined, and in practice ends the
// process). What escapes is logged with the callback's name
// and dropped; callers keep their state consistent before calling code that
// may throw (allocation, JSON), so dropping is safe.
//
// Dropped alternative: marking every callback noexcept. An escaping exception
// would then terminate the process, which is the thing to avoid.
#pragma once

#include <exception>
#include <utility>

#include "common/log.h"

namespace sprites {

// True when `body` returned normally, false when it threw (and was logged).
template <class Body>
bool guarded(const char* where, Body&& body) noexcept {
  try {
    std::forward<Body>(body)();
    return true;
  } catch (const std::exception& e) {
    LOG_ERROR("%s: %s", where, e.what());
  } catch (...) {
    LOG_ERROR("%s: an exception of unknown type", where);
  }
  return false;
}

}  // namespace sprites
