// See process.h.
#include "common/process.h"

#include <signal.h>

#include "common/callback_guard.h"
#include "common/log.h"

namespace sprites {

Process::Process(const std::string& role, const Options& options) : loop_(uv_default_loop()) {
  log::Level level = log::Level::Info;
  log::parse_level(options.log_level, level);
  log::Format format = log::Format::Text;
  log::parse_format(options.log_format, format);
  log::init(role, level, format);
  ::signal(SIGPIPE, SIG_IGN);
}

Process::~Process() = default;

void Process::on_stop_signals(std::initializer_list<int> signals, std::function<void(int)> on_stop) {
  on_stop_ = std::move(on_stop);
  for (int signum : signals) {
    auto handle = UvHandle<uv_signal_t>::allocate();
    uv_signal_init(loop_, handle.get());
    handle->data = this;
    uv_signal_start(handle.get(), &Process::on_signal, signum);
    signals_.push_back(std::move(handle));
    signal_numbers_.push_back(signum);
  }
}

void Process::on_signal(uv_signal_t* handle, int signum) {
  auto* self = static_cast<Process*>(handle->data);
  if (self->stopping_) return;
  self->stopping_ = true;
  // Closing the handles (so the loop may end once the stop is done) gives the
  // signals their default action back, which would let the next one kill the
  // stop: ignore them from then on. In this order: libuv restores the default
  // as it closes the last handle of a signal.
  self->signals_.clear();
  for (int s : self->signal_numbers_) ::signal(s, SIG_IGN);
  guarded("stop signal", [&] {
    if (self->on_stop_) self->on_stop_(signum);
  });
}

bool Process::listen(http::HttpListener& listener, int fd, const std::string& host, uint16_t port, bool reuseport,
                     const char* what) {
  const int rc = fd >= 0 ? listener.adopt(fd) : listener.bind(host, port, reuseport);
  if (rc == 0) return true;
  LOG_ERROR("cannot listen on the %s %s:%u: %s", what, host.c_str(), port, uv_strerror(rc));
  return false;
}

http::HttpLimits Process::http_limits(const Options& options) {
  http::HttpLimits limits;
  limits.max_body_bytes = options.max_body_bytes;
  limits.request_timeout_ms = options.request_timeout_ms;
  limits.idle_timeout_ms = options.idle_timeout_ms;
  return limits;
}

void Process::run() { uv_run(loop_, UV_RUN_DEFAULT); }

void Process::finish() {
  signals_.clear();
  uv_run(loop_, UV_RUN_DEFAULT);
  if (uv_loop_close(loop_) != 0) LOG_WARN("loop closed with handles still open");
}

}  // namespace sprites
