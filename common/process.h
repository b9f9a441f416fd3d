// Process: the skeleton the master and the worker share, so that each main
// only builds its parts and says what a stop means.
//
//  - logging set up from the options under the process's role, SIGPIPE
//    ignored (a peer that went away is an error code, not a death);
//  - the loop (libuv's default loop), run until nothing is left on it and
//    then closed;
//  - stop signals delivered on the loop as one callback: the first one calls
//    it, and from then on further stop signals are ignored (Ctrl-C reaches
//    every process of the group and the supervisor then sends its own
//    SIGTERM: a stop already under way must not be cut short);
//  - a listening TCP port taken over from the supervisor (--master-fd,
//    --worker-fd) or bound here, with a log line that says why it failed,
//    and the HTTP limits its listener takes from the options.
//
// Dropped alternative: a base class each program derives its parts from. The
// parts differ (a relay and links in one, an intake in the other); what they
// share is this sequence of steps, which composes without inheritance.
#pragma once

#include <uv.h>

#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "common/http_listener.h"
#include "common/options.h"
#include "common/uv_handle.h"

namespace sprites {

class Process {
 public:
  Process(const std::string& role, const Options& options);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  uv_loop_t* loop() const { return loop_; }

  // Calls `on_stop(signum)` on the loop for the first of `signals` that
  // arrives; the rest are ignored from then on.
  void on_stop_signals(std::initializer_list<int> signals, std::function<void(int)> on_stop);

  // Takes over the inherited listening socket `fd`, or binds host:port.
  // False, with a log line naming `what`, on failure.
  static bool listen(http::HttpListener& listener, int fd, const std::string& host, uint16_t port, bool reuseport,
                     const char* what);
  // The HTTP limits both ports take from the options.
  static http::HttpLimits http_limits(const Options& options);

  // Runs the loop until nothing is left on it.
  void run();
  // After the parts are gone: runs their close callbacks and closes the
  // loop (a handle left open is logged).
  void finish();

 private:
  static void on_signal(uv_signal_t* handle, int signum);

  uv_loop_t* loop_;
  std::vector<UvHandle<uv_signal_t>> signals_;
  std::vector<int> signal_numbers_;
  std::function<void(int)> on_stop_;
  bool stopping_ = false;
};

}  // namespace sprites
