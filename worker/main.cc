// sprites-worker: parses options, builds the throw intake and the master link,
// runs the loop.
//
// On SIGTERM/SIGINT the worker stops accepting, lets throws already forwarded
// get their answer from the master (bounded by a grace timer), then closes.
#include <signal.h>
#include <unistd.h>

#include <memory>

#include "common/http_listener.h"
#include "common/log.h"
#include "common/options.h"
#include "worker/master_link.h"
#include "worker/throw_intake.h"

using namespace sprites;

namespace {

constexpr uint64_t kStopGraceMs = 5000;

struct Worker {
  uv_loop_t* loop = nullptr;
  std::unique_ptr<worker::MasterLink> link;
  std::unique_ptr<worker::ThrowIntake> intake;
  std::unique_ptr<http::HttpListener> listener;
  uv_signal_t sigterm{};
  uv_signal_t sigint{};
  uv_timer_t drain{};
  uint64_t stop_started = 0;
  bool stopping = false;

  void stop(const char* why) {
    if (stopping) return;
    stopping = true;
    LOG_INFO("%s: finishing %zu throws in flight and stopping", why, link->in_flight());
    listener->stop_accepting();
    uv_close(reinterpret_cast<uv_handle_t*>(&sigterm), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&sigint), nullptr);
    // Closing the handles restores the default action, which would let the
    // next stop signal kill the drain: Ctrl-C at a terminal sends SIGINT to
    // the whole process group, and the supervisor then sends SIGTERM.
    ::signal(SIGTERM, SIG_IGN);
    ::signal(SIGINT, SIG_IGN);
    stop_started = uv_now(loop);
    uv_timer_start(&drain, on_drain, 0, 20);
  }

  static void on_drain(uv_timer_t* t) {
    auto* w = static_cast<Worker*>(t->data);
    if (w->link->in_flight() > 0 && uv_now(w->loop) - w->stop_started < kStopGraceMs) return;
    uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
    w->link->close();  // answers anything left with 503
    w->listener->close();
  }
};

void on_signal(uv_signal_t* handle, int signum) {
  static_cast<Worker*>(handle->data)->stop(signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (int rc = parse_options(argc, argv, "sprites-worker", options); rc >= 0) return rc;
  log::Level level = log::Level::Info;
  log::parse_level(options.log_level, level);
  log::init("worker " + std::to_string(::getpid()), level);
  ::signal(SIGPIPE, SIG_IGN);

  Worker w;
  w.loop = uv_default_loop();
  worker::MasterLink::Config link_config;
  link_config.path = options.ipc_path;
  link_config.max_body_bytes = options.max_body_bytes;
  link_config.master_timeout_ms = options.master_timeout_ms;
  w.link = std::make_unique<worker::MasterLink>(
      w.loop, std::move(link_config),
      [&w](const worker::MasterLink::Waiter& waiter, uint16_t status, std::string_view body) {
        w.intake->on_result(waiter, status, body);
      },
      nullptr);
  w.intake = std::make_unique<worker::ThrowIntake>(*w.link, options.max_body_bytes);
  http::HttpLimits limits;
  limits.max_body_bytes = options.max_body_bytes;
  limits.request_timeout_ms = options.request_timeout_ms;
  limits.idle_timeout_ms = options.idle_timeout_ms;
  w.listener = std::make_unique<http::HttpListener>(w.loop, *w.intake, limits);
  w.intake->attach(*w.listener);

  int rc = options.worker_fd >= 0 ? w.listener->adopt(options.worker_fd)
                                  : w.listener->bind(options.host, options.worker_port, /*reuseport=*/true);
  if (rc != 0) {
    LOG_ERROR("cannot listen on the worker port %s:%u: %s", options.host.c_str(), options.worker_port, uv_strerror(rc));
    return 1;
  }
  uv_signal_init(w.loop, &w.sigterm);
  uv_signal_init(w.loop, &w.sigint);
  uv_timer_init(w.loop, &w.drain);
  w.sigterm.data = w.sigint.data = w.drain.data = &w;
  uv_signal_start(&w.sigterm, on_signal, SIGTERM);
  uv_signal_start(&w.sigint, on_signal, SIGINT);
  w.link->start();
  LOG_INFO("serving throws on port %u, master at %s", w.listener->port(), options.ipc_path.c_str());

  uv_run(w.loop, UV_RUN_DEFAULT);
  w.listener.reset();
  w.intake.reset();
  w.link.reset();
  if (uv_loop_close(w.loop) != 0) LOG_WARN("loop closed with handles still open");
  LOG_INFO("stopped");
  return 0;
}
