// sprites-worker: parses options, builds the throw intake and the master link,
// runs the loop (the process skeleton is common/process.h).
//
// On SIGTERM/SIGINT the worker stops accepting, lets throws already forwarded
// get their answer from the master (bounded by a grace period), then closes.
// On SIGHUP (the supervisor's planned restart) it loads its TLS certificate
// and key again: new connections get the new ones, open ones keep theirs, and
// files that no longer load leave the old ones in use (logged).
#include <signal.h>
#include <unistd.h>

#include <string>

#include "common/callback_guard.h"
#include "common/http_listener.h"
#include "common/log.h"
#include "common/options.h"
#include "common/process.h"
#include "common/uv_handle.h"
#include "worker/master_link.h"
#include "worker/throw_intake.h"

using namespace sprites;

namespace {

constexpr uint64_t kStopGraceMs = 5000;
constexpr uint64_t kDrainCheckMs = 20;

worker::MasterLink::Config link_config(const Options& options) {
  worker::MasterLink::Config config;
  config.path = options.ipc_path;
  config.max_body_bytes = options.max_body_bytes;
  config.master_timeout_ms = options.master_timeout_ms;
  return config;
}

// The parts, in the order they depend on each other (destroyed in reverse).
struct Worker {
  Worker(uv_loop_t* worker_loop, const Options& options)
      : loop(worker_loop),
        link(loop, link_config(options),
             [this](const worker::MasterLink::Waiter& waiter, uint16_t status, std::string_view body) {
               intake.on_result(waiter, status, body);
             },
             nullptr),
        intake(link, options.max_body_bytes),
        listener(loop, intake, Process::http_limits(options)),
        drain(make_timer(loop, this)),
        tls_cert(options.tls_cert),
        tls_key(options.tls_key) {
    intake.attach(listener);
    listener.set_tls(options.tls);
    if (options.tls) {
      reload = UvHandle<uv_signal_t>::allocate();
      uv_signal_init(loop, reload.get());
      reload->data = this;
      uv_signal_start(reload.get(), on_reload, SIGHUP);
      uv_unref(reload.handle());  // never what keeps the loop running
    }
    link.set_figures([this] {
      ipc::FiguresMessage f;
      f.connections = static_cast<uint32_t>(listener.connection_count());
      f.throws = intake.throws();
      return f;
    });
  }

  // The first stop signal: no new connections; throws in flight get their
  // answers (for at most kStopGraceMs), then everything closes.
  void stop(const char* why) {
    LOG_INFO("%s: finishing %zu throws in flight and stopping", why, link.in_flight());
    listener.stop_accepting();
    stop_started = uv_now(loop);
    uv_timer_start(drain.get(), on_drain, 0, kDrainCheckMs);
  }

  static void on_reload(uv_signal_t* handle, int) {
    guarded("worker: TLS reload", [handle] {
      auto* w = static_cast<Worker*>(handle->data);
      std::string why;
      std::shared_ptr<tls::TlsContext> context = tls::TlsContext::server(w->tls_cert, w->tls_key, why);
      if (!context) {
        LOG_ERROR("SIGHUP: TLS certificate not reloaded, the one loaded before stays in use: %s", why.c_str());
        return;
      }
      w->listener.set_tls(std::move(context));
      LOG_INFO("SIGHUP: TLS certificate %s reloaded for new connections", w->tls_cert.c_str());
    });
  }

  static void on_drain(uv_timer_t* t) {
    guarded("worker: stop drain", [t] {
      auto* w = static_cast<Worker*>(t->data);
      if (w->link.in_flight() > 0 && uv_now(w->loop) - w->stop_started < kStopGraceMs) return;
      w->drain.close();
      w->reload.close();
      w->link.close();  // answers anything left with 503
      w->listener.close();
    });
  }

  uv_loop_t* loop;
  worker::MasterLink link;
  worker::ThrowIntake intake;
  http::HttpListener listener;
  UvHandle<uv_timer_t> drain;
  std::string tls_cert;
  std::string tls_key;
  UvHandle<uv_signal_t> reload;  // SIGHUP, with TLS only
  uint64_t stop_started = 0;
};

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (int rc = parse_options(argc, argv, "sprites-worker", options); rc >= 0) return rc;
  Process process("worker " + std::to_string(::getpid()), options);
  int status = 0;
  {
    Worker w(process.loop(), options);
    if (!Process::listen(w.listener, options.worker_fd, options.host, options.worker_port, true, "worker port")) {
      status = 1;
    } else {
      process.on_stop_signals({SIGTERM, SIGINT},
                              [&w](int signum) { w.stop(signum == SIGTERM ? "SIGTERM" : "SIGINT"); });
      w.link.start();
      LOG_INFO("serving throws on port %u%s, master at %s", w.listener.port(), options.tls ? " (TLS)" : "",
               options.ipc_path.c_str());
      process.run();
    }
  }  // the parts close, last made first
  process.finish();
  LOG_INFO("stopped");
  return status;
}
